"""Who is running: the Airflow run, its settings and its sync store, and the run's row in ``sync_run``.

Shared by every step of every flow (the sync, the payments back, the sweep); it imports nothing of
theirs, so they all depend on it and it on none of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from lago_netsuite.ledger import schema
from lago_netsuite.ledger.runtime import store_engine
from lago_netsuite.settings import SyncSettings


@dataclass(frozen=True)
class RunContext:
    """Who is running: the Airflow run and its settings."""

    run_id: str
    dag_id: str
    settings: SyncSettings
    store_url: str | None = None

    @property
    def engine(self) -> sa.engine.Engine:
        return store_engine(self.store_url)


def record_run(ctx: RunContext, **fields: Any) -> None:
    """Create or update this run's row in ``sync_run``."""
    from lago_netsuite.ledger.upsert import utcnow

    t = schema.sync_run
    with ctx.engine.begin() as conn:
        exists = conn.execute(sa.select(t.c.run_id).where(t.c.run_id == ctx.run_id)).first()
        if exists:
            if fields:
                conn.execute(t.update().where(t.c.run_id == ctx.run_id).values(**fields))
        else:
            conn.execute(t.insert().values(run_id=ctx.run_id, dag_id=ctx.dag_id, started_at=utcnow(), **fields))

"""The producer of the daily reconciliation DAG: the sweep and the sync's own transform; then its lanes and report."""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import task

from lago_netsuite.orchestration.dag_support import LAGO_CONN_ID, fail_fast
from lago_netsuite.orchestration.dag_tasks import PRODUCER_TASK_ID


@task(task_id=PRODUCER_TASK_ID, priority_weight=100)  # the lanes and the report know the producer by this id
def sweep(**context: Any) -> dict[str, Any]:
    """Compare everything synced within ``reconcile_horizon_days`` (default 90) with Lago; transform what differs."""
    from lago_netsuite.extract.sweep import DEFAULT_HORIZON_DAYS
    from lago_netsuite.extract.sweep import sweep as run_sweep
    from lago_netsuite.hooks.lago import LagoHook
    from lago_netsuite.orchestration import steps as pipeline
    from lago_netsuite.orchestration.dag_tasks import run_context

    ctx = run_context(context)
    s = ctx.settings
    horizon = int((context.get("params") or {}).get("horizon_days")
                  or s.extra.get("reconcile_horizon_days") or DEFAULT_HORIZON_DAYS)

    def extraction(_on_slice: Any) -> dict[str, Any]:
        return {"sweep": run_sweep(LagoHook(LAGO_CONN_ID), ctx.engine, today=dt.datetime.now(dt.UTC).date(),
                                   horizon_days=horizon, run_id=ctx.run_id, workers=s.detail_fetch_workers)}

    with fail_fast():
        return pipeline.produce(ctx, extraction)

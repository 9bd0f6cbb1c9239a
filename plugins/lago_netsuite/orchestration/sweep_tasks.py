"""The task of the daily reconciliation DAG: the sweep, then the sync's own transform/load/report."""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import task

from lago_netsuite.orchestration.dag_support import LAGO_CONN_ID, fail_fast


@task(task_id="extract")  # the report task reads the extraction's XCom under this id
def sweep(**context: Any) -> dict[str, Any]:
    """Compare everything synced within ``reconcile_horizon_days`` (default 90) with Lago."""
    from lago_netsuite.context import record_run
    from lago_netsuite.extract.sweep import DEFAULT_HORIZON_DAYS
    from lago_netsuite.extract.sweep import sweep as run_sweep
    from lago_netsuite.hooks.lago import LagoHook
    from lago_netsuite.orchestration.dag_tasks import run_context

    ctx = run_context(context)
    s = ctx.settings
    horizon = int((context.get("params") or {}).get("horizon_days")
                  or s.extra.get("reconcile_horizon_days") or DEFAULT_HORIZON_DAYS)
    with fail_fast():
        record_run(ctx)
        result = run_sweep(LagoHook(LAGO_CONN_ID), ctx.engine, today=dt.datetime.now(dt.UTC).date(),
                           horizon_days=horizon, run_id=ctx.run_id, workers=s.detail_fetch_workers)
    return {"sweep": result}

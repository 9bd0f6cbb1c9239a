"""Daily reconciliation: everything synced in the last 90 days compared with Lago, repaired or reported.

The hourly sync catches the late changes Lago's status filters expose (voids, failed payments,
voided or refunded credit notes). This sweep catches whatever they cannot: it lists the horizon's
invoices, credit notes and payments from Lago, stores again every synced document Lago now shows
differently — the sync's own transform and load then repair NetSuite (void, update) — and reports
synced documents Lago no longer shows. The horizon is the setting ``reconcile_horizon_days``
(default 90) or this form's ``horizon_days``.
"""

from __future__ import annotations

from airflow.sdk import Param, dag

from lago_netsuite.orchestration.dag_support import DEFAULT_ARGS, START_DATE, TAGS_BASE, on_failure
from lago_netsuite.orchestration.dag_tasks import check_connections, wire_sync
from lago_netsuite.orchestration.sweep_tasks import sweep


@dag(
    dag_id="lago_netsuite_reconcile",
    description="Daily: compare everything synced within the horizon with Lago; repair or report differences",
    schedule="@daily",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    on_failure_callback=on_failure,
    tags=[*TAGS_BASE, "reconciliation", "accounting"],
    doc_md=__doc__,
    params={
        "horizon_days": Param(None, type=["null", "integer"], minimum=1, title="Horizon (days)",
                              description="Compare documents issued this many days back; empty: the setting."),
    },
)
def lago_netsuite_reconcile() -> None:
    wire_sync(check_connections(), sweep())


lago_netsuite_reconcile()

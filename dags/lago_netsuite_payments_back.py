"""NetSuite → Lago, hourly: payments accountants record in NetSuite become manual payments in Lago.

Off by default: set ``"payments_back_enabled": true`` in the ``lago_netsuite_settings`` Variable.
Each run reads the RESTlet's payments listing from its watermark (customer payments and credit
memos applied to invoices that carry a Lago id), sends each application once to Lago
(``POST /payments``, reference ``ns-pay-<payment>-inv-<invoice>``) and reports what went back, what
failed and why, and what the accountant must look at (a payment voided in NetSuite after it reached
Lago: Lago's API has no payment reversal). Trigger it with a date range (▶ with config) to replay
payments changed in that range; the watermark is then left where it is. Payments the forward sync
created in NetSuite are never sent back.
"""

from __future__ import annotations

from airflow.sdk import Param, dag

from lago_netsuite.orchestration.dag_support import DEFAULT_ARGS, START_DATE, TAGS_BASE, on_failure
from lago_netsuite.orchestration.dag_tasks import check_connections
from lago_netsuite.orchestration.payments_back_tasks import payments_back


@dag(
    dag_id="lago_netsuite_payments_back",
    description="Hourly (minute 30), off by default: payments recorded in NetSuite become payments in Lago",
    schedule="30 * * * *",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    on_failure_callback=on_failure,
    tags=[*TAGS_BASE, "payments", "hourly"],
    doc_md=__doc__,
    params={
        "start_date": Param(None, type=["null", "string"], format="date", title="Changed from (optional)",
                            description="Replay NetSuite payments changed on or after this date; empty: "
                                        "continue from the last run."),
        "end_date": Param(None, type=["null", "string"], format="date", title="Changed until (optional)",
                          description="Last date of the range (inclusive); empty means now."),
    },
)
def lago_netsuite_payments_back() -> None:
    check_connections() >> payments_back()


lago_netsuite_payments_back()

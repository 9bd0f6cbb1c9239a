"""Retry one document: give its Lago invoice/credit-note number or its Lago id.

It re-reads the document from Lago, rebuilds its NetSuite record (and its customer if needed),
sends it and reports the outcome. A document already in NetSuite is found there, never duplicated.
"""

from __future__ import annotations

from airflow.sdk import Param, dag

from lago_netsuite.orchestration.dag_support import DEFAULT_ARGS, START_DATE, TAGS_BASE, on_failure
from lago_netsuite.orchestration.dag_tasks import check_connections, extract_transform, wire_sync


@dag(
    dag_id="lago_netsuite_retry_document",
    description="Retry one document by its number or Lago id; finds it in NetSuite rather than duplicating it",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    on_failure_callback=on_failure,
    tags=[*TAGS_BASE, "retry", "accounting"],
    doc_md=__doc__,
    params={
        "document": Param(type="string", minLength=1, title="Document number or Lago id",
                          description="e.g. ACME-202611-0042 or the Lago UUID of an invoice, credit note or payment"),
        "retry_failed": Param(True, type="boolean", title="Send again even if it failed before"),
    },
)
def lago_netsuite_retry_document() -> None:
    wire_sync(check_connections(), extract_transform(), streaming=False)


lago_netsuite_retry_document()

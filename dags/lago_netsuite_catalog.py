"""Lago catalog → sync store: plans, taxes, coupons, add-ons, billable metrics, billing entities, customers.

Wiring only; the work is in ``lago_netsuite``. Runs daily (and on demand): it checks both
connections, stores the catalog and customers idempotently, and reports every Lago object that
has no NetSuite mapping (or only a fallback) so gaps are fixed before invoices fail. On success it
updates the ``lago_netsuite_catalog`` asset, which triggers a run of ``lago_netsuite_sync``.
"""

from __future__ import annotations

from airflow.sdk import Asset, dag, task

from lago_netsuite.orchestration.dag_support import (
    CATALOG_ASSET_NAME,
    CATALOG_ASSET_URI,
    DEFAULT_ARGS,
    LAGO_CONN_ID,
    NETSUITE_CONN_ID,
    START_DATE,
    TAGS_BASE,
    fail_fast,
)


@dag(
    dag_id="lago_netsuite_catalog",
    description="Daily: store Lago's catalog and customers, report what has no NetSuite mapping",
    schedule="@daily",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=[*TAGS_BASE, "catalog"],
    doc_md=__doc__,
)
def lago_netsuite_catalog() -> None:
    @task
    def check_connections() -> dict[str, str]:
        """Fail at once, with the connection's name, when a credential is wrong (no retry storm)."""
        from lago_netsuite.hooks.connection_check import check_connections as check

        with fail_fast():
            return check(LAGO_CONN_ID, NETSUITE_CONN_ID)

    @task
    def extract_catalog(**context) -> dict[str, dict[str, int]]:
        """Store every catalog type."""
        from lago_netsuite.extract.catalog import extract_catalog as run
        from lago_netsuite.hooks.lago import LagoHook
        from lago_netsuite.ledger.runtime import store_engine

        with fail_fast():
            return run(LagoHook(LAGO_CONN_ID), store_engine(), run_id=context["run_id"])

    @task
    def extract_customers(**context) -> dict[str, int]:
        """Store every customer with its NetSuite link."""
        from lago_netsuite.extract.catalog import extract_customers as run
        from lago_netsuite.hooks.lago import LagoHook
        from lago_netsuite.ledger.runtime import store_engine

        with fail_fast():
            return run(LagoHook(LAGO_CONN_ID), store_engine(), run_id=context["run_id"])

    @task(outlets=[Asset(name=CATALOG_ASSET_NAME, uri=CATALOG_ASSET_URI)])
    def mapping_coverage(**context) -> dict:
        """Every Lago object without a NetSuite mapping, per billing entity (logged; returned)."""
        from lago_netsuite.orchestration.dag_tasks import run_context
        from lago_netsuite.orchestration.steps import mapping_coverage as coverage

        with fail_fast():
            return coverage(run_context(context))

    checked = check_connections()
    checked >> [extract_catalog(), extract_customers()] >> mapping_coverage()


lago_netsuite_catalog()

"""Airflow plugin: the sync ledger UI, served by Airflow's API server and reached from its navigation.

The FastAPI app (``lago_netsuite.ui.app``) is mounted at ``/lago-netsuite``; an external view adds
"Sync ledger" to the navigation (the page opens inside Airflow's UI at ``/plugin/sync-ledger``)
and a second one adds "Documents" to every DAG run's tabs. Both go through Airflow's auth manager.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from lago_netsuite.ui import URL_PREFIX, LazyApp


class LagoNetSuiteUIPlugin(AirflowPlugin):
    """The sync ledger pages."""

    name = "lago_netsuite_ui"
    fastapi_apps = [{"app": LazyApp(), "url_prefix": URL_PREFIX, "name": "Lago → NetSuite sync ledger"}]
    external_views = [
        {"name": "Sync ledger", "href": f"{URL_PREFIX}/documents", "url_route": "sync-ledger",
         "destination": "nav", "nav_top_level": True},
        {"name": "Documents", "href": f"{URL_PREFIX}/runs/{{RUN_ID}}?dag_id={{DAG_ID}}",
         "url_route": "sync-ledger-run", "destination": "dag_run"},
    ]

"""Links the ledger UI shows: a NetSuite record, a Lago document, a run in Airflow's Grid.

Only the NetSuite account id and Lago's host are read from the connections; no credential, extra
or secret leaves this module.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

log = logging.getLogger(__name__)

#: Where Airflow's API server mounts the UI's app (the plugin file and every link use it).
URL_PREFIX = "/lago-netsuite"
NETSUITE_CONN_ID = "netsuite_default"
LAGO_CONN_ID = "lago_default"

# NetSuite's UI page per record type (transactions share one; customers are entities).
_ENTITY_PAGES = {"customer": "/app/common/entity/custjob.nl"}
_TRANSACTION_PAGE = "/app/accounting/transactions/transaction.nl"
_LAGO_PATHS = {"invoice": "invoices", "creditnote": "credit_notes", "payment": "payments", "customer": "customers"}


def _connection_extra(conn_id: str) -> tuple[str | None, dict[str, Any]]:
    try:
        from airflow.models.connection import Connection

        conn = Connection.get_connection_from_secrets(conn_id)
    except Exception:  # noqa: BLE001 - a missing connection only means no link
        return None, {}
    return conn.host, (conn.extra_dejson if conn.extra else {})


def netsuite_app_host(account_id: str | None) -> str | None:
    """``1234567_SB1`` → ``https://1234567-sb1.app.netsuite.com``."""
    if not account_id:
        return None
    slug = "".join(ch for ch in account_id.lower().replace("_", "-") if ch.isalnum() or ch == "-")
    return f"https://{slug}.app.netsuite.com" if slug else None


def netsuite_record_url(host: str | None, record_type: str | None, netsuite_id: str | None) -> str | None:
    """The record's page in the NetSuite account, or None without an account or an id."""
    if not host or not netsuite_id:
        return None
    page = _ENTITY_PAGES.get(record_type or "", _TRANSACTION_PAGE)
    return f"{host}{page}?id={quote(str(netsuite_id), safe='')}"


def lago_document_url(base: dict[str, str | None], kind: str | None, lago_id: str,
                      customer_lago_id: str | None) -> str | None:
    """Lago's page for the document: its web app when known, else the document in Lago's API."""
    app, api = base.get("app"), base.get("api")
    if app and kind == "invoice" and customer_lago_id:
        return f"{app}/customer/{quote(customer_lago_id)}/invoice/{quote(lago_id)}/overview"
    if app and kind == "customer":
        return f"{app}/customer/{quote(lago_id)}"
    if api and kind in _LAGO_PATHS:
        return f"{api}/{_LAGO_PATHS[kind]}/{quote(lago_id)}"
    return None


def grid_run_url(airflow_root: str, dag_id: str | None, run_id: str | None) -> str | None:
    """The run in Airflow's Grid (``/dags/<dag>/runs/<run>``)."""
    if not dag_id or not run_id:
        return None
    return f"{airflow_root}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"


class LinkContext:
    """What links need from the connections, read once per request (account id and Lago host only)."""

    def __init__(self, netsuite_account_id: str | None = None, lago: dict[str, str | None] | None = None) -> None:
        self.netsuite_host = netsuite_app_host(netsuite_account_id)
        self.lago = lago or {}

    @classmethod
    def from_connections(cls) -> LinkContext:
        _, ns_extra = _connection_extra(NETSUITE_CONN_ID)
        host, lago_extra = _connection_extra(LAGO_CONN_ID)
        api = (host or "").rstrip("/") or None
        if api and not api.startswith(("http://", "https://")):
            api = f"https://{api}"
        app = lago_extra.get("app_url") or (
            "https://app.getlago.com" if api and "api.getlago.com" in api else None)
        return cls(ns_extra.get("account_id"), {"api": api, "app": str(app).rstrip("/") if app else None})

"""Connection checks run at the start of a DAG: fail fast, once, with the connection's name."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

# A look-up of an id that never exists: proves auth, script and deployment with no side effect.
PROBE_EXTERNAL_ID = "lago-connection-check"


def check_connections(lago_conn_id: str, netsuite_conn_id: str) -> dict[str, str]:
    """Make one cheap authenticated call to each system.

    The hooks raise classified errors (``CredentialsError`` for refused credentials, never
    retried; ``ConfigurationError`` for a missing field), each naming the connection.
    """
    from lago_netsuite.hooks.lago import LagoHook
    from lago_netsuite.hooks.netsuite import NetSuiteRestletHook

    entities = LagoHook(lago_conn_id).get("/billing_entities").get("billing_entities") or []
    lago = f"Lago answers ({len(entities)} billing entities)"
    log.info("connection %s: %s", lago_conn_id, lago)
    found = NetSuiteRestletHook(netsuite_conn_id).lookup("customer", [PROBE_EXTERNAL_ID])
    netsuite = f"NetSuite RESTlet answers (probe look-up: {found.get(PROBE_EXTERNAL_ID) or 'missing'})"
    log.info("connection %s: %s", netsuite_conn_id, netsuite)
    return {lago_conn_id: lago, netsuite_conn_id: netsuite}

"""A local NetSuite RESTlet: the contract of docs/restlet-contract.md served over real HTTP.

Tests and the demo point :class:`~lago_netsuite.hooks.netsuite.NetSuiteRestletHook` at it; it
verifies OAuth 1.0a signatures as NetSuite does, applies the account's concurrency and governance
limits, finds-or-creates by externalId, checks every document's totals, keeps what it accepted,
and misbehaves on purpose when told to (``faults.py``). Start it with
``lago_netsuite_dev.sandbox.server.serve_in_thread(create_app(config))``.
"""

from __future__ import annotations

from lago_netsuite_dev.sandbox.netsuite.app import RESTLET_PATH, SandboxState, create_app
from lago_netsuite_dev.sandbox.netsuite.config import (
    CALL_FAULTS,
    RECORD_FAULTS,
    CallFaultRule,
    FaultConfig,
    NetSuiteSandboxConfig,
    RecordFaultRule,
)
from lago_netsuite_dev.sandbox.netsuite.store import StoredRecord

__all__ = [
    "CALL_FAULTS",
    "RECORD_FAULTS",
    "RESTLET_PATH",
    "CallFaultRule",
    "FaultConfig",
    "NetSuiteSandboxConfig",
    "RecordFaultRule",
    "SandboxState",
    "StoredRecord",
    "create_app",
]

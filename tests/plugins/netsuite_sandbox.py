"""Fixtures for the NetSuite RESTlet sandbox: a real server on loopback, signed clients, a connection.

``netsuite_sandbox`` starts a fresh sandbox per test (uvicorn in a thread, ~20 ms);
``netsuite_sandbox_factory(**config)`` starts one with other settings; ``netsuite_connection``
points ``netsuite_default`` (``AIRFLOW_CONN_NETSUITE_DEFAULT``) at the sandbox. The credentials
are fixed 64-character hex strings, like NetSuite's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from fastapi import FastAPI
from requests_oauthlib import OAuth1

from lago_netsuite.money import json_number
from lago_netsuite_dev.sandbox.netsuite import (
    RESTLET_PATH,
    NetSuiteSandboxConfig,
    SandboxState,
    StoredRecord,
    create_app,
)
from lago_netsuite_dev.sandbox.server import RunningServer, serve_in_thread

ACCOUNT_ID = "1234567_SB1"
CREDENTIALS: dict[str, str] = {
    name: hashlib.sha256(f"lago-netsuite-sync test {name}".encode()).hexdigest()
    for name in ("consumer_key", "consumer_secret", "token_id", "token_secret")
}


@dataclass
class NetSuiteSandbox:
    """A running sandbox with helpers to call it (signed) and to read or steer it (admin)."""

    url: str
    config: NetSuiteSandboxConfig
    app: FastAPI
    server: RunningServer
    session: requests.Session = field(default_factory=requests.Session)

    @property
    def state(self) -> SandboxState:
        """The live in-process state (store, stats, current config)."""
        return self.app.state.sandbox

    @property
    def restlet_url(self) -> str:
        """The RESTlet URL without query."""
        return f"{self.url}{RESTLET_PATH}"

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        """Call an admin endpoint and return its JSON (raises for a non-2xx answer)."""
        response = self.session.request(method, f"{self.url}/_sandbox/{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def records(self, record_type: str | None = None) -> list[dict[str, Any]]:
        """Records as ``GET /_sandbox/records`` serves them."""
        suffix = f"records?type={record_type}" if record_type else "records"
        return self.admin("GET", suffix)["records"]

    def stored(self, record_type: str | None = None) -> list[StoredRecord]:
        """Records straight from the store (bodies with their Decimals)."""
        return self.state.store.records(record_type)

    def stats(self) -> dict[str, Any]:
        """``GET /_sandbox/stats``."""
        return self.admin("GET", "stats")

    def configure(self, **update: Any) -> dict[str, Any]:
        """``POST /_sandbox/config`` with a partial update."""
        return self.admin("POST", "config", update)

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        """Replace the fault configuration (``calls``, ``records``, ``rates``, ``seed``, ...)."""
        return self.configure(faults=faults)

    def seed(self, *records: dict[str, Any]) -> list[dict[str, Any]]:
        """``POST /_sandbox/seed``."""
        return self.admin("POST", "seed", {"records": list(records)})["records"]

    def seed_customer(self, record_id: str = "100", external_id: str = "lago-customer-c1") -> None:
        """Seed one customer that documents can reference."""
        self.seed({"type": "customer", "id": record_id, "externalId": external_id})

    def reset(self) -> None:
        """``POST /_sandbox/reset``."""
        self.admin("POST", "reset")

    def auth(self, **overrides: Any) -> OAuth1:
        """A signer with the sandbox's credentials; override any OAuth1 argument to break it."""
        kwargs: dict[str, Any] = {
            "client_key": CREDENTIALS["consumer_key"], "client_secret": CREDENTIALS["consumer_secret"],
            "resource_owner_key": CREDENTIALS["token_id"], "resource_owner_secret": CREDENTIALS["token_secret"],
            "signature_method": "HMAC-SHA256", "realm": self.config.account_id.upper(),
        }
        kwargs.update(overrides)
        return OAuth1(**kwargs)

    def params(self, **extra: str) -> dict[str, str]:
        """Query parameters naming the configured script and deployment."""
        return {"script": self.config.script, "deploy": self.config.deploy, **extra}

    def post(self, body: Any = None, *, raw: bytes | None = None, auth: OAuth1 | None = None,
             params: dict[str, str] | None = None, timeout: float = 10) -> requests.Response:
        """Signed POST of ``body`` (JSON) or ``raw`` bytes to the RESTlet."""
        data = raw if raw is not None else json.dumps(body, default=json_number).encode()
        return self.session.post(
            self.restlet_url, params=params or self.params(), data=data, timeout=timeout,
            headers={"Content-Type": "application/json"}, auth=auth or self.auth(),
        )

    def get(self, query: dict[str, str], *, auth: OAuth1 | None = None, timeout: float = 10) -> requests.Response:
        """Signed GET of the RESTlet with ``query`` added to script/deploy."""
        return self.session.get(self.restlet_url, params=self.params(**query), auth=auth or self.auth(),
                                timeout=timeout)

    def stop(self) -> None:
        """Stop the server and close the client session."""
        self.session.close()
        self.server.stop()


def sandbox_config(**overrides: Any) -> NetSuiteSandboxConfig:
    """A sandbox configuration with the test credentials."""
    return NetSuiteSandboxConfig(account_id=ACCOUNT_ID, **{**CREDENTIALS, **overrides})


def start_netsuite_sandbox(config: NetSuiteSandboxConfig | None = None, **overrides: Any) -> NetSuiteSandbox:
    """Start a sandbox on a free loopback port; the caller stops it."""
    config = config or sandbox_config(**overrides)
    app = create_app(config)
    server = serve_in_thread(app)
    return NetSuiteSandbox(url=server.url, config=config, app=app, server=server)


def netsuite_conn_json(sandbox: NetSuiteSandbox | None = None, **extra: Any) -> str:
    """``AIRFLOW_CONN_NETSUITE_DEFAULT`` JSON for the sandbox (or the default host without one)."""
    extras: dict[str, Any] = {
        "account_id": ACCOUNT_ID, **CREDENTIALS,
        "script": "customscript_lago_netsuite_sync", "deploy": "customdeploy_lago_netsuite_sync",
        "timeout": 10,
    }
    if sandbox is not None:
        extras.update(base_url=sandbox.url, script=sandbox.config.script, deploy=sandbox.config.deploy)
    extras.update(extra)
    return json.dumps({"conn_type": "netsuite", "extra": {k: v for k, v in extras.items() if v is not None}})


def invoice_record(
    external_id: str = "lago-invoice-1",
    *,
    entity: Any = "100",
    amounts: tuple[Any, ...] = (7.5,),
    tax: Any = None,
    tax_override: Any = None,
    currency: str = "1",
    record_type: str = "invoice",
    lago_id: str | None = None,
    item: str = "201",
    **columns: Any,
) -> dict[str, Any]:
    """A contract record for an invoice-like document: one item line per amount, optional tax."""
    lines = [
        {"item": item, "quantity": 1, "rate": amount, "amount": amount, "taxdetailsreference": f"t{n}"}
        for n, amount in enumerate(amounts)
    ]
    record: dict[str, Any] = {
        "externalId": external_id, "action": "create", "type": record_type, "isDynamic": False,
        "columns": {"tranid": external_id.upper(), "entity": entity, "currency": currency,
                    "custbody_lago_id": lago_id or external_id.rsplit("-", 1)[-1], **columns},
        "lines": [{"sublistId": "item", "lineItems": lines}],
        "options": {"ignoreMandatoryFields": False},
    }
    if tax is not None:
        record["taxdetails"] = [{"sublistId": "taxdetails", "lineItems": [
            {"taxdetailsreference": "t0", "taxtype": "1", "taxcode": "5", "taxbasis": amounts[0],
             "taxrate": 20, "taxamount": tax}]}]
    if tax_override is not None:
        record["columns"]["taxamountoverride"] = tax_override
    return record


def payment_record(external_id: str = "lago-payment-1", *, customer: str = "100", payment: Any = 7.5,
                   doc: str = "1001", lago_id: str | None = None, currency: str = "1") -> dict[str, Any]:
    """A contract record for a customer payment applied to one invoice."""
    return {
        "externalId": external_id, "type": "customerpayment",
        "columns": {"customer": customer, "payment": payment, "currency": currency, "trandate": "1/31/2025",
                    "custbody_lago_id": lago_id or external_id.rsplit("-", 1)[-1]},
        "lines": [{"sublistId": "apply", "lineItems": [{"doc": doc, "apply": True, "amount": payment}]}],
    }


def customer_record(external_id: str = "lago-customer-c2", **columns: Any) -> dict[str, Any]:
    """A contract record for a customer."""
    return {"externalId": external_id, "type": "customer",
            "columns": {"entityid": external_id, "companyname": "Acme", "isperson": "F", **columns}}


@pytest.fixture
def netsuite_sandbox_factory() -> Iterator[Callable[..., NetSuiteSandbox]]:
    """Start sandboxes with given config overrides; all are stopped after the test."""
    started: list[NetSuiteSandbox] = []

    def factory(**overrides: Any) -> NetSuiteSandbox:
        sandbox = start_netsuite_sandbox(**overrides)
        started.append(sandbox)
        return sandbox

    yield factory
    for sandbox in started:
        sandbox.stop()


@pytest.fixture
def netsuite_sandbox(netsuite_sandbox_factory: Callable[..., NetSuiteSandbox]) -> NetSuiteSandbox:
    """A fresh sandbox with the default configuration (concurrency 5, no latency, no faults)."""
    return netsuite_sandbox_factory()


@pytest.fixture
def netsuite_connection(netsuite_sandbox: NetSuiteSandbox, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the ``netsuite_default`` connection at ``netsuite_sandbox``; returns the conn id."""
    monkeypatch.setenv("AIRFLOW_CONN_NETSUITE_DEFAULT", netsuite_conn_json(netsuite_sandbox))
    return "netsuite_default"


@pytest.fixture
def connect_netsuite(monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """Point ``netsuite_default`` at a given sandbox, with extra overrides; returns the conn id."""

    def connect(sandbox: NetSuiteSandbox | None = None, **extra: Any) -> str:
        monkeypatch.setenv("AIRFLOW_CONN_NETSUITE_DEFAULT", netsuite_conn_json(sandbox, **extra))
        return "netsuite_default"

    return connect

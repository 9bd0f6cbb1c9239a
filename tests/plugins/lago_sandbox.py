"""Pytest fixtures for the Lago sandbox: a seeded dataset, a running server, a connection to it.

- ``lago_dataset``: a small seeded :class:`LagoDataset` (session-wide; treat it as read-only).
- ``lago_sandbox``: the sandbox serving that dataset over real HTTP on loopback (one server per
  session, reset to its initial documents, configuration and statistics before each test).
- ``lago_connection``: ``AIRFLOW_CONN_LAGO_DEFAULT`` pointing :class:`LagoHook` at the sandbox,
  with fast retries; ``lago_connection.set(**extras)`` changes the extras for one test.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from lago_netsuite_dev.sandbox.lago.app import create_app
from lago_netsuite_dev.sandbox.lago.generator import DatasetSpec, LagoDataset, generate
from lago_netsuite_dev.sandbox.server import RunningServer, serve_in_thread

LAGO_TEST_API_KEY = "lago-sandbox-test-key-0123456789abcdef"
LAGO_TEST_SPEC = DatasetSpec(seed=7, customers=24, invoices=240, start_date="2025-01-01", end_date="2025-03-31")


@dataclass
class LagoSandbox:
    """A running Lago sandbox: ``url`` is the API base URL (with ``/api/v1``), ``root`` the server's."""

    root: str
    api_key: str
    dataset: LagoDataset
    app: Any
    server: RunningServer

    @property
    def url(self) -> str:
        """Base URL a client uses, ending in ``/api/v1``."""
        return f"{self.root}/api/v1"

    @property
    def state(self) -> Any:
        """The app's live state (documents, config, stats) for direct inspection."""
        return self.app.state.sandbox

    def admin(self, method: str, path: str, body: dict | None = None) -> dict:
        """Call an admin endpoint (``/_sandbox/...``) and return its JSON; raises on HTTP errors."""
        response = requests.request(method, f"{self.root}/_sandbox/{path.lstrip('/')}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def configure(self, **settings: Any) -> dict:
        """Change the sandbox's behaviour (rate limit, fail_next, shift_on_list, ...)."""
        return self.admin("POST", "config", settings)

    def stats(self) -> dict:
        """Request counts by endpoint and status, throttled count, recent calls."""
        return self.admin("GET", "stats")

    def get(self, path: str, params: Any = None, api_key: str | None = None) -> requests.Response:
        """A raw authenticated GET against the API (``path`` relative to ``/api/v1``)."""
        headers = {"Authorization": f"Bearer {api_key or self.api_key}"}
        return requests.get(f"{self.url}/{path.lstrip('/')}", params=params, headers=headers, timeout=10)


@pytest.fixture(scope="session")
def lago_dataset() -> LagoDataset:
    """A small seeded dataset: every currency, invoice type, fee type, credit kind and status."""
    return generate(LAGO_TEST_SPEC)


@pytest.fixture(scope="session")
def _lago_server(lago_dataset: LagoDataset) -> Iterator[tuple[Any, RunningServer]]:
    app = create_app(lago_dataset, LAGO_TEST_API_KEY, rate_limit_per_s=50)
    server = serve_in_thread(app)
    try:
        yield app, server
    finally:
        server.stop()


@pytest.fixture
def lago_sandbox(_lago_server: tuple[Any, RunningServer], lago_dataset: LagoDataset) -> LagoSandbox:
    """The running Lago sandbox, reset to the dataset, its initial config and empty stats."""
    app, server = _lago_server
    state = app.state.sandbox
    state.reset_documents()
    state.reset_config()
    state.reset_stats()
    return LagoSandbox(root=server.url, api_key=LAGO_TEST_API_KEY, dataset=lago_dataset, app=app, server=server)


class LagoConnection:
    """Sets ``AIRFLOW_CONN_<conn id>`` for one test; :meth:`set` rewrites it with other fields."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, sandbox: LagoSandbox, conn_id: str = "lago_default") -> None:
        self.monkeypatch, self.sandbox, self.conn_id = monkeypatch, sandbox, conn_id
        self.extra: dict[str, Any] = {
            "requests_per_second": 45,
            "timeout": 5,
            "max_retries": 3,
            "retry_backoff_s": 0.05,
        }
        self.set()

    def set(self, host: str | None = "", password: str | None = "", conn_id: str | None = None, **extra: Any) -> None:
        """(Re)write the connection; ``host=None`` / ``password=None`` leave the field out."""
        self.extra.update(extra)
        fields: dict[str, Any] = {"conn_type": "lago", "extra": self.extra}
        host = self.sandbox.url if host == "" else host
        password = self.sandbox.api_key if password == "" else password
        if host is not None:
            fields["host"] = host
        if password is not None:
            fields["password"] = password
        name = (conn_id or self.conn_id).upper()
        self.monkeypatch.setenv(f"AIRFLOW_CONN_{name}", json.dumps(fields))


@pytest.fixture
def lago_connection(monkeypatch: pytest.MonkeyPatch, lago_sandbox: LagoSandbox) -> LagoConnection:
    """``AIRFLOW_CONN_LAGO_DEFAULT`` pointing at the sandbox (45 req/s, 3 retries, 50 ms backoff)."""
    return LagoConnection(monkeypatch, lago_sandbox)

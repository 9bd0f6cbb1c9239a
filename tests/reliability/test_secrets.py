"""Secrets stay secret: no credential reaches a log, XCom, the ledger, the Data Docs, the report or NetSuite.

The sync runs (``dag.test``, real Airflow) with recognisable random credentials — the Lago API key,
the four NetSuite token-based-auth values and, when PostgreSQL is reachable, the sync store's
password — while the NetSuite sandbox throttles and fails some calls, so retry and error paths log
too. Then every place a secret could land is searched for each of them and their obvious encodings
(upper/lower case, URL-encoded, hex, base64 at every alignment — as inside a ``Basic`` header — and
a 16-character head or tail, as a truncated message would show): the Airflow home (task logs,
metadata database bytes), the captured output and log records at DEBUG, every XCom of the run,
every table of the sync store, the Data Docs folder, the run report and the records NetSuite holds.

Wrong credentials fail fast: one request reaches Lago (or one call NetSuite) per run, the check
task fails on its first try with one message naming the connection, and nothing is retried. The
NetSuite sandbox refuses a replayed request and a skewed clock; the hook signs every attempt with a
fresh nonce and timestamp — seen from the sandbox side, across a whole run and across retries.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
import requests
import sqlalchemy as sa
from oauthlib.oauth1.rfc5849 import utils as oauth_utils

import tests.plugins.sync_world as sync_world_module
from tests.plugins.airflow_runs import captured_output, latest_run_tasks, xcom_of_latest_run
from tests.plugins.netsuite_sandbox import customer_record

pytestmark = [pytest.mark.slow]

NETSUITE_FIELDS = ("consumer_key", "consumer_secret", "token_id", "token_secret")


# --- recognisable secrets and where to look for them ----------------------------------------------

def new_secrets() -> dict[str, str]:
    """Distinctive random values: 64 hex characters like NetSuite's, a prefixed Lago key."""
    values = {name: secrets.token_hex(32) for name in NETSUITE_FIELDS}
    values["lago_api_key"] = "lago_" + secrets.token_urlsafe(30)
    return values


def encodings(secret: str) -> set[str]:
    """The secret and the forms a careless log line, header or message would carry it in."""
    raw = secret.encode()
    forms = {secret, secret.upper(), secret.lower(), quote(secret, safe=""), quote_plus(secret), raw.hex(),
             json.dumps(secret)[1:-1], secret[:16], secret[-16:]}
    for pad in range(3):  # base64 of a longer text holding the secret (user:secret), at each alignment
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(b"\0" * pad + raw).decode()
            forms.add(text[(0, 2, 3)[pad]: len(text) - 4])
    return {f for f in forms if len(f) >= 16}


class Leaks:
    """Collects every place a secret was found; empty at the end of a test."""

    def __init__(self, values: dict[str, str]) -> None:
        self.needles = {(name, form): form.encode() for name, value in values.items() for form in encodings(value)}
        self.found: list[str] = []
        self.scanned: dict[str, int] = {}

    def text(self, where: str, text: str | bytes) -> None:
        data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
        self.scanned[where] = self.scanned.get(where, 0) + len(data)
        lowered = data.lower()
        for (name, form), needle in self.needles.items():
            if needle in data or needle.lower() in lowered:
                self.found.append(f"{name} ({form[:6]}…) in {where}")

    def tree(self, where: str, root: Path) -> int:
        files = [p for p in root.rglob("*") if p.is_file()] if root.exists() else []
        for path in files:
            self.text(f"{where}/{path.relative_to(root)}", path.read_bytes())
        return len(files)

    def database(self, where: str, url: str) -> dict[str, int]:
        """Every row of every table, as text (the reflected schema: nothing is left out)."""
        engine = sa.create_engine(url)
        rows: dict[str, int] = {}
        try:
            meta = sa.MetaData()
            meta.reflect(engine)
            with engine.connect() as conn:
                for table in meta.sorted_tables:
                    result = conn.execute(sa.select(table)).all()
                    rows[table.name] = len(result)
                    self.text(f"{where}.{table.name}", "\n".join(repr(tuple(r)) for r in result))
        finally:
            engine.dispose()
        return rows

    def assert_none(self) -> None:
        assert not self.found, "secrets leaked:\n  " + "\n  ".join(sorted(set(self.found)))


# --- the OAuth requests the NetSuite sandbox receives ----------------------------------------------

def capture_signed_requests(netsuite_app: Any) -> list[dict[str, str]]:
    """Record, inside the sandbox, the OAuth parameters of every RESTlet request it receives."""
    state = netsuite_app.state.sandbox
    verify = state.verifier.verify
    seen: list[dict[str, str]] = []

    def recording_verify(method: str, url: str, authorization: str | None, now: float | None = None) -> None:
        params = dict(oauth_utils.parse_authorization_header(authorization)) if authorization else {}
        seen.append({"method": method, **{k: oauth_utils.unescape(v) for k, v in params.items()}})
        verify(method, url, authorization, now)

    state.verifier.verify = recording_verify  # the instance attribute shadows the method
    return seen


def assert_every_signature_fresh(seen: list[dict[str, str]]) -> None:
    assert seen and all(s.get("oauth_nonce") and s.get("oauth_timestamp") for s in seen)
    nonces = [s["oauth_nonce"] for s in seen]
    assert len(set(nonces)) == len(nonces), "a nonce was reused"
    assert len({(s["oauth_nonce"], s["oauth_timestamp"]) for s in seen}) == len(seen)
    assert len({s["oauth_signature"] for s in seen}) == len(seen), "a signature was reused"
    now = time.time()
    assert all(abs(int(s["oauth_timestamp"]) - now) < 600 for s in seen)


def test_the_scan_finds_a_secret_in_each_obvious_form() -> None:
    """The searches below find nothing; this shows they would: every encoding is caught."""
    key = "lago_" + secrets.token_urlsafe(30)
    carriers = {
        "raw": f"GET /invoices Authorization: Bearer {key}",
        "upper": f"API KEY {key.upper()}",
        "url": f"https://x/?api_key={quote(key, safe='')}",
        "basic": "Authorization: Basic " + base64.b64encode(f"user:{key}".encode()).decode(),
        "basic-urlsafe": base64.urlsafe_b64encode(f"ab:{key}".encode()).decode(),
        "hex": key.encode().hex(),
        "truncated": f"message cut at 200 characters … {key[:20]}",
        "tail": f"…{key[-20:]} (end of a cut-off answer)",
    }
    for name, text in carriers.items():
        leaks = Leaks({"lago_api_key": key})
        leaks.text(name, text)
        assert leaks.found, name
    clean = Leaks({"lago_api_key": key})
    clean.text("another key", "Bearer lago_" + secrets.token_urlsafe(30))
    clean.assert_none()


# --- fixtures ------------------------------------------------------------------------------------

@pytest.fixture
def secret_values(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """New random credentials for this test's sandboxes and Airflow connections."""
    values = new_secrets()
    monkeypatch.setattr(sync_world_module, "CREDENTIALS", {k: values[k] for k in NETSUITE_FIELDS})
    monkeypatch.setattr(sync_world_module, "LAGO_KEY", values["lago_api_key"])
    return values


@pytest.fixture
def postgres_store_with_password(postgres_admin_url: str) -> Iterator[tuple[str, str]]:
    """A fresh PostgreSQL database owned by a new role with a random password: (url, password)."""
    from sqlalchemy.engine import make_url

    role = f"lns_secret_{uuid.uuid4().hex[:10]}"
    password = "pgpw_" + secrets.token_hex(20)
    admin = sa.create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{password}'"))  # noqa: S608 - generated
        conn.execute(sa.text(f'CREATE DATABASE "{role}" OWNER "{role}"'))
    url = make_url(postgres_admin_url).set(username=role, password=password, database=role)
    try:
        yield url.render_as_string(hide_password=False), password
    finally:
        from lago_netsuite.ledger import store

        store.dispose_engines()
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                         {"n": role})
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{role}"'))
            conn.execute(sa.text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


# --- the whole run -----------------------------------------------------------------------------------

@pytest.mark.airflow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_no_secret_reaches_logs_xcom_ledger_data_docs_report_or_netsuite(
        sync_world_factory: Any, secret_values: dict[str, str], backend: str, tmp_path: Path,
        request: pytest.FixtureRequest, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    values = dict(secret_values)
    store_url = None
    if backend == "postgresql":
        store_url, values["store_password"] = request.getfixturevalue("postgres_store_with_password")
    caplog.set_level(logging.DEBUG)  # a secret in a DEBUG line is a leak too
    world = sync_world_factory(store_url=store_url)
    seen = capture_signed_requests(world.netsuite_app)
    # Retries and error paths log as well: throttle a few writes, fail a look-up, lose one answer.
    world.netsuite_configure(faults={"calls": [{"kind": "throttle_429", "method": "POST", "calls": 2},
                                               {"kind": "http_5xx", "method": "GET", "calls": 1},
                                               {"kind": "lost_response", "method": "POST", "calls": 1, "skip": 2}]})

    assert world.run() == "success"
    assert world.run("lago_netsuite_catalog") == "success"

    world.assert_exactly_once_and_in_agreement()
    stats = world.netsuite_stats()
    assert stats["throttled"] >= 2 and stats["faults_injected"].get("lost_response") == 1
    assert stats["auth_failures"] == {}
    assert_every_signature_fresh(seen)  # retries re-signed: never a nonce or signature twice
    assert len(seen) == stats["calls"]["total"]

    leaks = Leaks(values)
    output = captured_output(request, capfd)
    leaks.text("captured output", output)
    for record in caplog.records:
        leaks.text(f"log record {record.name}", f"{record.getMessage()}\n{record.exc_text or ''}\n{record.args!r}")
    assert "sync report" in output and "NetSuite POST" in output, "the task logs were captured"
    home = Path(os.environ["AIRFLOW_HOME"])
    leaks.tree("AIRFLOW_HOME", home)  # task log files (if any), the metadata database's bytes, the config
    assert leaks.scanned.get("AIRFLOW_HOME/airflow.db", 0) > 0
    sync_xcoms = xcom_of_latest_run("lago_netsuite_sync")
    assert ("report", -1, "return_value") in {(t, i, k) for t, i, k, _ in sync_xcoms}, "the run's XComs were read"
    for task, index, key, value in sync_xcoms + xcom_of_latest_run("lago_netsuite_catalog"):
        leaks.text(f"xcom {task}[{index}].{key}", value)
    leaks.database("airflow metadata", os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    tables = leaks.database("sync store", world.store_url)
    assert tables["sync_ledger"] > 0 and tables["sync_event"] > 0 and tables["lago_document"] > 0
    if world.store_url.startswith("sqlite:///"):  # the bytes too: WAL and free pages included
        for path in Path(world.store_url.removeprefix("sqlite:///")).parent.glob("sync_store.db*"):
            leaks.text(f"store file {path.name}", path.read_bytes())
    data_docs = Path(world.settings["data_docs_dir"])
    assert leaks.tree("data docs", data_docs) > 0 and (data_docs / "index.html").exists()
    report = world.report()
    assert report["totals"]["synced"] > 0
    leaks.text("report", json.dumps(report))
    leaks.text("NetSuite records", json.dumps(world.netsuite_records(include_seeded=True)))
    leaks.assert_none()
    assert leaks.scanned["captured output"] > 10_000


# --- wrong credentials fail fast ---------------------------------------------------------------------

def _alerts(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "lago_netsuite.alerts"]


def _scan_failed_run(values: dict[str, str], world: Any, output: str, caplog: pytest.LogCaptureFixture) -> None:
    leaks = Leaks(values)
    assert "Task failed with exception" in output and "HTTP 401" in output, "the failed task's log was captured"
    leaks.text("captured output", output)
    for record in caplog.records:
        leaks.text(f"log record {record.name}", f"{record.getMessage()}\n{record.exc_text or ''}")
    for task, index, key, value in xcom_of_latest_run("lago_netsuite_sync"):
        leaks.text(f"xcom {task}[{index}].{key}", value)
    leaks.database("sync store", world.store_url)
    leaks.assert_none()


@pytest.mark.airflow
def test_a_wrong_lago_key_fails_fast_with_one_request_per_run_and_one_clear_message(
        sync_world_factory: Any, secret_values: dict[str, str], monkeypatch: pytest.MonkeyPatch,
        request: pytest.FixtureRequest, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    world = sync_world_factory()
    wrong = "lago_" + secrets.token_urlsafe(30)
    conn = json.loads(os.environ["AIRFLOW_CONN_LAGO_DEFAULT"])
    conn["password"] = wrong
    monkeypatch.setenv("AIRFLOW_CONN_LAGO_DEFAULT", json.dumps(conn))
    caplog.set_level(logging.INFO, logger="lago_netsuite.alerts")
    world.lago_admin("POST", "reset", {"documents": False, "config": False, "stats": True})

    for runs in (1, 2):
        assert world.run() == "failed"
        lago = world.lago_admin("GET", "stats")
        assert lago["total"] == runs and lago["by_status"] == {"401": runs}, "one request per run's check"
        assert world.netsuite_stats()["calls"]["total"] == 0, "the check stops at the first refusal"
        tasks = latest_run_tasks("lago_netsuite_sync")
        assert tasks["check_connections"] == ("failed", 1), "refused credentials are not retried"
        assert tasks["extract_transform"][0] == "upstream_failed"
        assert all(s == "upstream_failed" for t, (s, _) in tasks.items() if t.startswith("lanes"))
    alerts = _alerts(caplog)
    assert not [a for a in alerts if "RETRYING" in a]
    check = [a for a in alerts if "task=check_connections" in a]
    assert len(check) == 2  # one line per run
    assert "connection 'lago_default'" in check[0] and "HTTP 401" in check[0] and "API key" in check[0]
    assert world.netsuite_records() == [] and world.ledger() == {}
    _scan_failed_run({**secret_values, "wrong_lago_key": wrong}, world, captured_output(request, capfd), caplog)


@pytest.mark.airflow
@pytest.mark.parametrize(("field", "refusal"), [("consumer_key", "consumer_key"), ("consumer_secret", "signature"),
                                                ("token_id", "token"), ("token_secret", "signature")])
def test_a_wrong_netsuite_credential_fails_fast_with_one_call_and_one_clear_message(
        sync_world_factory: Any, secret_values: dict[str, str], monkeypatch: pytest.MonkeyPatch,
        request: pytest.FixtureRequest, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
        field: str, refusal: str) -> None:
    world = sync_world_factory()
    wrong = secrets.token_hex(32)
    conn = json.loads(os.environ["AIRFLOW_CONN_NETSUITE_DEFAULT"])
    conn["extra"][field] = wrong
    monkeypatch.setenv("AIRFLOW_CONN_NETSUITE_DEFAULT", json.dumps(conn))
    caplog.set_level(logging.INFO, logger="lago_netsuite.alerts")

    assert world.run() == "failed"

    stats = world.netsuite_stats()
    assert stats["calls"]["total"] == 1 and stats["auth_failures"] == {refusal: 1}, "one call, not retried"
    assert stats["records_received"] == 0 and world.netsuite_records() == []
    assert world.lago_admin("GET", "stats")["by_status"] == {"200": 1}  # Lago's check passed, once
    tasks = latest_run_tasks("lago_netsuite_sync")
    assert tasks["check_connections"] == ("failed", 1)
    alerts = _alerts(caplog)
    check = [a for a in alerts if "task=check_connections" in a]
    assert len(check) == 1 and not [a for a in alerts if "RETRYING" in a], alerts
    assert "connection 'netsuite_default'" in check[0] and "INVALID_LOGIN_ATTEMPT" in check[0]
    _scan_failed_run({**secret_values, f"wrong_{field}": wrong}, world, captured_output(request, capfd), caplog)


# --- replay, clock and signatures, seen by the NetSuite sandbox --------------------------------------

@pytest.fixture
def signed_sandbox(netsuite_sandbox_factory: Any, connect_netsuite: Any) -> Any:
    """A NetSuite sandbox recording every OAuth request it receives, and the hook's connection to it."""
    sandbox = netsuite_sandbox_factory()
    sandbox.seen = capture_signed_requests(sandbox.app)
    connect_netsuite(sandbox)
    return sandbox


def _hook() -> Any:
    from lago_netsuite.hooks.netsuite import NetSuiteRestletHook

    return NetSuiteRestletHook(backoff_initial_s=0.01, backoff_max_s=0.05)


def test_the_sandbox_refuses_a_replayed_write_and_nothing_is_written_twice(signed_sandbox: Any) -> None:
    hook = _hook()
    sent: list[requests.PreparedRequest] = []
    hook.get_conn().hooks["response"].append(lambda response, **_: sent.append(response.request))
    assert hook.post_records([customer_record("lago-customer-replayed")])[0].status == "created"
    replay = requests.Session().send(sent[0].copy(), timeout=10)  # the very same signed POST, byte for byte
    assert replay.status_code == 401 and replay.json()["error"]["code"] == "INVALID_LOGIN_ATTEMPT"
    stats = signed_sandbox.stats()
    assert stats["auth_failures"] == {"nonce_replayed": 1} and stats["records_received"] == 1
    assert len(signed_sandbox.records()) == 1
    assert len(signed_sandbox.seen) == 2 and signed_sandbox.seen[0] == signed_sandbox.seen[1]


@pytest.mark.parametrize("skew_s", [-900, -301, 301, 900])
def test_the_sandbox_refuses_a_skewed_clock_and_the_hook_does_not_retry_it(
        signed_sandbox: Any, monkeypatch: pytest.MonkeyPatch, skew_s: int) -> None:
    from oauthlib.oauth1 import rfc5849

    from lago_netsuite.hooks.errors import CredentialsError

    monkeypatch.setattr(rfc5849, "generate_timestamp", lambda: str(int(time.time()) + skew_s))
    with pytest.raises(CredentialsError, match="connection 'netsuite_default'.*INVALID_LOGIN_ATTEMPT"):
        _hook().lookup("customer", ["lago-customer-x"])
    stats = signed_sandbox.stats()
    assert stats["auth_failures"] == {"timestamp": 1} and stats["calls"]["total"] == 1


def test_a_clock_within_the_allowed_skew_is_accepted(signed_sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from oauthlib.oauth1 import rfc5849

    monkeypatch.setattr(rfc5849, "generate_timestamp", lambda: str(int(time.time()) - 240))
    assert _hook().lookup("customer", ["lago-customer-x"]) == {"lago-customer-x": None}
    assert signed_sandbox.stats()["auth_failures"] == {}


def test_the_hook_never_reuses_a_nonce_or_signature_across_retries(signed_sandbox: Any) -> None:
    signed_sandbox.set_faults(calls=[
        {"kind": "http_5xx", "method": "GET", "calls": 2},
        {"kind": "throttle_429", "method": "POST", "calls": 2},
        {"kind": "throttle_400", "method": "POST", "calls": 1},
    ])
    hook = _hook()
    assert hook.lookup("customer", ["lago-customer-a"]) == {"lago-customer-a": None}  # 2 failures, then 200
    assert hook.post_records([customer_record("lago-customer-a")])[0].status == "created"  # 3 throttled, then 200
    assert hook.lookup("customer", ["lago-customer-a"])["lago-customer-a"]
    seen = signed_sandbox.seen
    assert [s["method"] for s in seen] == ["GET"] * 3 + ["POST"] * 4 + ["GET"]
    assert_every_signature_fresh(seen)
    assert signed_sandbox.stats()["auth_failures"] == {}

"""The sync ledger UI's API and pages against a real store (SQLite and PostgreSQL) and Airflow's auth.

The app is the one the plugin mounts, driven with FastAPI's TestClient; users are real JWTs of
Airflow's simple auth manager (ADMIN may trigger, VIEWER may only read, a user without a role may
do nothing); actions create DAG runs in Airflow's metadata database, read back here.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from lago_netsuite.ledger import billing_entities, catalog, migrations, schema, store
from lago_netsuite.ui import links, queries

ACCOUNT = "1234567_SB1"
T0 = datetime(2026, 11, 1, 8, 0, 0)
SYNC_RUN = "scheduled__2026-11-03T00:00:00+00:00"


def _customer(i: int, entity: str) -> dict[str, Any]:
    return {"lago_id": f"cust-{i}", "external_id": f"CUST-{i}", "billing_entity_code": entity, "name": f"Customer {i}",
            "email": None, "currency": "EUR", "netsuite_customer_id": None, "payload": "{}", "payload_hash": "0" * 64,
            "first_seen_at": T0, "changed_at": T0, "last_seen_at": T0, "last_run_id": None}


def seed_store(engine: sa.Engine) -> dict[str, Any]:
    """Customers, 30 invoices (synced/failed/quarantined/waiting), a credit note, events and runs."""
    migrations.migrate(engine)
    docs, rows, events = [], [], []
    plan = {}
    for i in range(30):
        state = ("synced", "failed", "quarantined", "waiting", "synced")[i % 5]
        currency = "JPY" if i % 3 == 0 else "EUR"
        total = 1000 + i
        lago_id = f"inv-{i:03d}"
        number = f"ACME-2026{10 + i % 2:02d}-{i:04d}"
        issued = f"2026-{10 + i % 2:02d}-{1 + i:02d}"
        cust = i % 3
        plan[number] = (state, currency, total, issued)
        payload = {"lago_id": lago_id, "number": number, "total_amount_cents": total, "currency": currency,
                   "customer": {"external_id": f"CUST-{cust}"}, "note": "<script>alert(1)</script>"}
        docs.append({"kind": "invoice", "lago_id": lago_id, "number": number, "issuing_date": issued,
                     "status": "finalized", "customer_external_id": f"CUST-{cust}", "lago_updated_at": None,
                     "payload": json.dumps(payload), "payload_hash": "1" * 64, "first_seen_at": T0,
                     "changed_at": T0, "last_seen_at": T0, "last_run_id": SYNC_RUN})
        ext = f"lago-invoice-{lago_id}"
        error = {"failed": ("NETSUITE_TIMEOUT", "NetSuite did not answer in time"),
                 "quarantined": ("INVALID_TAX", f"tax code <b>{i}</b> is not mapped")}.get(state, (None, None))
        rows.append({"external_id": ext, "kind": "invoice", "record_type": "invoice", "lago_id": lago_id,
                     "number": number, "currency": currency, "total_minor": total, "state": state, "action": "create",
                     "payload": json.dumps({"externalId": ext, "tranId": number}), "payload_hash": None,
                     "sent_hash": None, "source_hash": None, "mapping_hash": None,
                     "depends_on": json.dumps(["lago-customer-cust-0"]) if state == "waiting" else None,
                     "attempts": 1, "next_attempt_at": None,
                     "netsuite_id": str(5000 + i) if state == "synced" else None,
                     "last_error_code": error[0], "last_error_message": error[1], "changed_after_sync": 0,
                     "lease_owner": None, "lease_expires_at": None, "last_run_id": SYNC_RUN,
                     "created_at": T0 + timedelta(minutes=i), "updated_at": T0 + timedelta(minutes=i),
                     "synced_at": None})
        for frm, to, code, msg in ((None, "pending", None, None), ("pending", state, error[0], error[1])):
            at = T0 + timedelta(minutes=i, seconds=1 if frm else 0)
            events.append({"event_id": str(uuid.uuid4()), "external_id": ext, "at": at,
                           "run_id": SYNC_RUN, "from_state": frm, "to_state": to, "code": code, "message": msg,
                           "netsuite_id": str(5000 + i) if to == "synced" else None})
    # quarantined before it was built: no amount in the ledger, Lago's document still has it
    rows[2].update(total_minor=None, currency=None)
    rows.append({**rows[0], "external_id": "lago-customer-cust-0", "kind": "customer", "record_type": "customer",
                 "lago_id": "cust-0", "number": None, "currency": None, "total_minor": None, "state": "failed",
                 "last_error_code": "DUPLICATE", "last_error_message": "a customer with that e-mail exists",
                 "netsuite_id": None, "depends_on": None, "created_at": T0 - timedelta(days=1)})
    with engine.begin() as conn:
        conn.execute(schema.customer.insert(),
                     [_customer(0, "acme-fr"), _customer(1, "acme-fr"), _customer(2, "acme-jp")])
        conn.execute(schema.document.insert(), docs)
        conn.execute(schema.ledger.insert(), rows)
        conn.execute(schema.event.insert(), events)
        # what the transform does after writing rows: each carries its customer's billing entity
        billing_entities.refresh_rows(conn, [r["external_id"] for r in rows])
        conn.execute(schema.sync_run.insert(), [{"run_id": SYNC_RUN, "dag_id": "lago_netsuite_sync", "started_at": T0,
                                                 "finished_at": None, "window_from": None, "window_to": None,
                                                 "summary": None}])
    return plan


@pytest.fixture(params=["sqlite", "postgresql"])
def store_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    url = (f"sqlite:///{tmp_path / 'ui_store.db'}" if request.param == "sqlite"
           else request.getfixturevalue("postgres_url"))
    engine = store.get_engine(url)
    yield engine
    store.dispose_engines()


@pytest.fixture(scope="module")
def airflow_auth(airflow_db: Path, dagbag: Any) -> Any:
    """Airflow's auth manager, initialised, with the project's DAGs in the metadata database."""
    from airflow.api_fastapi.app import init_auth_manager
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()
    sync_bag_to_db(dagbag, "dags-folder", None)
    return init_auth_manager()


def token(auth: Any, role: str | None, name: str = "alice") -> dict[str, str]:
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return {"Authorization": f"Bearer {auth.generate_jwt(SimpleAuthManagerUser(username=name, role=role))}"}


@dataclass
class UI:
    """The app under test, what the store holds, and three users' headers."""

    client: Any
    plan: dict[str, Any]
    engine: sa.Engine
    admin: dict[str, str]  # may trigger
    viewer: dict[str, str]  # may read only
    nobody: dict[str, str]  # a user with no role: may do nothing


@pytest.fixture
def ui(store_engine: sa.Engine, airflow_auth: Any) -> UI:
    from fastapi.testclient import TestClient

    from lago_netsuite.ui.app import create_app

    plan = seed_store(store_engine)
    app = create_app(engine_factory=lambda: store_engine,
                     link_factory=lambda: links.LinkContext(ACCOUNT, {"api": "http://lago.test/api/v1", "app": None}))
    client = TestClient(app, root_path="/lago-netsuite")

    return UI(client, plan, store_engine, admin=token(airflow_auth, "ADMIN"),
              viewer=token(airflow_auth, "VIEWER", "vera"), nobody=token(airflow_auth, None, "nemo"))


def dag_runs(dag_id: str) -> list[Any]:
    from airflow.models import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        return [(r.run_id, r.conf, r.triggering_user_name)
                for r in session.query(DagRun).filter(DagRun.dag_id == dag_id).order_by(DagRun.id)]


# -- documents ---------------------------------------------------------------------------------
def test_documents_page_counts_filters_and_links(ui: UI) -> None:
    r = ui.client.get("/api/documents", headers=ui.admin)
    assert r.status_code == 200
    body = r.json()
    assert body["counts"] == {"synced": 12, "failed": 7, "quarantined": 6, "waiting": 6}
    assert body["total"] == 31
    first = body["rows"][0]
    # newest first: the last invoice created
    assert first["number"] == "ACME-202611-0029" and first["state"] == "synced"
    assert first["amount"] == "10.29 EUR"  # 1029 minor units, EUR's two decimals
    assert first["netsuite_url"] == ("https://1234567-sb1.app.netsuite.com/app/accounting/transactions/"
                                     "transaction.nl?id=5029")
    assert first["run_url"] == f"/dags/lago_netsuite_sync/runs/{SYNC_RUN.replace(':', '%3A').replace('+', '%2B')}"
    assert (first["customer"], first["billing_entity"], first["issuing_date"]) == ("CUST-2", "acme-jp", "2026-11-30")

    q = ui.client.get("/api/documents", params={"state": "quarantined"}, headers=ui.admin).json()
    numbers = [r["number"] for r in q["rows"]]
    # newest first = most recently created ledger row (the sequence at the end of the number here)
    assert numbers == sorted((n for n, p in ui.plan.items() if p[0] == "quarantined"), key=lambda n: n[-4:],
                             reverse=True)
    assert q["total"] == 6 and q["rows"][0]["error"].startswith("tax code <b>")

    jpy = ui.client.get("/api/documents", params={"currency": "jpy", "kind": "invoice"}, headers=ui.admin).json()
    assert {r["number"] for r in jpy["rows"]} == {n for n, p in ui.plan.items() if p[1] == "JPY"}
    assert "1000 JPY" in {r["amount"] for r in jpy["rows"]}  # JPY has no decimals

    ent = ui.client.get("/api/documents", params={"billing_entity": "acme-jp"}, headers=ui.admin).json()
    assert {r["customer"] for r in ent["rows"]} == {"CUST-2"} and len(ent["rows"]) == 10
    assert sum(ent["counts"].values()) == 10

    rng = ui.client.get("/api/documents", params={"date_from": "2026-10-05", "date_to": "2026-10-09"},
                        headers=ui.admin).json()
    assert {r["issuing_date"] for r in rng["rows"]} == {"2026-10-05", "2026-10-07", "2026-10-09"}

    text = ui.client.get("/api/documents", params={"q": "ACME-202610-0004"}, headers=ui.admin).json()
    assert [r["number"] for r in text["rows"]] == ["ACME-202610-0004"]
    by_customer = ui.client.get("/api/documents", params={"q": "CUST-1"}, headers=ui.admin).json()
    assert len(by_customer["rows"]) == 10
    # filter text is bound: SQL in it matches nothing and breaks nothing
    inj = ui.client.get("/api/documents", params={"q": "x' OR '1'='1"}, headers=ui.admin).json()
    assert inj["rows"] == [] and inj["total"] == 0
    wild = ui.client.get("/api/documents", params={"q": "%"}, headers=ui.admin).json()
    assert wild["rows"] == []
    unbuilt = next(r for r in q["rows"] if r["external_id"] == "lago-invoice-inv-002")
    assert unbuilt["amount"] == "10.02 EUR"  # from the Lago document: the ledger row has no amount
    assert ui.client.get("/api/documents", params={"state": "bogus"}, headers=ui.admin).status_code == 400
    assert ui.client.get("/api/documents", params={"date_from": "01/02/2026"}, headers=ui.admin).status_code == 400


def test_billing_entity_filter_and_counts_follow_the_customer(ui: UI) -> None:
    """Counts per state are exact for a billing entity, and move when Lago moves the customer."""
    def entity(code: str) -> dict[str, Any]:
        return ui.client.get("/api/documents", params={"billing_entity": code, "limit": 200},
                             headers=ui.admin).json()

    fr = entity("acme-fr")  # customers 0 and 1: 20 invoices, and customer 0's own row
    expected: dict[str, int] = {"failed": 1}  # lago-customer-cust-0
    for number, (state, *_rest) in ui.plan.items():
        if int(number[-4:]) % 3 != 2:
            expected[state] = expected.get(state, 0) + 1
    assert fr["counts"] == expected and fr["total"] == 21 and len(fr["rows"]) == 21
    assert {r["billing_entity"] for r in fr["rows"]} == {"acme-fr"}

    # Lago moves CUST-2 to acme-fr: the catalog refresh stores it, and its 10 invoices follow
    lago_customer = {"lago_id": "cust-2", "external_id": "CUST-2", "billing_entity_code": "acme-fr",
                     "name": "Customer 2", "currency": "EUR"}
    catalog.upsert_customers(ui.engine, [lago_customer], run_id="catalog-refresh")
    assert entity("acme-jp")["total"] == 0 and entity("acme-jp")["rows"] == []
    after = entity("acme-fr")
    assert after["total"] == 31 and sum(after["counts"].values()) == 31
    with ui.engine.connect() as conn:  # the rows carry it, as the filter reads it
        t = schema.ledger
        assert conn.execute(sa.select(sa.func.count()).where(t.c.billing_entity_code == "acme-fr")).scalar_one() == 31


def test_documents_pagination_is_keyset_and_complete(ui: UI) -> None:
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 7}
        if cursor:
            params["cursor"] = cursor
        body = ui.client.get("/api/documents", params=params, headers=ui.admin).json()
        seen += [r["external_id"] for r in body["rows"]]
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert pages == 5 and len(seen) == 31 == len(set(seen))
    assert seen[-1] == "lago-customer-cust-0"
    assert ui.client.get("/api/documents", params={"cursor": "garbage!"}, headers=ui.admin).status_code == 400


def test_documents_html_is_escaped(ui: UI) -> None:
    r = ui.client.get("/documents", params={"state": "quarantined", "q": "<script>x</script>"}, headers=ui.admin)
    assert r.status_code == 200
    assert "<script>x</script>" not in r.text and "&lt;script&gt;x&lt;/script&gt;" in r.text
    page = ui.client.get("/documents", params={"state": "quarantined"}, headers=ui.admin).text
    assert "tax code &lt;b&gt;" in page and "<b>" not in page
    assert 'href="/lago-netsuite/documents/lago-invoice-inv-027"' in page


# -- one document ------------------------------------------------------------------------------
def test_document_detail(ui: UI) -> None:
    doc = ui.client.get("/api/documents/lago-invoice-inv-003", headers=ui.admin).json()
    assert doc["state"] == "waiting"
    assert [(e["from_state"], e["to_state"]) for e in doc["events"]] == [(None, "pending"), ("pending", "waiting")]
    assert doc["waits_on"] == [{"external_id": "lago-customer-cust-0", "known": True, "kind": "customer",
                                "number": None, "state": "failed", "netsuite_id": None,
                                "error": "a customer with that e-mail exists [DUPLICATE]"}]
    assert json.loads(doc["sent_body"]) == {"externalId": "lago-invoice-inv-003", "tranId": "ACME-202611-0003"}
    assert json.loads(doc["lago_payload"])["number"] == "ACME-202611-0003"
    assert doc["lago_url"] == "http://lago.test/api/v1/invoices/inv-003"
    failed = ui.client.get("/api/documents/lago-invoice-inv-001", headers=ui.admin).json()
    assert failed["error"] == "NetSuite did not answer in time [NETSUITE_TIMEOUT]"
    assert failed["events"][-1]["message"] == "NetSuite did not answer in time"
    html = ui.client.get("/documents/lago-invoice-inv-002", headers=ui.admin).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert ui.client.get("/api/documents/lago-invoice-inv-002", headers=ui.admin).json()["amount"] == "10.02 EUR"
    assert ui.client.get("/api/documents/nope", headers=ui.admin).status_code == 404


# -- reconciliation and a run ------------------------------------------------------------------
def test_reconciliation_per_month_currency_kind(ui: UI) -> None:
    rows = ui.client.get("/api/reconciliation", headers=ui.admin).json()["rows"]
    expected: dict[tuple[str, str], list[int]] = {}
    for _n, (state, currency, total, issued) in ui.plan.items():
        e = expected.setdefault((issued[:7], currency), [0, 0, 0])
        e[0] += total
        e[1] += total if state == "synced" else 0
        e[2] += 0 if state == "synced" else 1
    got = {(r["month"], r["currency"]): [r["lago_minor"], r["netsuite_minor"], r["unresolved"]] for r in rows}
    assert got == expected
    oct_eur = next(r for r in rows if r["month"] == "2026-10" and r["currency"] == "EUR")
    assert oct_eur["difference_minor"] == oct_eur["lago_minor"] - oct_eur["netsuite_minor"] > 0
    assert oct_eur["difference"] == f"{queries.amount_text(oct_eur['difference_minor'], 'EUR')}"
    # the documents making up the difference, one click away
    # (its link leaves the currency out: one of its documents was quarantined before it had one)
    assert oct_eur["without_ledger_amount"] == 1 and "currency" not in oct_eur["documents_query"]
    listed = ui.client.get("/api/documents", params=oct_eur["documents_query"], headers=ui.admin).json()
    eur = [r for r in listed["rows"] if r["currency"] == "EUR"]
    assert len(eur) == oct_eur["unresolved"] and all(r["state"] != "synced" for r in eur)
    assert sum(r["total_minor"] for r in eur) == oct_eur["difference_minor"]
    assert ui.client.get("/reconciliation", headers=ui.admin).status_code == 200


def test_run_documents(ui: UI) -> None:
    run = ui.client.get(f"/api/runs/{SYNC_RUN}", headers=ui.admin).json()
    assert run["dag_id"] == "lago_netsuite_sync"
    assert run["counts"] == {"synced": 12, "failed": 6, "quarantined": 6, "waiting": 6}
    q = [r for r in run["rows"] if r["run_state"] == "quarantined"]
    assert next(r for r in q if r["external_id"] == "lago-invoice-inv-002")["amount"] == "10.02 EUR"
    assert all(r["error"].startswith("tax code") for r in q)
    assert ui.client.get("/api/runs/none-such", headers=ui.admin).json()["rows"] == []
    assert "Documents of run" in ui.client.get(f"/runs/{SYNC_RUN}?dag_id=lago_netsuite_sync", headers=ui.admin).text


# -- actions -----------------------------------------------------------------------------------
def test_retry_one_document_creates_a_run(ui: UI) -> None:
    before = dag_runs("lago_netsuite_retry_document")
    r = ui.client.post("/api/documents/lago-invoice-inv-002/retry", json={}, headers=ui.admin)
    assert r.status_code == 201, r.text
    body = r.json()
    after = dag_runs("lago_netsuite_retry_document")
    assert len(after) == len(before) + 1
    run_id, conf, user = after[-1]
    assert (body["run_id"], conf, user) == (run_id, {"document": "inv-002", "retry_failed": True}, "alice")
    assert body["run_url"].startswith("/dags/lago_netsuite_retry_document/runs/")


def test_retry_failed_of_the_filter_triggers_the_backfill(ui: UI) -> None:
    before = dag_runs("lago_netsuite_backfill")
    october = {"kind": "invoice", "date_from": "2026-10-01", "date_to": "2026-10-31"}
    r = ui.client.post("/api/retry-failed", json=october, headers=ui.admin)
    assert r.status_code == 201, r.text
    after = dag_runs("lago_netsuite_backfill")
    assert len(after) == len(before) + 1
    expected = sum(1 for p in ui.plan.values()
                   if p[0] in ("failed", "quarantined") and p[3].startswith("2026-10"))
    assert r.json()["documents"] == expected
    assert after[-1][1] == {"start_date": "2026-10-01", "end_date": "2026-10-31", "kinds": ["invoice"],
                            "retry_failed": True}
    # no filter range: the failed documents' own span
    r2 = ui.client.post("/api/retry-failed", json={"state": "quarantined"}, headers=ui.admin)
    issued = sorted(p[3] for p in ui.plan.values() if p[0] in ("failed", "quarantined"))
    assert r2.json()["conf"]["start_date"] == issued[0] and r2.json()["conf"]["end_date"] == issued[-1]
    nothing = ui.client.post("/api/retry-failed", json={"q": "no-such-doc"}, headers=ui.admin)
    assert nothing.status_code == 409


# -- refusals ----------------------------------------------------------------------------------
READS = ["/", "/documents", "/api/documents", "/api/documents/lago-invoice-inv-001", "/documents/lago-invoice-inv-001",
         "/reconciliation", "/api/reconciliation", f"/api/runs/{SYNC_RUN}", f"/runs/{SYNC_RUN}"]


def test_no_user_and_no_role_are_refused_everything(ui: UI) -> None:
    before = (dag_runs("lago_netsuite_retry_document"), dag_runs("lago_netsuite_backfill"))
    for path in READS:
        assert ui.client.get(path, follow_redirects=False).status_code == 401, path
        assert ui.client.get(path, headers=ui.nobody, follow_redirects=False).status_code == 403, path
    for headers, code in (({}, 401), (ui.nobody, 403), (ui.viewer, 403)):
        assert ui.client.post("/api/documents/lago-invoice-inv-001/retry", json={}, headers=headers).status_code == code
        assert ui.client.post("/api/retry-failed", json={}, headers=headers).status_code == code
    bad = {"Authorization": "Bearer not-a-token"}
    assert ui.client.get("/api/documents", headers=bad).status_code in (401, 403)
    assert (dag_runs("lago_netsuite_retry_document"), dag_runs("lago_netsuite_backfill")) == before


def test_viewer_reads_but_sees_the_refusal(ui: UI) -> None:
    assert ui.client.get("/api/documents", headers=ui.viewer).status_code == 200
    page = ui.client.get("/documents/lago-invoice-inv-001", headers=ui.viewer).text
    assert 'id="no-trigger"' in page and "retrying is refused" in page
    assert 'id="no-trigger"' not in ui.client.get("/documents/lago-invoice-inv-001", headers=ui.admin).text


def test_no_secret_in_any_response(ui: UI, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "s3cr3t-token-secret-value"
    monkeypatch.setenv("AIRFLOW_CONN_NETSUITE_DEFAULT", json.dumps(
        {"conn_type": "netsuite", "extra": {"account_id": ACCOUNT, "consumer_secret": secret, "token_secret": secret}}))
    monkeypatch.setenv("AIRFLOW_CONN_LAGO_DEFAULT", json.dumps(
        {"conn_type": "lago", "host": "http://lago.test/api/v1", "password": secret}))
    from fastapi.testclient import TestClient

    from lago_netsuite.ui.app import create_app

    client = TestClient(create_app(engine_factory=lambda: ui.engine), root_path="/lago-netsuite")
    bodies = [client.get(p, headers=ui.admin).text for p in READS[1:]]
    assert all(secret not in b for b in bodies)
    doc = client.get("/api/documents/lago-invoice-inv-000", headers=ui.admin).json()
    assert doc["netsuite_url"].startswith("https://1234567-sb1.app.netsuite.com/")
    assert doc["lago_url"] == "http://lago.test/api/v1/invoices/inv-000"

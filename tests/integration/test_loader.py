"""The loader against the NetSuite sandbox: what lands in NetSuite and in the ledger, fault by fault."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from lago_netsuite.hooks.netsuite import NetSuiteRestletHook
from lago_netsuite.ledger import claims, migrations, records, schema, store
from lago_netsuite.ledger.claims import FAILED, PENDING, QUARANTINED, SENT, SYNCED, WAITING
from lago_netsuite.ledger.records import Outcome
from lago_netsuite.load.loader import GroupLoader, LoaderOptions
from tests.plugins.netsuite_sandbox import customer_record

FAST = LoaderOptions(batch_size=5, max_attempts=4, in_run_retry_seconds=3, max_passes=4)


@pytest.fixture
def engine(tmp_path: Path):
    eng = store.get_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    migrations.migrate(eng)
    yield eng
    store.dispose_engines()


def customer(n: int) -> Outcome:
    ext = f"lago-customer-c{n}"
    return Outcome(ext, "customer", "customer", f"c{n}", f"CUST-{n}", "h", PENDING, body=customer_record(ext))


def invoice(n: int, customer_n: int = 1, amount: float = 12.5, item: str = "201") -> Outcome:
    ext = f"lago-invoice-i{n}"
    body = {
        "externalId": ext, "action": "create", "type": "invoice", "isDynamic": False,
        "columns": {"tranid": f"INV-{n:04d}", "entity": {"$ref": f"lago-customer-c{customer_n}"}, "currency": "1",
                    "custbody_lago_id": f"i{n}", "trandate": "11/20/2026"},
        "lines": [{"sublistId": "item", "lineItems": [
            {"item": item, "quantity": 1, "rate": amount, "amount": amount, "taxdetailsreference": f"f{n}"}]}],
    }
    return Outcome(ext, "invoice", "invoice", f"i{n}", f"INV-{n:04d}", "h", PENDING, body=body,
                   depends_on=[f"lago-customer-c{customer_n}"], currency="USD", total_minor=int(amount * 100))


def payment(n: int, invoice_n: int, customer_n: int = 1, amount: float = 12.5) -> Outcome:
    ext = f"lago-payment-p{n}"
    body = {
        "externalId": ext, "type": "customerpayment",
        "columns": {"customer": {"$ref": f"lago-customer-c{customer_n}"}, "payment": amount, "currency": "1",
                    "trandate": "11/21/2026", "custbody_lago_id": f"p{n}"},
        "lines": [{"sublistId": "apply", "lineItems": [
            {"doc": {"$ref": f"lago-invoice-i{invoice_n}"}, "apply": True, "amount": amount}]}],
    }
    return Outcome(ext, "payment", "customerpayment", f"p{n}", f"PAY-{n}", "h", PENDING, body=body,
                   depends_on=[f"lago-invoice-i{invoice_n}"])


def seed(engine, outcomes: list[Outcome]) -> list[str]:
    records.apply_outcomes(engine, outcomes, mapping_hash="m", run_id="plan")
    return [o.external_id for o in outcomes]


def ledger(engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return {r.external_id: r for r in conn.execute(sa.select(schema.ledger))}


def loader(engine, run_id: str = "run-1", options: LoaderOptions = FAST) -> GroupLoader:
    return GroupLoader(engine, NetSuiteRestletHook("netsuite_default"), run_id=run_id, options=options)


def in_netsuite(sandbox) -> dict[str, dict[str, Any]]:
    recs = sandbox.records()
    counts = Counter(r["externalId"] for r in recs)
    assert all(c == 1 for c in counts.values()), f"duplicates in NetSuite: {counts.most_common(3)}"
    return {r["externalId"]: r for r in recs}


def assert_ledger_agrees(engine, sandbox) -> None:
    """Every synced ledger row is in NetSuite under the same id, and nothing else is."""
    ns = in_netsuite(sandbox)
    rows = ledger(engine)
    synced = {e: r.netsuite_id for e, r in rows.items() if r.state == SYNCED}
    assert {e: ns[e]["id"] for e in ns} == synced


@pytest.fixture
def sandbox(netsuite_sandbox, connect_netsuite):
    connect_netsuite(netsuite_sandbox, timeout=2)
    return netsuite_sandbox


def test_stages_in_order_fill_references_and_land_exactly_once(engine, sandbox) -> None:
    seed(engine, [customer(1), customer(2), *(invoice(n, customer_n=1 + n % 2) for n in range(1, 8)),
                  payment(1, 3, customer_n=2)])
    stats = [loader(engine).load([f"lago-customer-c{n}" for n in (1, 2)]).as_dict(),
             loader(engine).load([f"lago-invoice-i{n}" for n in range(1, 8)]).as_dict(),
             loader(engine).load(["lago-payment-p1"]).as_dict()]
    assert [s["created"] for s in stats] == [2, 7, 1]
    ns = in_netsuite(sandbox)
    rows = ledger(engine)
    assert {r.state for r in rows.values()} == {SYNCED}
    assert ns["lago-invoice-i3"]["body"]["columns"]["entity"] == rows["lago-customer-c2"].netsuite_id
    apply = ns["lago-payment-p1"]["body"]["lines"][0]["lineItems"][0]
    assert apply["doc"] == rows["lago-invoice-i3"].netsuite_id
    assert_ledger_agrees(engine, sandbox)
    calls = sandbox.stats()["calls"]["total"]
    again = loader(engine, "run-2").load(list(rows))
    assert again.calls == 0 and sandbox.stats()["calls"]["total"] == calls


def test_a_document_whose_dependency_is_not_in_netsuite_waits_then_goes(engine, sandbox) -> None:
    seed(engine, [customer(1), payment(1, 1)])
    loader(engine).load(["lago-customer-c1"])
    first = loader(engine).load(["lago-payment-p1"])
    assert first.waiting == 1 and first.calls == 0
    row = ledger(engine)["lago-payment-p1"]
    assert (row.state, row.last_error_message) == (WAITING, "waiting on lago-invoice-i1, not extracted from Lago yet")
    seed(engine, [invoice(1)])
    loader(engine, "run-2").load(["lago-invoice-i1"])
    later = loader(engine, "run-2").load(["lago-payment-p1"])
    assert later.created == 1
    assert_ledger_agrees(engine, sandbox)


def test_a_document_held_back_by_its_customer_names_it_and_its_reason_until_it_is_fixed(engine, sandbox) -> None:
    from lago_netsuite.report import build_report, render_text

    reason = "customer CUST-1: billing entity 'acme_mx' has no NetSuite subsidiary mapping"
    seed(engine, [replace(customer(1), state=QUARANTINED, code="QUARANTINED", reason=reason, body=None), invoice(1)])
    assert loader(engine).load(["lago-invoice-i1"]).waiting == 1
    expected = f"waiting on customer CUST-1 (lago-customer-c1), quarantined: {reason}"
    assert (ledger(engine)["lago-invoice-i1"].state, ledger(engine)["lago-invoice-i1"].last_error_message) == \
        (WAITING, expected)
    report = build_report(engine, "run-1")
    assert [(w["external_id"], w["reason"]) for w in report["waiting"]] == [("lago-invoice-i1", expected)]
    assert " ".join(expected.split()) in " ".join(render_text(report).split())  # the report wraps its lines
    again = loader(engine, "run-2").load(["lago-invoice-i1"])  # same blocker, same reason: no new event
    assert again.waiting == 1 and events(engine, "lago-invoice-i1").count(expected) == 1
    seed(engine, [replace(customer(1), source_hash="h2")])  # corrected in Lago: the customer is sendable again
    loader(engine, "run-3").load(["lago-invoice-i1"])  # its dependent says what it waits on now
    assert ledger(engine)["lago-invoice-i1"].last_error_message == \
        "waiting on customer CUST-1 (lago-customer-c1), not in NetSuite yet (pending)"
    loader(engine, "run-4").load(["lago-customer-c1"])
    assert loader(engine, "run-4").load(["lago-invoice-i1"]).created == 1
    assert {r.state for r in ledger(engine).values()} == {SYNCED}
    assert_ledger_agrees(engine, sandbox)


def events(engine, external_id: str) -> list[str]:
    e = schema.event
    with engine.connect() as conn:
        return list(conn.execute(sa.select(e.c.message).where(e.c.external_id == external_id)).scalars())


def test_a_lost_response_after_the_write_is_resolved_by_a_lookup_not_a_resend(engine, sandbox) -> None:
    ids = seed(engine, [customer(1), *(invoice(n) for n in range(1, 6))])
    loader(engine).load(ids[:1])
    sandbox.set_faults(calls=[{"kind": "lost_response", "method": "POST", "calls": 1}])
    stats = loader(engine).load(ids[1:])
    assert stats.unknown_outcomes == 1 and stats.resolved_by_lookup == 5 and stats.created == 0
    assert sandbox.stats()["records_received"] == 6  # each record was sent once
    assert_ledger_agrees(engine, sandbox)
    assert all(r.state == SYNCED for r in ledger(engine).values())


def test_a_5xx_before_the_write_leads_to_a_lookup_then_one_resend(engine, sandbox) -> None:
    ids = seed(engine, [customer(1), invoice(1), invoice(2)])
    loader(engine).load(ids[:1])
    sandbox.set_faults(calls=[{"kind": "http_5xx", "method": "POST", "calls": 1}])
    stats = loader(engine).load(ids[1:])
    assert stats.unknown_outcomes == 1 and stats.resolved_by_lookup == 0 and stats.created == 2
    events = _events(engine, "lago-invoice-i1")
    assert [e[1] for e in events] == [PENDING, SENT, PENDING, SENT, SYNCED]
    assert events[2][2] == "NOT_FOUND_BY_LOOKUP"
    assert_ledger_agrees(engine, sandbox)


def test_a_timeout_while_netsuite_still_commits_never_duplicates(engine, sandbox) -> None:
    ids = seed(engine, [customer(1), invoice(1), invoice(2)])
    loader(engine).load(ids[:1])
    sandbox.set_faults(calls=[{"kind": "timeout", "method": "POST", "calls": 1}], timeout_hold_s=3)
    loader(engine).load(ids[1:])
    import time

    time.sleep(3.5)  # the held write commits
    loader(engine, "run-2", LoaderOptions(batch_size=5, in_run_retry_seconds=0)).load(ids[1:])
    assert_ledger_agrees(engine, sandbox)
    assert {ledger(engine)[e].state for e in ids} == {SYNCED}


def test_throttling_is_retried_inside_the_hook(engine, sandbox) -> None:
    ids = seed(engine, [customer(1), invoice(1)])
    sandbox.set_faults(calls=[{"kind": "throttle_400", "method": "POST", "calls": 1},
                              {"kind": "throttle_429", "method": "POST", "calls": 1, "skip": 1}])
    loader(engine).load(ids[:1])
    loader(engine).load(ids[1:])
    assert sandbox.stats()["throttled"] == 2
    assert_ledger_agrees(engine, sandbox)


def test_deferred_records_go_in_a_later_call_without_counting_an_attempt(engine, netsuite_sandbox_factory,
                                                                          connect_netsuite) -> None:
    small = netsuite_sandbox_factory(usage_limit=200)  # 40 units a transaction: 200→160→120→80 < reserve 100
    connect_netsuite(small)
    ids = seed(engine, [customer(1), *(invoice(n) for n in range(1, 6))])
    loader(engine).load(ids[:1])
    stats = loader(engine).load(ids[1:])
    assert (stats.deferred, stats.created, stats.calls) == (2, 5, 2)
    assert all(ledger(engine)[e].attempts == 1 for e in ids[1:])
    assert_ledger_agrees(engine, small)


def test_a_permanent_failure_keeps_netsuites_message_and_spares_its_neighbours(engine, sandbox) -> None:
    ids = seed(engine, [customer(1), invoice(1), invoice(2, item="999"), invoice(3)])
    sandbox.configure(valid_items=["201"])
    loader(engine).load(ids[:1])
    stats = loader(engine).load(ids[1:])
    rows = ledger(engine)
    assert stats.failed == 1 and stats.failed_ids == ["lago-invoice-i2"]
    assert (rows["lago-invoice-i2"].state, rows["lago-invoice-i2"].last_error_code) == (FAILED, "INVALID_KEY_OR_REF")
    assert "999" in rows["lago-invoice-i2"].last_error_message
    assert rows["lago-invoice-i1"].state == rows["lago-invoice-i3"].state == SYNCED


def test_a_transient_record_failure_is_retried_then_succeeds(engine, sandbox) -> None:
    ids = seed(engine, [customer(1), invoice(1)])
    sandbox.set_faults(records=[{"kind": "rcrd_has_been_changed", "externalId": "lago-invoice-i1", "times": 1}])
    loader(engine).load(ids[:1])
    stats = loader(engine).load(ids[1:])
    assert stats.created == 1
    assert [e[2] for e in _events(engine, "lago-invoice-i1")][-3:] == ["RCRD_HAS_BEEN_CHANGED", None, "created"]
    assert_ledger_agrees(engine, sandbox)


@pytest.mark.parametrize("committed", [True, False], ids=["write-committed", "write-never-made"])
def test_a_crash_between_sending_and_recording_is_resolved_on_the_next_run(engine, sandbox, committed) -> None:
    ids = seed(engine, [customer(1), invoice(1)])
    loader(engine).load(ids[:1])
    # Simulate a loader killed after marking 'sent' (and, maybe, after NetSuite wrote the record).
    dead_owner = "ghost-host:1:dead"
    claims.claim(engine, ["lago-invoice-i1"], dead_owner, lease_seconds=-1)
    claims.transition(engine, [claims.Transition("lago-invoice-i1", PENDING, SENT, values={"attempts": 1})],
                      run_id="crashed", owner=dead_owner)
    if committed:
        body = json.loads(ledger(engine)["lago-invoice-i1"].payload)
        body["columns"]["entity"] = ledger(engine)["lago-customer-c1"].netsuite_id
        assert sandbox.post({"records": [body]}).json()["results"][0]["status"] == "created"
    received = sandbox.stats()["records_received"]
    stats = loader(engine, "run-2").load(["lago-invoice-i1"])
    assert (stats.resolved_by_lookup, stats.created) == ((1, 0) if committed else (0, 1))
    assert sandbox.stats()["records_received"] == received + (0 if committed else 1)
    assert_ledger_agrees(engine, sandbox)


def test_wrong_credentials_fail_once_and_leave_rows_sendable(engine, sandbox, connect_netsuite) -> None:
    from lago_netsuite.hooks.errors import CredentialsError

    ids = seed(engine, [customer(1)])
    connect_netsuite(sandbox, token_secret="0" * 64)
    with pytest.raises(CredentialsError, match="netsuite_default"):
        loader(engine).load(ids)
    assert sandbox.stats()["calls"]["total"] == 1
    row = ledger(engine)["lago-customer-c1"]
    assert (row.state, row.attempts, row.lease_owner) == (PENDING, 0, None)


def _events(engine, external_id: str) -> list[tuple]:
    e = schema.event
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            sa.select(e.c.from_state, e.c.to_state, e.c.code).where(e.c.external_id == external_id).order_by(e.c.at)
        )]

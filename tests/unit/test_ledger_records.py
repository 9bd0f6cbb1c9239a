"""Ledger rules: what a transform outcome does to each existing state, and how leases guard rows."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from lago_netsuite.ledger import claims, migrations, records, schema, store
from lago_netsuite.ledger.claims import (
    FAILED,
    PENDING,
    QUARANTINED,
    SENT,
    SKIPPED,
    SYNCED,
    VOIDED,
    WAITING,
    Transition,
)
from lago_netsuite.ledger.records import Outcome


@pytest.fixture
def engine(tmp_path: Path):
    eng = store.get_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    migrations.migrate(eng)
    yield eng
    store.dispose_engines()


def invoice(body_total: int = 100, *, state: str = PENDING, action: str = "create", lago_id: str = "i1") -> Outcome:
    body = {"externalId": f"lago-invoice-{lago_id}", "type": "invoice", "action": action,
            "columns": {"tranid": "INV-1", "total": body_total}}
    return Outcome(external_id=f"lago-invoice-{lago_id}", kind="invoice", record_type="invoice", lago_id=lago_id,
                   number="INV-1", source_hash=f"src{body_total}", state=state, action=action,
                   body=body if state == PENDING else None, currency="EUR", total_minor=body_total,
                   reason="held back: reason" if state != PENDING else None,
                   code="QUARANTINED" if state == QUARANTINED else None)


def row(engine, external_id: str = "lago-invoice-i1"):
    with engine.connect() as conn:
        return conn.execute(sa.select(schema.ledger).where(schema.ledger.c.external_id == external_id)).one()


def events(engine, external_id: str = "lago-invoice-i1") -> list[tuple[str | None, str, str | None]]:
    with engine.connect() as conn:
        q = sa.select(schema.event.c.from_state, schema.event.c.to_state, schema.event.c.code).where(
            schema.event.c.external_id == external_id).order_by(schema.event.c.at)
        return [tuple(r) for r in conn.execute(q)]


def force_state(engine, state: str, **values) -> None:
    with engine.begin() as conn:
        conn.execute(schema.ledger.update().values(state=state, **values))


@pytest.mark.parametrize(
    ("outcome_state", "expected_state"),
    [(PENDING, PENDING), (QUARANTINED, QUARANTINED), (SKIPPED, SKIPPED)],
    ids=["record-becomes-pending", "quarantined-kept-with-reason", "skipped-kept-with-reason"],
)
def test_a_new_document_gets_a_row_and_an_event(engine, outcome_state: str, expected_state: str) -> None:
    counts = records.apply_outcomes(engine, [invoice(state=outcome_state)], mapping_hash="m1", run_id="r1")
    assert counts.new == 1
    r = row(engine)
    assert (r.state, r.attempts, r.changed_after_sync, r.last_run_id) == (expected_state, 0, 0, "r1")
    assert events(engine) == [(None, expected_state, "QUARANTINED" if expected_state == QUARANTINED else None)]
    if expected_state != PENDING:
        assert r.last_error_message == "held back: reason"


def test_applying_the_same_outcome_twice_changes_nothing(engine) -> None:
    records.apply_outcomes(engine, [invoice()], mapping_hash="m1", run_id="r1")
    counts = records.apply_outcomes(engine, [invoice()], mapping_hash="m1", run_id="r2")
    assert counts.as_dict()["unchanged"] == 1
    assert len(events(engine)) == 1


def test_a_quarantined_document_that_is_fixed_becomes_pending(engine) -> None:
    records.apply_outcomes(engine, [invoice(state=QUARANTINED)], mapping_hash="m1", run_id="r1")
    records.apply_outcomes(engine, [invoice()], mapping_hash="m2", run_id="r2")
    r = row(engine)
    assert (r.state, r.mapping_hash, r.payload is not None) == (PENDING, "m2", True)
    assert [e[1] for e in events(engine)] == [QUARANTINED, PENDING]


@pytest.mark.parametrize(
    ("retry_failed", "changed", "expected"),
    [(False, False, FAILED), (True, False, PENDING), (False, True, PENDING)],
    ids=["failed-stays-failed", "retry-requested", "record-changed"],
)
def test_failed_documents_are_retried_only_when_asked_or_changed(engine, retry_failed, changed, expected) -> None:
    records.apply_outcomes(engine, [invoice()], mapping_hash="m1", run_id="r1")
    force_state(engine, FAILED, attempts=3, last_error_code="INVALID_KEY_OR_REF")
    records.apply_outcomes(engine, [invoice(101 if changed else 100)], mapping_hash="m1", run_id="r2",
                           retry_failed=retry_failed)
    r = row(engine)
    assert r.state == expected
    if expected == PENDING:
        assert r.attempts == 0


def test_a_sent_row_is_never_rebuilt(engine) -> None:
    records.apply_outcomes(engine, [invoice()], mapping_hash="m1", run_id="r1")
    force_state(engine, SENT)
    counts = records.apply_outcomes(engine, [invoice(555)], mapping_hash="m1", run_id="r2")
    assert counts.held_sent == 1
    r = row(engine)
    assert (r.state, r.total_minor) == (SENT, 100)


def test_a_change_after_sync_is_flagged_once_and_never_resent(engine) -> None:
    records.apply_outcomes(engine, [invoice()], mapping_hash="m1", run_id="r1")
    force_state(engine, SYNCED, netsuite_id="9001")
    counts = records.apply_outcomes(engine, [invoice(120)], mapping_hash="m1", run_id="r2")
    assert counts.changed_after_sync == 1
    r = row(engine)
    assert (r.state, r.changed_after_sync, r.netsuite_id, r.total_minor) == (SYNCED, 1, "9001", 100)
    again = records.apply_outcomes(engine, [invoice(120)], mapping_hash="m1", run_id="r3")
    assert again.changed_after_sync == 0
    assert [e[2] for e in events(engine)] == [None, "CHANGED_AFTER_SYNC"]


def test_a_void_of_a_synced_invoice_becomes_a_pending_void(engine) -> None:
    records.apply_outcomes(engine, [invoice()], mapping_hash="m1", run_id="r1")
    force_state(engine, SYNCED, netsuite_id="9001", attempts=1)
    counts = records.apply_outcomes(engine, [invoice(action="void")], mapping_hash="m1", run_id="r2")
    assert counts.voids == 1
    r = row(engine)
    assert (r.state, r.action, r.attempts, r.netsuite_id) == (PENDING, "void", 0, "9001")


def test_a_voided_row_is_final(engine) -> None:
    records.apply_outcomes(engine, [invoice()], mapping_hash="m1", run_id="r1")
    force_state(engine, VOIDED)
    records.apply_outcomes(engine, [invoice(action="void")], mapping_hash="m1", run_id="r2")
    assert row(engine).state == VOIDED


def test_claim_leases_each_row_to_one_owner_and_respects_backoff(engine) -> None:
    outs = [invoice(lago_id=f"i{n}") for n in range(5)]
    records.apply_outcomes(engine, outs, mapping_hash="m", run_id="r")
    ids = [o.external_id for o in outs]
    a, b = claims.new_owner(), claims.new_owner()
    got_a = claims.claim(engine, ids[:3], a, lease_seconds=60)
    got_b = claims.claim(engine, ids, b, lease_seconds=60)
    assert [r.external_id for r in got_a] == ids[:3]
    assert [r.external_id for r in got_b] == ids[3:]
    # a finished row is released; a row in backoff is not claimable until due
    import datetime as dt

    from lago_netsuite.ledger.upsert import utcnow

    claims.transition(engine, [Transition(ids[0], PENDING, PENDING, "RCRD_HAS_BEEN_CHANGED", "later",
                                          values={"next_attempt_at": utcnow() + dt.timedelta(hours=1)})],
                      run_id="r", owner=a)
    assert claims.claim(engine, [ids[0]], b, lease_seconds=60) == []
    reclaimed = claims.claim(engine, [ids[0]], b, lease_seconds=60, respect_backoff=False)
    assert [r.external_id for r in reclaimed] == [ids[0]]


def test_a_lease_held_by_a_dead_process_on_this_host_can_be_taken(engine) -> None:
    records.apply_outcomes(engine, [invoice()], mapping_hash="m", run_id="r")
    import socket
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_owner = f"{socket.gethostname()}:{dead.stdout.strip()}:deadbeef"
    assert claims.claim(engine, ["lago-invoice-i1"], dead_owner, lease_seconds=600)
    assert claims.claim(engine, ["lago-invoice-i1"], claims.new_owner(), lease_seconds=600)


def test_a_transition_needs_the_lease(engine) -> None:
    records.apply_outcomes(engine, [invoice()], mapping_hash="m", run_id="r")
    holder, thief = claims.new_owner(), claims.new_owner()
    claims.claim(engine, ["lago-invoice-i1"], holder, lease_seconds=60)
    assert claims.transition(engine, [Transition("lago-invoice-i1", PENDING, SENT)], run_id="r", owner=thief) == 0
    assert claims.transition(engine, [Transition("lago-invoice-i1", PENDING, SENT)], run_id="r", owner=holder) == 1
    assert row(engine).state == SENT
    # the transform leaves a leased row alone
    records.apply_outcomes(engine, [invoice(state=QUARANTINED)], mapping_hash="m2", run_id="r2")
    assert row(engine).state == SENT


def test_waiting_is_sendable(engine) -> None:
    records.apply_outcomes(engine, [invoice()], mapping_hash="m", run_id="r")
    force_state(engine, WAITING)
    assert claims.claim(engine, ["lago-invoice-i1"], claims.new_owner(), lease_seconds=60)

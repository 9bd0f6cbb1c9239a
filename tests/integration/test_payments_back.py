"""Payments recorded in NetSuite flow back to Lago: the payments-back DAG against both sandboxes.

One world per test keeps them independent; the forward sync runs first (dag.test) so invoices are
in NetSuite, then an "accountant" records payments in the NetSuite sandbox (``/_sandbox/payments``).
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from lago_netsuite.ledger import store
from lago_netsuite.money import to_major
from lago_netsuite.payments_back import state as pb
from tests.plugins.sync_world import SyncWorld

pytestmark = [pytest.mark.airflow, pytest.mark.slow]
BACK = "lago_netsuite_payments_back"


def _open_invoices(world: SyncWorld, count: int) -> list[dict[str, Any]]:
    """Synced invoices still unpaid in Lago, each with its NetSuite id (several of one customer first)."""
    ledger = world.ledger()
    invoices = world.lago_app.state.sandbox.collections["invoices"]
    found = []
    for inv in invoices.documents():
        row = ledger.get(f"lago-invoice-{inv['lago_id']}")
        if (row is not None and row.state == "synced" and inv["status"] == "finalized"
                and inv["payment_status"] != "succeeded" and inv["total_due_amount_cents"] > 1):
            found.append({**inv, "ns_id": row.netsuite_id})
    by_customer = Counter(i["customer"]["lago_id"] for i in found)
    found.sort(key=lambda i: (-by_customer[i["customer"]["lago_id"]], i["customer"]["lago_id"]))
    assert len(found) >= count, f"only {len(found)} open synced invoices"
    return found[:count]


def _major(inv: dict[str, Any], minor: int) -> float:
    return float(to_major(minor, inv["currency"]))


def _pay(world: SyncWorld, *applications: tuple[dict[str, Any], int]) -> dict[str, Any]:
    """The accountant records one customer payment in NetSuite: (invoice, minor units) per application."""
    body = {"applications": [{"doc": inv["ns_id"], "amount": _major(inv, minor)} for inv, minor in applications]}
    response = requests.post(f"{world.netsuite.url}/_sandbox/payments", json=body, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["payment"]


def _lago_invoice(world: SyncWorld, lago_id: str) -> dict[str, Any]:
    return world.lago_app.state.sandbox.collections["invoices"].by_id(lago_id)


def _lago_payments(world: SyncWorld, reference_prefix: str = "ns-") -> list[dict[str, Any]]:
    docs = world.lago_app.state.sandbox.collections["payments"].documents()
    return [p for p in docs if str(p.get("reference") or "").startswith(reference_prefix)]


def _rows(world: SyncWorld) -> dict[str, Any]:
    with store.get_engine(world.store_url).connect() as conn:
        return {r.reference: r for r in conn.execute(sa.select(pb.table))}


def _back(world: SyncWorld, conf: dict[str, Any] | None = None) -> str:
    world.configure(payments_back_enabled=True)
    return world.run(BACK, conf or {"start_date": None, "end_date": None})


def test_payments_reach_lago_once_full_partial_and_across_two_invoices(sync_world: SyncWorld) -> None:
    world = sync_world
    assert world.run() == "success"
    a, b, c = _open_invoices(world, 3)
    full = _pay(world, (a, a["total_due_amount_cents"]))
    partial_b = b["total_due_amount_cents"] // 2
    two = _pay(world, (b, partial_b), (c, c["total_due_amount_cents"])) if b["customer"] == c["customer"] \
        else None
    if two is None:  # different customers: NetSuite applies a payment to one customer's invoices only
        two = _pay(world, (b, partial_b))
        _pay(world, (c, c["total_due_amount_cents"]))
    ns_before = len(world.netsuite_records("customerpayment"))

    assert _back(world) == "success"
    report = world.report()
    assert report["kind"] == "payments_back" and report["failed"] == []
    went = {i["reference"]: i for i in report["went_back"]}
    assert len(went) == 3
    # in Lago: one payment per application, exact amounts, invoices settled or partly paid
    refs = Counter(p["reference"] for p in _lago_payments(world))
    assert set(refs) == set(went) and set(refs.values()) == {1}
    ref_a = pb.reference_for("customerpayment", full["id"], a["ns_id"])
    ref_b = pb.reference_for("customerpayment", two["id"], b["ns_id"])
    assert went[ref_a]["amount_minor"] == a["total_due_amount_cents"]
    assert went[ref_b]["amount_minor"] == partial_b
    after_a, after_b, after_c = (_lago_invoice(world, i["lago_id"]) for i in (a, b, c))
    assert (after_a["payment_status"], after_a["total_due_amount_cents"]) == ("succeeded", 0)
    assert after_a["total_paid_amount_cents"] == a["total_paid_amount_cents"] + a["total_due_amount_cents"]
    assert after_b["payment_status"] != "succeeded"
    assert after_b["total_due_amount_cents"] == b["total_due_amount_cents"] - partial_b
    assert (after_c["payment_status"], after_c["total_due_amount_cents"]) == ("succeeded", 0)
    assert {r.state for r in _rows(world).values()} == {"synced"}

    # a run repeated sends nothing; a replay of the range by the form sends nothing either
    posts = world.lago_app.state.sandbox.counts["POST /payments"]["200"]
    assert _back(world) == "success"
    assert _back(world, {"start_date": "2000-01-01", "end_date": "2100-01-01"}) == "success"
    assert world.lago_app.state.sandbox.counts["POST /payments"]["200"] == posts
    assert Counter(p["reference"] for p in _lago_payments(world)) == refs

    # back then forward: the forward sync links the returned payments, creates no second NetSuite payment
    assert world.run() == "success"
    assert len(world.netsuite_records("customerpayment")) == ns_before
    ledger = world.ledger()
    for payment in _lago_payments(world):
        row = ledger[f"lago-payment-{payment['lago_id']}"]
        assert (row.state, row.last_error_code) == ("skipped", "FROM_NETSUITE")
        assert row.netsuite_id == pb.parse_reference(payment["reference"])[1]
    world.assert_exactly_once_and_in_agreement()
    # ... and back again: still nothing new in Lago
    assert _back(world) == "success"
    assert Counter(p["reference"] for p in _lago_payments(world)) == refs


def test_forward_payments_never_come_back_and_a_lost_response_is_not_resent(sync_world: SyncWorld) -> None:
    world = sync_world
    assert world.run() == "success"
    forward = [r for r in world.netsuite_records() if r["type"] in ("customerpayment", "creditmemo")
               and any(s["sublistId"] == "apply" and s["lineItems"] for s in r["body"].get("lines") or [])]
    assert any(r["type"] == "customerpayment" for r in forward), "succeeded Lago payments were synced forward"
    lago_payments_before = len(world.lago_app.state.sandbox.collections["payments"])
    (inv,) = _open_invoices(world, 1)
    paid = _pay(world, (inv, inv["total_due_amount_cents"]))
    world.lago_admin("POST", "config", {"fail_after_commit_next": 1})  # Lago commits, the answer is lost

    assert _back(world) == "success"
    report = world.report()
    # forward then back: the payments the sync created in NetSuite were listed and not sent back
    assert report["listing"]["from_lago"] == len(forward)
    ref = pb.reference_for("customerpayment", paid["id"], inv["ns_id"])
    row = _rows(world)[ref]
    assert (row.state, row.last_error_code) == ("synced", "FOUND_AFTER_UNKNOWN")
    assert report["sending"]["unknown"] == 1 and report["sending"]["found_after_unknown"] == 1
    with store.get_engine(world.store_url).connect() as conn:
        events = conn.execute(sa.select(pb.event).where(pb.event.c.reference == ref).order_by(pb.event.c.at)).all()
    assert [(e.from_state, e.to_state, e.code) for e in events] == [
        (None, "pending", None), ("sent", "synced", "FOUND_AFTER_UNKNOWN")]
    assert events[-1].lago_payment_id == row.lago_payment_id
    assert [p["reference"] for p in _lago_payments(world)] == [ref]
    assert len(world.lago_app.state.sandbox.collections["payments"]) == lago_payments_before + 1
    assert _lago_invoice(world, inv["lago_id"])["payment_status"] == "succeeded"


def test_a_voided_netsuite_payment_is_flagged_after_it_reached_lago_and_never_sent_before(
        sync_world: SyncWorld) -> None:
    world = sync_world
    assert world.run() == "success"
    a, b = _open_invoices(world, 2)
    reached = _pay(world, (a, 1))
    assert _back(world) == "success"
    never = _pay(world, (b, b["total_due_amount_cents"]))
    for payment in (reached, never):
        requests.post(f"{world.netsuite.url}/_sandbox/payments/{payment['id']}/void", timeout=10).raise_for_status()

    assert _back(world) == "success"
    report = world.report()
    ref_reached = pb.reference_for("customerpayment", reached["id"], a["ns_id"])
    ref_never = pb.reference_for("customerpayment", never["id"], b["ns_id"])
    flagged = {i["reference"]: i for i in report["flagged_for_accountant"]}
    assert set(flagged) == {ref_reached}
    assert "no payment reversal" in flagged[ref_reached]["reason"]
    rows = _rows(world)
    assert (rows[ref_reached].state, rows[ref_reached].voided_in_netsuite) == ("synced", 1)
    assert (rows[ref_never].state, rows[ref_never].last_error_code) == ("skipped", "VOIDED_IN_NETSUITE")
    # Lago keeps the one payment that reached it (no reversal through the API) and never got the other
    assert [p["reference"] for p in _lago_payments(world)] == [ref_reached]
    assert _lago_invoice(world, b["lago_id"])["total_due_amount_cents"] == b["total_due_amount_cents"]
    assert Decimal(rows[ref_reached].amount) == to_major(1, a["currency"])

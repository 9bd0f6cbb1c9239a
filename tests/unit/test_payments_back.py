"""The pieces of the way back to Lago: the Lago sandbox's POST /payments, LagoHook.create_payment's
error classes, the NetSuite sandbox's payments listing (pages, changes while paging) and the hook
that reads it, the references, and the payments-back ledger's migration."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from lago_netsuite.hooks.errors import NotFoundError, OutcomeUnknownError, RequestRejectedError
from lago_netsuite.hooks.lago import LagoHook
from lago_netsuite.hooks.netsuite import NetSuiteRestletHook
from lago_netsuite.hooks.netsuite_payments import iter_payment_pages, list_payments
from lago_netsuite.ledger import migrations, store
from lago_netsuite.payments_back import state as pb
from lago_netsuite_dev.sandbox.netsuite import payments_listing
from tests.plugins.lago_sandbox import LagoConnection, LagoSandbox
from tests.plugins.netsuite_sandbox import NetSuiteSandbox, invoice_record


def _open_invoice(sandbox: LagoSandbox) -> dict[str, Any]:
    invoices = sandbox.state.collections["invoices"].documents()
    return next(i for i in invoices if i["status"] == "finalized" and i["payment_status"] != "succeeded"
                and i["total_due_amount_cents"] > 2)


@pytest.fixture
def fresh_lago(lago_sandbox: LagoSandbox) -> LagoSandbox:
    lago_sandbox.admin("POST", "reset")
    yield lago_sandbox
    lago_sandbox.admin("POST", "reset")


def test_lago_sandbox_records_partial_then_full_payment_and_refuses_more(
        lago_connection: LagoConnection, fresh_lago: LagoSandbox) -> None:
    inv = _open_invoice(fresh_lago)
    hook, due, paid = LagoHook(), inv["total_due_amount_cents"], inv["total_paid_amount_cents"]
    first = hook.create_payment(invoice_id=inv["lago_id"], amount_cents=1, reference="ns-pay-1-inv-2",
                                paid_at="2025-03-04")
    assert (first["amount_cents"], first["type"], first["reference"]) == (1, "manual", "ns-pay-1-inv-2")
    after = fresh_lago.state.collections["invoices"].by_id(inv["lago_id"])
    assert (after["total_paid_amount_cents"], after["total_due_amount_cents"]) == (paid + 1, due - 1)
    assert after["payment_status"] == inv["payment_status"]  # partly paid: not succeeded yet
    with pytest.raises(RequestRejectedError, match="greater_than_remaining"):
        hook.create_payment(invoice_id=inv["lago_id"], amount_cents=due, reference="ns-pay-1-inv-3")
    hook.create_payment(invoice_id=inv["lago_id"], amount_cents=due - 1, reference="ns-pay-1-inv-4")
    after = fresh_lago.state.collections["invoices"].by_id(inv["lago_id"])
    assert (after["payment_status"], after["total_due_amount_cents"]) == ("succeeded", 0)
    assert hook.find_payment(invoice_id=inv["lago_id"], reference="ns-pay-1-inv-2")["lago_id"] == first["lago_id"]
    assert hook.find_payment(invoice_id=inv["lago_id"], reference="ns-pay-9-inv-9") is None
    with pytest.raises(NotFoundError):
        hook.create_payment(invoice_id="00000000-0000-4000-8000-000000000000", amount_cents=1, reference="r")


def test_a_payment_post_is_not_retried_when_its_outcome_is_unknown(
        lago_connection: LagoConnection, fresh_lago: LagoSandbox) -> None:
    inv = _open_invoice(fresh_lago)
    hook = LagoHook()
    fresh_lago.configure(fail_after_commit_next=1)  # Lago commits, then answers 500
    with pytest.raises(OutcomeUnknownError):
        hook.create_payment(invoice_id=inv["lago_id"], amount_cents=1, reference="ns-pay-5-inv-6")
    assert fresh_lago.stats()["requests"]["POST /payments"] == {"500": 1}  # sent once, not retried
    assert hook.find_payment(invoice_id=inv["lago_id"], reference="ns-pay-5-inv-6") is not None
    fresh_lago.configure(fail_next=1, fail_status=503, fail_path="/payments")  # refused before it is processed?
    with pytest.raises(OutcomeUnknownError):  # a 5xx says nothing about that: unknown as well
        hook.create_payment(invoice_id=inv["lago_id"], amount_cents=1, reference="ns-pay-5-inv-7")
    fresh_lago.configure(rate_limit_per_s=1)
    payments = [hook.create_payment(invoice_id=inv["lago_id"], amount_cents=1, reference=f"ns-pay-6-inv-{n}")
                for n in range(2)]  # the second meets a 429 and is retried: Lago did nothing with it
    assert len({p["lago_id"] for p in payments}) == 2


def test_references_are_stable_short_and_parsed_back() -> None:
    ref = pb.reference_for("customerpayment", "7001", "9812")
    assert ref == "ns-pay-7001-inv-9812" and pb.parse_reference(ref) == ("customerpayment", "7001", "9812")
    assert pb.parse_reference(pb.reference_for("creditmemo", "1", "2")) == ("creditmemo", "1", "2")
    assert pb.parse_reference("WIRE-1234") is None and pb.parse_reference(None) is None
    with pytest.raises(ValueError):
        pb.reference_for("customerpayment", "1" * 20, "2" * 20)


def test_the_payments_back_migration_matches_its_tables(tmp_path) -> None:
    engine = store.get_engine(f"sqlite:///{tmp_path / 's.db'}")
    migrations.migrate(engine)
    inspector = sa.inspect(engine)
    for table in (pb.table, pb.event):
        assert {c["name"] for c in inspector.get_columns(table.name)} == {c.name for c in table.columns}
    store.dispose_engines()


# -- the NetSuite sandbox's listing and the hook reading it -----------------------------------
def _invoices(ns: NetSuiteSandbox, count: int) -> list[str]:
    ns.seed_customer()
    results = ns.post({"records": [invoice_record(f"lago-invoice-{n}") for n in range(count)]}).json()["results"]
    return [r["id"] for r in results]


def _pay(ns: NetSuiteSandbox, *applications: tuple[str, str]) -> dict[str, Any]:
    body = {"applications": [{"doc": doc, "amount": amount} for doc, amount in applications]}
    response = ns.admin("POST", "payments", body)
    return response["payment"]


def test_sandbox_listing_pages_and_a_payment_changed_while_paging(
        netsuite_sandbox: NetSuiteSandbox, netsuite_connection: str, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = _invoices(netsuite_sandbox, 2)
    paid = [_pay(netsuite_sandbox, (docs[n % 2], "0.5"))["id"] for n in range(5)]
    two = _pay(netsuite_sandbox, (docs[0], "1.25"), (docs[1], "2"))
    assert [(a["doc"], a["docExternalId"], a["amount"]) for a in two["applications"]] == [
        (docs[0], "lago-invoice-0", 1.25), (docs[1], "lago-invoice-1", 2)]
    assert two["externalId"] is None and two["voided"] is False
    monkeypatch.setattr(payments_listing.list_payments, "__defaults__", (2,))
    hook = NetSuiteRestletHook()
    seen: list[list[str]] = []
    for page in iter_payment_pages(hook, "2000-01-01T00:00:00Z"):
        seen.append([p.id for p in page])
        if len(seen) == 1:  # the accountant voids a payment already listed while the loader pages on
            netsuite_sandbox.admin("POST", f"payments/{paid[0]}/void")
    assert seen == [paid[:2], paid[2:4], [paid[4], two["id"]], [paid[0]]]
    listed = {p.id: p for p in list_payments(hook, "2000-01-01T00:00:00Z")}
    assert listed[paid[0]].voided and len(listed) == 6
    assert listed[two["id"]].applications[0].amount == Decimal("1.25")
    # since is inclusive and filters on the last change
    assert [p.id for p in list_payments(hook, listed[paid[0]].last_modified)] == [paid[0]]


def test_the_accountant_cannot_apply_more_than_is_due_or_to_a_voided_invoice(
        netsuite_sandbox: NetSuiteSandbox) -> None:
    (doc,) = _invoices(netsuite_sandbox, 1)
    due = Decimal(netsuite_sandbox.records("invoice")[0]["total"])
    _pay(netsuite_sandbox, (doc, str(due - 1)))
    url = f"{netsuite_sandbox.url}/_sandbox/payments"
    refused = netsuite_sandbox.session.post(url, json={"applications": [{"doc": doc, "amount": "2"}]}, timeout=10)
    assert refused.status_code == 400 and "exceeds the 1" in refused.json()["error"]["message"]
    refused = netsuite_sandbox.session.post(url, json={"applications": [{"doc": "999999", "amount": "1"}]}, timeout=10)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "USER_ERROR"


def test_the_demo_records_a_full_and_a_partial_payment_on_open_invoices(netsuite_sandbox: NetSuiteSandbox) -> None:
    from lago_netsuite_dev.cli.demo import record_demo_payments
    from tests.plugins.netsuite_sandbox import payment_record

    docs = _invoices(netsuite_sandbox, 3)
    netsuite_sandbox.post({"records": [payment_record("lago-payment-p0", doc=docs[0], payment=7.5)]})  # paid by Lago
    payments = record_demo_payments(netsuite_sandbox.url)
    assert [(p["applications"][0]["doc"], p["applications"][0]["amount"]) for p in payments] == [
        (docs[1], 7.5), (docs[2], 3.7)]
    assert all(p["externalId"] is None for p in payments)

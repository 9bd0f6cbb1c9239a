"""Credit memos, customer payments and customers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.unit.test_transform_lago_factory import (
    FeeSpec,
    InvoiceSpec,
    body_total,
    build_credit_note,
    build_invoice,
    customer,
    major,
    mapping,
    payment,
    run,
    sublist,
    tax_rows,
)


def only(result: Any, kind: str) -> Any:
    recs = result.records[result.records["kind"] == kind]
    assert len(recs) == 1, (result.quarantined.to_dict("records"), result.skipped.to_dict("records"))
    return recs.iloc[0]


def reasons(result: Any) -> list[str]:
    return [r for rs in result.quarantined["reasons"] for r in rs]


def invoice(**kw: Any) -> dict[str, Any]:
    spec = dict(entity="acme_us", fees=[FeeSpec("subscription", "growth", "1", "100", (0, 1)),
                                        FeeSpec("charge", "api_calls", "10", "2.5", (0,)),
                                        FeeSpec("add_on", "training", "1", "40", ())])
    spec.update(kw)
    return build_invoice(InvoiceSpec(**spec))


# --- credit memos ------------------------------------------------------------------------------------

def test_credit_memo_has_a_line_per_credited_item_and_its_own_taxes() -> None:
    inv = invoice(coupon_fraction=Decimal("0.1"))
    cn = build_credit_note(inv, [Decimal("0.5"), Decimal(1), Decimal(0)], coupon_fraction=Decimal("0.1"),
                           offset_fraction=Decimal(0))
    rec = only(run([], [cn]), "creditnote")
    body = rec["body"]
    assert rec["external_id"] == "lago-creditnote-cn-000001" and rec["record_type"] == "creditmemo"
    assert body["type"] == "creditmemo" and body["columns"]["tranid"] == "CN-000001"
    assert body["columns"]["entity"] == {"$ref": "lago-customer-cust-000001"}
    assert "duedate" not in body["columns"] and "custbody_lago_invoice_link" not in body["columns"]
    items = sublist(body, "item")
    assert [(li["item"], li["quantity"], li["amount"]) for li in items] == [
        ("401", 1, 50), ("201", 1, 25), ("403", 1, -major(cn["coupons_adjustment_amount_cents"], "USD"))]
    assert items[-1]["description"] == "Coupon adjustment"
    by_code: dict[str, Decimal] = {}
    for t in tax_rows(body):
        by_code[t["taxcode"]] = by_code.get(t["taxcode"], Decimal(0)) + Decimal(repr(t["taxamount"]))
    expected = {"1101": "us_ca_state_6", "1102": "us_ca_district_1_25"}
    for code, lago in expected.items():
        applied = next(a for a in cn["applied_taxes"] if a["tax_code"] == lago)
        assert by_code[code] == major(applied["amount_cents"], "USD")
    assert body_total(body) == major(cn["total_amount_cents"], "USD")
    assert sublist(body, "apply") == [] and rec["depends_on"] == ["lago-customer-cust-000001"]


def test_credit_memo_is_applied_to_the_invoice_for_what_lago_offset() -> None:
    inv = invoice()
    cn = build_credit_note(inv, [Decimal("0.5")] * 3, offset_fraction=Decimal("0.5"))
    rec = only(run([], [cn]), "creditnote")
    (apply,) = sublist(rec["body"], "apply")
    assert apply == {"doc": {"$ref": "lago-invoice-inv-000001", "optional": True}, "apply": True,
                     "amount": float(major(cn["offset_amount_cents"], "USD"))}
    assert rec["depends_on"] == ["lago-customer-cust-000001", "lago-invoice-inv-000001"]


@pytest.mark.parametrize("entity", ["acme_jp", "acme_eu", "acme_kw"], ids=["JPY", "EUR", "KWD"])
def test_credit_memo_invariant_in_every_exponent(entity: str) -> None:
    inv = build_invoice(InvoiceSpec(entity=entity, fees=[FeeSpec(unit_amount="333.333", taxes=(0,)),
                                                         FeeSpec(code="seats", unit_amount="7.777", taxes=(0,))]))
    cn = build_credit_note(inv, [Decimal("0.37"), Decimal("0.91")], coupon_fraction=Decimal("0.03"))
    rec = only(run([], [cn], tax_mode="legacy"), "creditnote")
    assert rec["body"]["columns"]["taxitem"] and body_total(rec["body"]) == major(cn["total_amount_cents"],
                                                                                  inv["currency"])
    rec = only(run([], [cn]), "creditnote")
    assert body_total(rec["body"]) == major(cn["total_amount_cents"], inv["currency"])


def test_credit_note_coupon_line_follows_lago_s_rounded_sub_total() -> None:
    inv = invoice(coupon_fraction=Decimal("0.1"))
    cn = build_credit_note(inv, [Decimal("0.5")] * 3, coupon_fraction=Decimal("0.1"))
    cn["coupons_adjustment_amount_cents"] += 1  # Lago rounds the adjustment apart from the sub total
    body = only(run([], [cn]), "creditnote")["body"]
    assert body_total(body) == major(cn["total_amount_cents"], "USD")


@pytest.mark.parametrize(
    ("change", "expected"),
    [(lambda c: c.update(total_amount_cents=c["total_amount_cents"] + 5), "total_amount_cents"),
     (lambda c: c["items"][0].update(amount_cents=None), "items[0].amount_cents is missing"),
     (lambda c: c.update(offset_amount_cents=10**9), "offset_amount_cents exceeds"),
     (lambda c: c.update(lago_invoice_id=None), "lago_invoice_id is missing")],
    ids=["totals", "item-amount-missing", "offset-too-big", "offset-without-invoice"],
)
def test_bad_credit_notes_are_quarantined(change: Any, expected: str) -> None:
    cn = build_credit_note(invoice(), [Decimal("0.5")] * 3)
    change(cn)
    result = run([], [cn])
    assert result.records.empty and any(expected in r for r in reasons(result)), reasons(result)


def test_credit_note_fee_without_mapping_falls_back_with_a_warning() -> None:
    inv = invoice(fees=[FeeSpec("charge", "beta_feature", "1", "10", (0,))])
    result = run([], [build_credit_note(inv, [Decimal(1)])])
    assert sublist(only(result, "creditnote")["body"], "item")[0]["item"] == "499"
    assert "credit note item" in result.warnings["message"].iloc[0]


# --- payments ---------------------------------------------------------------------------------------

def test_succeeded_payment_is_applied_to_its_invoice() -> None:
    inv = build_invoice(InvoiceSpec(entity="acme_kw", fees=[FeeSpec(unit_amount="12.3456", taxes=(0,))]))
    rec = only(run([], [], [payment(inv)]), "payment")
    assert rec["record_type"] == "customerpayment" and rec["external_id"] == "lago-payment-pay-000001"
    assert rec["body"]["columns"] == {"customer": {"$ref": "lago-customer-cust-000001"},
                                      "payment": float(major(inv["total_amount_cents"], "KWD")),
                                      "trandate": "4/20/2024", "currency": "4", "custbody_lago_id": "pay-000001",
                                      "memo": "Lago payment wire-1"}
    assert sublist(rec["body"], "apply") == [{"doc": {"$ref": "lago-invoice-inv-000001"}, "apply": True,
                                              "amount": float(major(inv["total_amount_cents"], "KWD"))}]
    assert rec["depends_on"] == ["lago-customer-cust-000001", "lago-invoice-inv-000001"]
    assert "taxdetails" not in rec["body"]


def test_payment_of_a_linked_customer_uses_the_netsuite_id() -> None:
    inv = build_invoice(InvoiceSpec(customer_linked=True))
    rec = only(run([], [], [payment(inv)], customers=[inv["customer"]]), "payment")
    assert rec["body"]["columns"]["customer"] == "900001" and rec["depends_on"] == ["lago-invoice-inv-000001"]


@pytest.mark.parametrize("status", ["pending", "processing", "failed"])
def test_unsettled_payments_are_skipped(status: str) -> None:
    result = run([], [], [payment(build_invoice(InvoiceSpec()), status=status)])
    assert result.records.empty and "not succeeded" in result.skipped["reason"].iloc[0]


def test_payment_covering_several_invoices_is_held_back() -> None:
    pay = payment(build_invoice(InvoiceSpec()))
    pay["invoice_ids"] = ["inv-000001", "inv-000002"]
    result = run([], [], [pay])
    assert result.records.empty
    assert "covers 2 invoices (inv-000001, inv-000002); Lago does not say how the amount splits" in reasons(result)[0]


@pytest.mark.parametrize(("change", "expected"), [
    (lambda p: p.update(amount_currency="CHF"), "currency CHF has no NetSuite currency mapping"),
    (lambda p: p.update(amount_cents=-5), "is negative"),
    (lambda p: p.update(invoice_ids=[]), "invoice_ids is empty")], ids=["currency", "negative", "no-invoice"])
def test_bad_payments_are_quarantined(change: Any, expected: str) -> None:
    pay = payment(build_invoice(InvoiceSpec()))
    change(pay)
    assert any(expected in r for r in reasons(run([], [], [pay])))


# --- customers --------------------------------------------------------------------------------------

def test_company_customer() -> None:
    rec = only(run(customers=[customer(7, "acme_jp")]), "customer")
    assert rec["external_id"] == "lago-customer-cust-000007" and rec["record_type"] == "customer"
    assert rec["body"]["columns"] == {"entityid": "ext-000007", "companyname": "Customer 7 Ltd", "isperson": "F",
                                      "email": "billing7@example.com", "phone": "+1 555 0100", "subsidiary": "3",
                                      "currency": "3", "custentity_lago_id": "cust-000007"}


def test_person_customer() -> None:
    cols = only(run(customers=[customer(8, "acme_us", person=True)]), "customer")["body"]["columns"]
    assert cols["isperson"] == "T" and cols["firstname"] == "Ada" and cols["lastname"] == "Lovelace"
    assert "companyname" not in cols


def test_customer_already_linked_to_netsuite_is_not_created_again() -> None:
    result = run(customers=[customer(9, linked=True)])
    assert result.records.empty and "already linked to NetSuite customer 900009" in result.skipped["reason"].iloc[0]


@pytest.mark.parametrize(("change", "expected"), [
    (lambda c: c.update(billing_entity_code="acme_mx"), "billing entity 'acme_mx' has no NetSuite subsidiary"),
    (lambda c: c.update(name=None), "has no name"),
    (lambda c: c.update(external_id=None), "external_id is missing"),
    (lambda c: c.update(currency="CHF"), "currency CHF has no NetSuite currency mapping")],
    ids=["no-subsidiary", "no-name", "no-external-id", "unmapped-currency"])
def test_bad_customers_are_quarantined(change: Any, expected: str) -> None:
    c = customer(3)
    change(c)
    result = run(customers=[c])
    assert result.records.empty and any(expected in r for r in reasons(result)), reasons(result)


def test_customer_without_currency_is_sent_with_a_warning() -> None:
    c = customer(4)
    c["currency"] = None
    result = run(customers=[c])
    assert "currency" not in only(result, "customer")["body"]["columns"]
    assert "base currency" in result.warnings["message"].iloc[0]


def test_mapping_override_of_currency_per_billing_entity() -> None:
    m = mapping(billing_entities__acme_eu__currencies={"EUR": "22"})
    assert only(run([build_invoice(InvoiceSpec())], mappings=m), "invoice")["body"]["columns"]["currency"] == "22"

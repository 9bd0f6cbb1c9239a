"""The seeded Lago generator: deterministic, Lago-consistent, complete, streamable."""

from __future__ import annotations

import copy
import inspect
import json
import re
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from lago_netsuite_dev.sandbox.lago.generator import (
    DatasetSpec,
    LagoDataset,
    check_credit_note_arithmetic,
    check_invoice_arithmetic,
    generate,
    invoice_counts,
    iter_invoice_bundles,
)
from lago_netsuite_dev.sandbox.lago.invoices import list_view

FIELDS = json.loads((Path(__file__).parents[1] / "fixtures" / "lago" / "serializer_fields.json").read_text())
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@pytest.fixture(scope="module")
def default_dataset() -> LagoDataset:
    return generate(DatasetSpec())


def _fees(dataset: LagoDataset) -> list[dict]:
    return [fee for invoice in dataset.invoices for fee in invoice["fees"]]


def test_same_seed_gives_the_same_documents() -> None:
    spec = DatasetSpec(seed=3, customers=8, invoices=60)
    first, second = generate(spec), generate(spec)
    assert json.dumps(first.invoices) == json.dumps(second.invoices)
    assert json.dumps(first.credit_notes + first.payments) == json.dumps(second.credit_notes + second.payments)
    other = generate(DatasetSpec(seed=4, customers=8, invoices=60))
    assert {i["lago_id"] for i in other.invoices}.isdisjoint({i["lago_id"] for i in first.invoices})


def test_streaming_gives_what_generate_gives() -> None:
    spec = DatasetSpec(seed=11, customers=15, invoices=150)
    stream = iter_invoice_bundles(spec)
    assert inspect.isgenerator(stream)
    bundles = list(stream)
    dataset = generate(spec)
    assert [b.invoice for b in bundles] == dataset.invoices
    assert [n for b in bundles for n in b.credit_notes] == dataset.credit_notes
    assert [p for b in bundles for p in b.payments] == dataset.payments
    invoice, notes, payments = bundles[0]  # a bundle unpacks as (invoice, credit_notes, payments)
    assert invoice is bundles[0].invoice


@pytest.mark.parametrize(("customers", "invoices"), [(1, 0), (5, 3), (7, 1000)], ids=["empty", "fewer", "many"])
def test_invoice_counts_add_up(customers: int, invoices: int) -> None:
    counts = invoice_counts(DatasetSpec(customers=customers, invoices=invoices))
    assert len(counts) == customers and sum(counts) == invoices


@pytest.mark.parametrize("currency", ["JPY", "EUR", "USD", "KWD"], ids=lambda c: c)
def test_every_invoice_satisfies_lago_arithmetic(default_dataset: LagoDataset, currency: str) -> None:
    invoices = [i for i in default_dataset.invoices if i["currency"] == currency]
    assert len(invoices) >= 30
    assert [p for i in invoices for p in check_invoice_arithmetic(i)] == []
    assert [p for i in invoices for p in check_invoice_arithmetic(list_view(i))] == []


@pytest.mark.parametrize("currency", ["JPY", "EUR", "USD", "KWD"], ids=lambda c: c)
def test_every_credit_note_satisfies_lago_arithmetic(default_dataset: LagoDataset, currency: str) -> None:
    notes = [n for n in default_dataset.credit_notes if n["currency"] == currency]
    assert notes
    assert [p for n in notes for p in check_credit_note_arithmetic(n)] == []


def test_minor_units_follow_each_currency_exponent(default_dataset: LagoDataset) -> None:
    jpy = [f for f in _fees(default_dataset) if f["amount_currency"] == "JPY" and f["amount_cents"] > 0]
    kwd = [f for f in _fees(default_dataset) if f["amount_currency"] == "KWD" and f["amount_cents"] > 0]
    # a yen fee's precise amount is whole yen within rounding; a dinar fee's amount has three decimals
    assert all(abs(Decimal(repr(f["precise_amount"])) - f["amount_cents"]) <= Decimal("0.5") for f in jpy)
    assert all(abs(Decimal(repr(f["precise_amount"])) * 1000 - f["amount_cents"]) <= Decimal("0.5") for f in kwd)


def test_fee_taxes_and_invoice_tax_can_differ_by_a_rounding_residual(default_dataset: LagoDataset) -> None:
    residual = [
        i
        for i in default_dataset.invoices
        if sum(f["taxes_amount_cents"] for f in i["fees"]) != i["taxes_amount_cents"]
    ]
    assert residual
    assert all(
        abs(sum(f["taxes_amount_cents"] for f in i["fees"]) - i["taxes_amount_cents"]) <= len(i["fees"])
        for i in residual
    )


def test_a_default_dataset_covers_every_kind(default_dataset: LagoDataset) -> None:
    invoices, fees = default_dataset.invoices, _fees(default_dataset)
    assert {f["item"]["type"] for f in fees} == {
        "subscription",
        "charge",
        "add_on",
        "credit",
        "commitment",
        "fixed_charge",
    }
    assert {i["invoice_type"] for i in invoices} == {
        "subscription",
        "add_on",
        "credit",
        "one_off",
        "advance_charges",
        "progressive_billing",
    }
    assert {c["item"]["type"] for i in invoices for c in i["credits"]} == {"coupon", "credit_note", "invoice"}
    assert {i["status"] for i in invoices} == {"finalized", "draft", "voided", "failed", "pending"}
    assert {i["payment_status"] for i in invoices} == {"succeeded", "pending", "failed"}
    assert {p["payment_status"] for p in default_dataset.payments} == {"succeeded", "pending", "failed", "processing"}
    assert {i["currency"] for i in invoices} == {"USD", "EUR", "JPY", "KWD"}
    assert {i["billing_entity_code"] for i in invoices} == {"acme_us", "acme_eu", "acme_jp", "acme_kw"}
    assert {c["code"] for c in default_dataset.coupons} == {"welcome10", "loyalty_50"}
    assert {c["item"]["code"] for i in invoices for c in i["credits"] if c["item"]["type"] == "coupon"} == {
        "welcome10",
        "loyalty_50",
    }
    assert any(i["prepaid_credit_amount_cents"] for i in invoices)
    assert any(i["total_amount_cents"] == 0 and i["fees_amount_cents"] > 0 for i in invoices)
    assert {n["credit_status"] for n in default_dataset.credit_notes} >= {"available", "consumed"}
    assert any(n["refund_amount_cents"] and n["credit_amount_cents"] for n in default_dataset.credit_notes)


def test_fees_show_the_awkward_cases(default_dataset: LagoDataset) -> None:
    fees = _fees(default_dataset)
    assert any(f["amount_cents"] == 0 for f in fees)
    assert any("." in f["units"] and not f["units"].endswith(".0") for f in fees)
    assert any(len(f["precise_unit_amount"].split(".")[1]) == 15 for f in fees)
    assert max(len(f["precise_unit_amount"].split(".")[1]) for f in fees) <= 15
    assert any(Decimal(f["units"]) >= Decimal("1e10") for f in fees)
    assert any(f["taxes_rate"] == 7.25 for f in fees)  # two taxes on one fee: 6 + 1.25
    assert any(f["taxes_rate"] == 5.5 for f in fees)
    assert any(f["taxes_rate"] == 0 for f in fees)
    assert any(Decimal(f["precise_coupons_amount_cents"]) % 1 for f in fees)
    charges = [f for f in fees if f["item"]["type"] == "charge"]
    assert all(f["properties"]["charges_from_datetime"] <= f["properties"]["charges_to_datetime"] for f in charges)
    beta = [f for f in charges if f["item"]["code"] == "beta_feature"]
    assert 0 < len(beta) < len(charges) / 50


def test_json_types_are_lagos(default_dataset: LagoDataset) -> None:
    invoice = next(i for i in default_dataset.invoices if i["fees"] and i["credits"] and i["applied_taxes"])
    fee = invoice["fees"][0]
    assert isinstance(fee["units"], str) and isinstance(fee["precise_unit_amount"], str)
    assert isinstance(fee["precise_coupons_amount_cents"], str)
    assert isinstance(fee["precise_amount"], float) and isinstance(fee["taxes_rate"], float)
    assert isinstance(fee["taxes_precise_amount"], float)
    assert isinstance(invoice["applied_taxes"][0]["tax_rate"], float)
    assert all(
        isinstance(invoice[k], int) for k in FIELDS["invoice"] if k.endswith("_amount_cents") and invoice[k] is not None
    )
    assert DATE.match(invoice["issuing_date"]) and DATE.match(invoice["payment_due_date"])
    assert DATETIME.match(invoice["created_at"]) and DATETIME.match(invoice["updated_at"])
    assert UUID.match(invoice["lago_id"]) and UUID.match(fee["lago_id"])
    note = default_dataset.credit_notes[0]
    assert isinstance(note["precise_taxes_amount_cents"], str) and isinstance(note["taxes_rate"], float)


def test_documents_carry_every_serializer_field(default_dataset: LagoDataset) -> None:
    def missing(doc: dict, kind: str) -> set[str]:
        return set(FIELDS[kind]) - set(doc)

    for invoice in default_dataset.invoices:
        assert not missing(invoice, "invoice") and not set(FIELDS["invoice_show_blocks"]) - set(invoice)
        for fee in invoice["fees"]:
            assert not missing(fee, "fee") and not missing(fee["item"], "fee_item")
        for credit in invoice["credits"]:
            assert not missing(credit, "credit") and not missing(credit["item"], "credit_item")
        for tax in invoice["applied_taxes"]:
            assert not missing(tax, "invoice_applied_tax")
    for note in default_dataset.credit_notes:
        assert not missing(note, "credit_note")
        assert all(not missing(i, "credit_note_item") for i in note["items"])
        assert all(not missing(t, "credit_note_applied_tax") for t in note["applied_taxes"])
    assert all(not missing(p, "payment") for p in default_dataset.payments)
    for customer in default_dataset.customers:
        assert not missing(customer, "customer")
        assert all(not missing(link, "integration_customer") for link in customer["integration_customers"])


def test_customers_are_varied(default_dataset: LagoDataset) -> None:
    customers = default_dataset.customers
    assert {c["customer_type"] for c in customers} == {"company", "individual"}
    people = [c for c in customers if c["customer_type"] == "individual"]
    assert all(c["firstname"] and c["lastname"] for c in people)
    assert any(any(ord(ch) > 127 for ch in (c["name"] or c["firstname"])) for c in customers)
    linked = [c for c in customers if any(x["type"] == "netsuite" for x in c["integration_customers"])]
    assert 0 < len(linked) < len(customers)
    assert all(
        x["external_customer_id"] and x["subsidiary_id"]
        for c in linked
        for x in c["integration_customers"]
        if x["type"] == "netsuite"
    )
    entity_currencies = Counter((c["billing_entity_code"], c["currency"]) for c in customers)
    assert ("acme_eu", "USD") in entity_currencies  # a second currency within one billing entity


def test_documents_link_up(default_dataset: LagoDataset) -> None:
    invoices = {i["lago_id"]: i for i in default_dataset.invoices}
    notes = {n["lago_id"]: n for n in default_dataset.credit_notes}
    for invoice in invoices.values():
        for credit in invoice["credits"]:
            item = credit["item"]
            if item["type"] == "credit_note":
                note = notes[item["lago_item_id"]]
                assert note["customer"]["lago_id"] == invoice["customer"]["lago_id"]
                assert note["issuing_date"] < invoice["issuing_date"] and item["code"] == note["number"]
            elif item["type"] == "invoice":
                earlier = invoices[item["lago_item_id"]]
                assert earlier["invoice_type"] == "progressive_billing" and earlier["number"] == item["code"]
                assert earlier["issuing_date"] <= invoice["issuing_date"]
        if invoice["status"] == "voided":
            assert invoice["voided_at"] and invoice["voided_at"] > invoice["created_at"]
        else:
            assert invoice["voided_at"] is None
    for note in notes.values():
        consumed = sum(
            c["amount_cents"]
            for i in invoices.values()
            for c in i["credits"]
            if c["item"]["lago_item_id"] == note["lago_id"]
        )
        if note["credit_status"] != "voided":
            assert note["credit_amount_cents"] - consumed == note["balance_amount_cents"]
    for payment in default_dataset.payments:
        invoice = invoices[payment["invoice_ids"][0]]
        assert payment["created_at"] > invoice["created_at"] and invoice["status"] in ("finalized", "voided")
        assert payment["amount_currency"] == invoice["currency"]
    for invoice in invoices.values():
        paid = sum(
            p["amount_cents"]
            for p in default_dataset.payments
            if p["invoice_ids"] == [invoice["lago_id"]] and p["payment_status"] == "succeeded"
        )
        assert invoice["total_paid_amount_cents"] == paid
        if invoice["status"] in ("draft", "failed", "pending"):
            assert invoice["number"].endswith("-DRAFT") and invoice["sequential_id"] is None


def test_finalized_numbers_are_unique(default_dataset: LagoDataset) -> None:
    numbers = [i["number"] for i in default_dataset.invoices if i["status"] in ("finalized", "voided")]
    assert len(numbers) == len(set(numbers))


def _break_total(i: dict) -> None:
    i["total_amount_cents"] += 1


def _break_fee_tax(i: dict) -> None:
    fee = next(f for f in i["fees"] if f["taxes_rate"])
    fee["taxes_amount_cents"] += 1


def _break_coupons(i: dict) -> None:
    i["coupons_amount_cents"] += 1
    i["sub_total_excluding_taxes_amount_cents"] -= 1
    i["sub_total_including_taxes_amount_cents"] -= 1
    i["total_amount_cents"] -= 1


def _break_type(i: dict) -> None:
    i["fees"][0]["units"] = float(i["fees"][0]["units"])


def _break_invoice_tax(i: dict) -> None:
    i["taxes_amount_cents"] += 2
    i["sub_total_including_taxes_amount_cents"] += 2
    i["total_amount_cents"] += 2


@pytest.mark.parametrize(
    "breakage",
    [_break_total, _break_fee_tax, _break_coupons, _break_type, _break_invoice_tax],
    ids=["total", "fee-tax", "coupon-not-allocated", "units-as-float", "invoice-tax"],
)
def test_the_checker_catches_broken_arithmetic(default_dataset: LagoDataset, breakage) -> None:
    invoice = copy.deepcopy(
        next(
            i for i in default_dataset.invoices if i["coupons_amount_cents"] and any(f["taxes_rate"] for f in i["fees"])
        )
    )
    assert check_invoice_arithmetic(invoice) == []
    breakage(invoice)
    assert check_invoice_arithmetic(invoice)


def test_the_checker_catches_a_broken_credit_note(default_dataset: LagoDataset) -> None:
    note = copy.deepcopy(next(n for n in default_dataset.credit_notes if n["taxes_amount_cents"]))
    note["taxes_amount_cents"] += 1
    note["total_amount_cents"] += 1
    note["credit_amount_cents"] += 1
    assert check_credit_note_arithmetic(note)


def test_spec_accepts_iso_dates_and_refuses_nonsense() -> None:
    assert DatasetSpec(start_date="2024-02-01").start_date.isoformat() == "2024-02-01"
    with pytest.raises(ValueError, match="before"):
        DatasetSpec(start_date="2025-02-01", end_date="2025-01-01")


def test_issuing_dates_stay_in_the_range() -> None:
    spec = DatasetSpec(seed=5, customers=6, invoices=80, start_date="2024-05-01", end_date="2024-05-31")
    dates = {b.invoice["issuing_date"] for b in iter_invoice_bundles(spec)}
    assert min(dates) >= "2024-05-01" and max(dates) <= "2024-05-31"


def test_as_of_end_dates_nothing_after_the_end_date() -> None:
    """The demo's dataset describes "today": no credit note, payment or void is dated later."""
    spec = DatasetSpec(seed=3, customers=12, invoices=150, start_date="2026-03-01", end_date="2026-03-03",
                       as_of_end=True)
    data = generate(spec)
    assert data.credit_notes, "the dataset should still hold credit notes"
    assert max(c["issuing_date"] for c in data.credit_notes) <= "2026-03-03"
    assert max(p["created_at"] for p in data.payments)[:10] <= "2026-03-03"
    assert max(i["voided_at"] or "" for i in data.invoices)[:10] <= "2026-03-03"
    assert not [p for i in data.invoices for p in check_invoice_arithmetic(i)]

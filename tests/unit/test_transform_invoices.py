"""Invoices -> NetSuite invoice / sales order records: lines, discounts, resolution, tax, quarantine."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.unit.test_transform_lago_factory import (
    FeeSpec,
    InvoiceSpec,
    body_total,
    build_invoice,
    customer,
    major,
    mapping,
    payment,
    run,
    sublist,
    tax_rows,
)


def one(result: Any, kind: str = "invoice") -> dict[str, Any]:
    recs = result.records[result.records["kind"] == kind]
    assert len(recs) == 1, (result.quarantined.to_dict("records"), result.skipped.to_dict("records"))
    return recs.iloc[0]["body"]


def fee_line(body: dict[str, Any], fee_id: str) -> dict[str, Any]:
    return next(li for li in sublist(body, "item") if li.get("custcol_lago_line_id") == fee_id)


def reasons(result: Any) -> list[str]:
    return [r for rs in result.quarantined["reasons"] for r in rs]


# --- lines -------------------------------------------------------------------------------------

def test_invoice_body_follows_the_contract() -> None:
    inv = build_invoice(InvoiceSpec(entity="acme_eu", fees=[
        FeeSpec("subscription", "growth", "1", "99", (0,)),
        FeeSpec("charge", "storage_gb", "3", "4.12121212123337777", (0,))]))
    body = one(run([inv]))
    assert body["externalId"] == "lago-invoice-inv-000001" and body["type"] == "invoice"
    assert body["action"] == "create" and body["isDynamic"] is False
    assert body["options"] == {"ignoreMandatoryFields": False}
    cols = body["columns"]
    assert cols["tranid"] == "INV-000001" and cols["custbody_lago_id"] == "inv-000001"
    assert cols["trandate"] == "4/1/2024" and cols["duedate"] == "5/1/2024"
    assert cols["currency"] == "2" and cols["subsidiary"] == "2" and cols["nexus"] == "2"
    assert cols["taxdetailsoverride"] is True and cols["taxregoverride"] is True
    assert cols["custbody_lago_invoice_link"] == \
        "https://app.getlago.com/customer/cust-000001/invoice/inv-000001/overview"
    storage = fee_line(body, "fee-000001-01")
    assert storage == {"item": "202", "account": "4020", "quantity": 3, "rate": 4.1212121212334, "amount": 12.36,
                       "description": "Storage Gb", "taxdetailsreference": "fee-000001-01",
                       "custcol_lago_line_id": "fee-000001-01", "custcol_service_period_date_from": "2/1/2024",
                       "custcol_service_period_date_to": "2/29/2024", "class": "10"}  # class: demo mapping
    sub = fee_line(body, "fee-000001-00")
    assert sub["item"] == "401" and sub["custcol_service_period_date_from"] == "3/1/2024"  # own period, not charges'
    assert body_total(body) == major(inv["total_amount_cents"], "EUR")


def test_quantity_of_1e10_or_more_goes_as_one_at_the_amount() -> None:
    inv = build_invoice(InvoiceSpec(entity="acme_us", fees=[
        FeeSpec("charge", "api_calls", "12000000000", "0.000000123", (0,))]))
    line = fee_line(one(run([inv])), "fee-000001-00")
    assert line["quantity"] == 1 and line["rate"] == line["amount"] == 1476


def test_zero_fees_are_left_out_unless_all_are_zero() -> None:
    some = build_invoice(InvoiceSpec(fees=[FeeSpec(amount_cents=0), FeeSpec(code="seats", unit_amount="5")]))
    assert [li["custcol_lago_line_id"] for li in sublist(one(run([some])), "item")] == ["fee-000001-01"]
    none = build_invoice(InvoiceSpec(n=2, fees=[FeeSpec(amount_cents=0), FeeSpec(code="seats", amount_cents=0)]))
    body = one(run([none]))
    assert [li["amount"] for li in sublist(body, "item")] == [0, 0] and body_total(body) == 0


def test_display_name_and_filter_make_the_description() -> None:
    inv = build_invoice(InvoiceSpec())
    inv["fees"][0]["item"].update(invoice_display_name="API calls (EU)", filter_invoice_display_name="region: eu")
    assert fee_line(one(run([inv])), "fee-000001-00")["description"] == "API calls (EU) — region: eu"


# --- discounts -----------------------------------------------------------------------------------

DISCOUNTS = {
    "coupon": dict(coupon_fraction=Decimal("0.1")),
    "prepaid": dict(prepaid_fraction=Decimal("0.3")),
    "progressive": dict(progressive_fraction=Decimal("0.2")),
    "credit-note": dict(credit_note_fraction=Decimal("0.25")),
}


@pytest.mark.parametrize(("kind", "item", "ref"), [("coupon", "403", "coupons"), ("prepaid", "405", "prepaid_credits"),
                                                   ("progressive", "405", "progressive_billing_credits"),
                                                   ("credit-note", "404", "credit_note_credits")],
                         ids=list(DISCOUNTS))
def test_each_discount_is_a_negative_line_on_its_item(kind: str, item: str, ref: str) -> None:
    inv = build_invoice(InvoiceSpec(fees=[FeeSpec(unit_amount="100", taxes=(0,))], **DISCOUNTS[kind]))
    body = one(run([inv]))
    line = sublist(body, "item")[-1]
    assert line["item"] == item and line["quantity"] == 1 and line["rate"] == line["amount"] < 0
    assert line["taxdetailsreference"] == ref and "custcol_lago_line_id" not in line
    zero = [t for t in tax_rows(body) if t["taxdetailsreference"] == ref]
    assert zero == [{"taxdetailsreference": ref, "taxtype": "12", "taxcode": "1200", "taxbasis": 0, "taxrate": 0,
                     "taxamount": 0}]
    assert body_total(body) == major(inv["total_amount_cents"], "EUR")


def test_discounts_come_in_lago_order_with_what_they_hold() -> None:
    spec = InvoiceSpec(fees=[FeeSpec(unit_amount="100")], **{k: v for d in DISCOUNTS.values() for k, v in d.items()})
    body = one(run([build_invoice(spec)]))
    lines = sublist(body, "item")[1:]
    assert [li["taxdetailsreference"] for li in lines] == ["coupons", "prepaid_credits",
                                                           "progressive_billing_credits", "credit_note_credits"]
    assert [li["description"] for li in lines] == ["Coupons: Welcome10, Loyalty_50", "Prepaid credits",
                                                   "Progressive billing credits: PB-000001",
                                                   "Credit notes: CN-OLD-000001"]


def test_invoice_fully_covered_by_a_credit_note_totals_zero_not_negative() -> None:
    inv = build_invoice(InvoiceSpec(fees=[FeeSpec(unit_amount="100", taxes=(0,))], credit_note_fraction=Decimal(1)))
    assert inv["total_amount_cents"] == 0
    body = one(run([inv]))
    assert body_total(body) == 0
    assert sublist(body, "item")[-1]["amount"] == -120  # 100 + 20 % VAT, credited after tax, no tax row


def test_missing_discount_mapping_uses_the_fallback_and_warns() -> None:
    inv = build_invoice(InvoiceSpec(fees=[FeeSpec(unit_amount="100")], coupon_fraction=Decimal("0.1")))
    result = run([inv], mappings=mapping(items__defaults__coupon=None))
    assert sublist(one(result), "item")[-1]["item"] == "499"
    assert any("coupon line" in w and "organization fallback" in w for w in result.warnings["message"])


def test_missing_discount_mapping_without_fallback_holds_the_invoice_back() -> None:
    inv = build_invoice(InvoiceSpec(fees=[FeeSpec(unit_amount="100")], coupon_fraction=Decimal("0.1")))
    result = run([inv], mappings=mapping(items__defaults__coupon=None, items__fallback=None))
    assert result.records.empty
    assert any("coupon line (default item 'coupon') has no NetSuite item mapping" in r for r in reasons(result))


# --- item resolution order ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("entity", "code", "changes", "item", "source"),
    [
        ("acme_eu", "api_calls", {}, "211", "billing_entity_mapping"),
        ("acme_eu", "storage_gb", {"billing_entities__acme_eu__items__fallback": {"item": "498"}}, "498",
         "billing_entity_fallback"),
        ("acme_us", "storage_gb", {"billing_entities__acme_eu__items__fallback": {"item": "498"}}, "202",
         "organization_mapping"),
        ("acme_us", "beta_feature", {}, "499", "organization_fallback"),
    ],
    ids=["1-billing-entity-mapping", "2-billing-entity-fallback", "3-organization-mapping", "4-organization-fallback"],
)
def test_item_resolution_order(entity: str, code: str, changes: dict[str, Any], item: str, source: str) -> None:
    inv = build_invoice(InvoiceSpec(entity=entity, fees=[FeeSpec("charge", code, "2", "3", ())]))
    result = run([inv], mappings=mapping(**changes))
    assert fee_line(one(result), "fee-000001-00")["item"] == item
    assert result.lines["invoice"]["item_source"].iloc[0] == source
    fallback = "fallback" in source
    assert any(code in w and "fallback" in w for w in result.warnings["message"]) is fallback


def test_unmapped_fee_without_fallback_quarantines_the_whole_invoice() -> None:
    inv = build_invoice(InvoiceSpec(entity="acme_us", fees=[FeeSpec(code="api_calls"), FeeSpec(code="beta_feature")]))
    result = run([inv], mappings=mapping(items__fallback=None))
    assert result.records.empty
    (row,) = result.quarantined.to_dict("records")
    assert row["external_id"] == "lago-invoice-inv-000001" and row["number"] == "INV-000001"
    assert row["reasons"] == ["invoice INV-000001: fee fee-000001-01 (billable metric 'beta_feature') has no NetSuite "
                              "item mapping (checked billing entity 'acme_us' and the organization) and no fallback "
                              "item is configured"]


@pytest.mark.parametrize(("ftype", "code", "item"), [("add_on", "setup_fee", "301"), ("fixed_charge", "premium_support",
                                                                                      "302"),
                                                     ("subscription", "starter", "401"),
                                                     ("commitment", "growth", "402"),
                                                     ("credit", "credit", "405")],
                         ids=["add-on", "fixed-charge-as-add-on", "subscription-default", "commitment-default",
                              "wallet-top-up-default"])
def test_fee_types_map_to_their_item(ftype: str, code: str, item: str) -> None:
    inv = build_invoice(InvoiceSpec(entity="acme_us", fees=[FeeSpec(ftype, code, "1", "10", ())]))
    assert fee_line(one(run([inv])), "fee-000001-00")["item"] == item


# --- tax ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("changes", "taxcode"),
    [
        ({"billing_entities__acme_eu__tax__taxes": {"vat_eu_20": {"nexus": "2", "tax_type": "12", "tax_code": "9001"}}},
         "9001"),
        ({}, "1201"),
        ({"tax__taxes__vat_eu_20": None}, "1200"),
        ({"tax__taxes__vat_eu_20": None, "billing_entities__acme_eu__tax": None}, "1100"),
    ],
    ids=["1-tax-and-billing-entity", "2-tax", "3-billing-entity-default", "4-organization-default"],
)
def test_tax_resolution_order(changes: dict[str, Any], taxcode: str) -> None:
    inv = build_invoice(InvoiceSpec(entity="acme_eu", fees=[FeeSpec(unit_amount="10", taxes=(0,))]))
    body = one(run([inv], mappings=mapping(**changes)))
    assert tax_rows(body)[0]["taxcode"] == taxcode


def test_no_tax_mapping_at_any_level_quarantines() -> None:
    inv = build_invoice(InvoiceSpec(entity="acme_eu", fees=[FeeSpec(unit_amount="10", taxes=(0,))]))
    m = mapping(tax__taxes__vat_eu_20=None, billing_entities__acme_eu__tax=None, tax__default=None)
    assert any("tax 'vat_eu_20' of billing entity acme_eu has no complete SuiteTax mapping" in r
               for r in reasons(run([inv], mappings=m)))


def test_multi_rate_fee_gets_one_row_per_tax() -> None:
    inv = build_invoice(InvoiceSpec(entity="acme_us", fees=[FeeSpec(unit_amount="99.99", taxes=(0, 1))]))
    rows = [t for t in tax_rows(one(run([inv]))) if t["taxdetailsreference"] == "fee-000001-00"]
    got = sorted((t["taxcode"], t["taxrate"], t["taxamount"]) for t in rows)
    assert got == [("1101", 6, 6.0), ("1102", 1.25, 1.25)]
    assert all(t["taxbasis"] == 99.99 for t in rows)


def test_explicit_fee_taxes_are_used_when_lago_sends_them() -> None:
    inv = build_invoice(InvoiceSpec(entity="acme_us", explicit_fee_taxes=True,
                                    fees=[FeeSpec(unit_amount="10", taxes=(0, 1)),
                                          FeeSpec(unit_amount="5", taxes=(1,))]))
    body = one(run([inv]))
    assert body_total(body) == major(inv["total_amount_cents"], "USD")
    assert {(t["taxdetailsreference"], t["taxcode"]) for t in tax_rows(body) if t["taxamount"]} == {
        ("fee-000001-00", "1101"), ("fee-000001-00", "1102"), ("fee-000001-01", "1102")}


@pytest.mark.parametrize("coupon", [Decimal(0), Decimal("0.1")], ids=["without-coupon", "with-coupon"])
def test_rounding_residual_is_absorbed_by_a_fee_row(coupon: Decimal) -> None:
    # three fees of 0.03 EUR at 20 %: each fee's tax rounds 0.6 -> 1 cent, the invoice's 1.8 -> 2 cents
    inv = build_invoice(InvoiceSpec(fees=[FeeSpec(amount_cents=3 if not coupon else 30, taxes=(0,))] * 3,
                                    coupon_fraction=coupon))
    fee_tax = sum(f["taxes_amount_cents"] for f in inv["fees"])
    assert fee_tax != inv["taxes_amount_cents"]  # Lago's own drift between fee and invoice rounding
    result = run([inv])
    body = one(result)
    assert body_total(body) == major(inv["total_amount_cents"], "EUR")
    taxes = result.taxes["invoice"]
    absorbed = taxes[taxes["residual_minor"] != 0]
    assert len(absorbed) == 1 and absorbed["lago_tax_code"].iloc[0] == "vat_eu_20"
    assert absorbed["taxdetailsreference"].iloc[0].startswith("fee-")  # never the coupon line
    assert taxes["amount_minor"].sum() == inv["taxes_amount_cents"]


def test_tax_total_rounded_apart_from_the_applied_taxes_is_reconciled_too() -> None:
    # Lago rounds each applied tax and, separately, their unrounded sum: 0.5 + 0.5 -> 1 + 1 vs 1
    inv = build_invoice(InvoiceSpec(entity="acme_us", fees=[FeeSpec(amount_cents=0, taxes=(0, 1))]))
    inv["fees"][0].update(amount_cents=10, taxes_amount_cents=1, sub_total_excluding_taxes_amount_cents=10,
                          taxes_rate=7.25)
    inv["applied_taxes"] = [dict(tax_code="us_ca_state_6", tax_rate=6.0, amount_cents=1, fees_amount_cents=10),
                            dict(tax_code="us_ca_district_1_25", tax_rate=1.25, amount_cents=0, fees_amount_cents=10)]
    inv.update(fees_amount_cents=10, sub_total_excluding_taxes_amount_cents=10, taxes_amount_cents=1,
               sub_total_including_taxes_amount_cents=11, total_amount_cents=11)
    assert body_total(one(run([inv]))) == Decimal("0.11")


def test_legacy_tax_mode_overrides_the_tax_total() -> None:
    inv = build_invoice(InvoiceSpec(entity="acme_us", fees=[FeeSpec(unit_amount="99.99", taxes=(0, 1))],
                                    coupon_fraction=Decimal("0.1")))
    body = one(run([inv], tax_mode="legacy", mappings=mapping(options__tax_mode="legacy")))
    cols = body["columns"]
    assert cols["istaxable"] is True and cols["taxitem"] == "600"  # two taxes, two items: the default tax item
    assert Decimal(repr(cols["taxamountoverride"])) == major(inv["taxes_amount_cents"], "USD")
    assert "taxdetails" not in body and "nexus" not in cols
    assert all("taxdetailsreference" not in li for li in sublist(body, "item"))
    assert body_total(body) == major(inv["total_amount_cents"], "USD")


def test_legacy_single_tax_uses_its_tax_item() -> None:
    inv = build_invoice(InvoiceSpec(entity="acme_jp", fees=[FeeSpec(unit_amount="1000", taxes=(0,))]))
    assert one(run([inv], tax_mode="legacy"))["columns"]["taxitem"] == "605"


@pytest.mark.parametrize(("entity", "currency", "amount"), [("acme_jp", "JPY", 1235), ("acme_eu", "EUR", 1234.57),
                                                            ("acme_kw", "KWD", 1234.568)], ids=["JPY", "EUR", "KWD"])
def test_amounts_have_the_currency_s_decimals(entity: str, currency: str, amount: float) -> None:
    inv = build_invoice(InvoiceSpec(entity=entity, fees=[FeeSpec(unit_amount="1234.5678", taxes=(0,))],
                                    coupon_fraction=Decimal("0.07")))
    body = one(run([inv]))
    assert sublist(body, "item")[0]["amount"] == amount
    assert body_total(body) == major(inv["total_amount_cents"], currency)


# --- settings -------------------------------------------------------------------------------------

@pytest.mark.parametrize("skip", [True, False], ids=["skip-on", "skip-off-default"])
def test_zero_total_invoices(skip: bool) -> None:
    inv = build_invoice(InvoiceSpec(fees=[FeeSpec(unit_amount="10")], prepaid_fraction=Decimal(1)))
    result = run([inv], skip_zero_total=skip)
    if skip:
        assert result.records.empty and "zero-total" in result.skipped["reason"].iloc[0]
    else:
        assert body_total(one(result)) == 0


def test_sales_orders() -> None:
    inv = build_invoice(InvoiceSpec())
    result = run([inv], [], [payment(inv)], invoice_record_type="salesorder")
    rec = result.records[result.records["kind"] == "salesorder"].iloc[0]
    assert rec["external_id"] == "lago-salesorder-inv-000001" and rec["record_type"] == "salesorder"
    assert rec["body"]["type"] == "salesorder"
    assert result.lines["salesorder"]["external_id"].eq("lago-salesorder-inv-000001").all()
    assert any("sales orders" in w for w in result.warnings["message"])  # payments apply to invoices only


def test_usage_charges_grouped_on_one_line() -> None:
    m = mapping(options__usage_grouping={"item": {"item": "290", "account": "4090"},
                                         "rule": {"invoice_types": ["subscription"], "min_lines": 2}})
    inv = build_invoice(InvoiceSpec(entity="acme_us", fees=[
        FeeSpec("subscription", "growth", "1", "50", (0,)), FeeSpec("charge", "api_calls", "3", "1.5", (0, 1)),
        FeeSpec("charge", "storage_gb", "2", "2.25", (0,)), FeeSpec("charge", "beta_feature", "1", "1", ())]))
    result = run([inv], mappings=m)
    body = one(result)
    lines = sublist(body, "item")
    assert len(lines) == 2
    group = lines[1]
    assert group["item"] == "290" and group["quantity"] == 1 and group["amount"] == group["rate"] == 10.0
    assert group["description"] == "Usage charges (3 lines): Api Calls, Storage Gb, Beta Feature"
    assert group["custcol_service_period_date_from"] == "2/1/2024"
    grouped_rows = [t for t in tax_rows(body) if t["taxdetailsreference"] == "usage_charges"]
    assert sorted(t["taxcode"] for t in grouped_rows) == ["1101", "1102"]  # one row per tax of the group
    assert body_total(body) == major(inv["total_amount_cents"], "USD")
    assert result.warnings.empty  # the unmapped metric is inside the group, not on a fallback line


def test_grouping_rule_not_met_keeps_one_line_per_fee() -> None:
    m = mapping(options__usage_grouping={"item": {"item": "290"}, "rule": {"min_lines": 5}})
    inv = build_invoice(InvoiceSpec(fees=[FeeSpec(), FeeSpec(code="seats")]))
    assert len(sublist(one(run([inv], mappings=m)), "item")) == 2


# --- customers, references, statuses -------------------------------------------------------------------

def test_unlinked_customer_is_a_reference_and_a_dependency() -> None:
    result = run([build_invoice(InvoiceSpec())])
    rec = result.records.iloc[0]
    assert rec["body"]["columns"]["entity"] == {"$ref": "lago-customer-cust-000001"}
    assert rec["depends_on"] == ["lago-customer-cust-000001"]


def test_customer_linked_to_netsuite_is_used_literally() -> None:
    result = run([build_invoice(InvoiceSpec(customer_linked=True))])
    rec = result.records.iloc[0]
    assert rec["body"]["columns"]["entity"] == "900001" and rec["depends_on"] == []


@pytest.mark.parametrize(("status", "synced", "reason"), [("draft", (), "draft"), ("pending", (), "not final"),
                                                          ("failed", (), "not final"),
                                                          ("voided", (), "never synced")],
                         ids=["draft", "pending", "failed", "voided-never-synced"])
def test_invoices_not_sent(status: str, synced: tuple[str, ...], reason: str) -> None:
    result = run([build_invoice(InvoiceSpec(status=status))], synced=synced)
    assert result.records.empty and result.quarantined.empty
    assert reason in result.skipped["reason"].iloc[0]


@pytest.mark.parametrize("kind", ["invoice", "salesorder"])
def test_voided_synced_invoice_becomes_a_void(kind: str) -> None:
    result = run([build_invoice(InvoiceSpec(status="voided"))], synced=("inv-000001",), invoice_record_type=kind)
    rec = result.records.iloc[0]
    assert rec["action"] == "void" and rec["record_type"] == kind
    assert rec["body"] == {"externalId": f"lago-{kind}-inv-000001", "action": "void", "type": kind}


# --- quarantine ---------------------------------------------------------------------------------------

def _broken(change: Any) -> dict[str, Any]:
    inv = build_invoice(InvoiceSpec(n=2, fees=[FeeSpec(unit_amount="10", taxes=(0,))]))
    change(inv)
    return inv


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda i: i.update(total_amount_cents=i["total_amount_cents"] + 1), "total_amount_cents 1201 != sub total"),
        (lambda i: i.update(currency="CHF"), "currency CHF has no NetSuite currency mapping"),
        (lambda i: i.update(billing_entity_code="acme_mx"), "billing entity 'acme_mx' has no NetSuite subsidiary"),
        (lambda i: i.update(currency="XYZ"), "currency is not a known ISO 4217 currency: 'XYZ'"),
        (lambda i: i.pop("number"), "invoice inv-000002: number is missing"),
        (lambda i: i["fees"][0].update(amount_cents="1000"), "fees[0] (fee-000002-00).amount_cents is not an integer"),
        (lambda i: i["fees"][0].update(units=None), "fee fee-000002-00 units is missing"),
        (lambda i: i["fees"][0].update(precise_unit_amount="ten"),
         "precise_unit_amount is not a decimal number: 'ten'"),
        (lambda i: i["fees"][0]["item"].update(type="mystery"), "fee fee-000002-00 has unknown fee type 'mystery'"),
        (lambda i: i.pop("fees"), "fees is missing or not a list of objects"),
        (lambda i: i.update(issuing_date="yesterday"), "issuing_date is not an ISO date"),
        (lambda i: i["fees"][0].update(taxes_rate=13.0), "tax rate 13% matches no combination"),
        (lambda i: i.update(taxes_amount_cents=250, sub_total_including_taxes_amount_cents=1250,
                            total_amount_cents=1250), "differs from the sum of its applied_taxes"),
        (lambda i: i["customer"].pop("lago_id"), "customer.lago_id is missing"),
    ],
    ids=["lago-arithmetic", "unmapped-currency", "unmapped-subsidiary", "unknown-currency", "missing-number",
         "amount-as-string", "units-null", "unit-amount-not-a-number", "unknown-fee-type", "no-fees", "bad-date",
         "unmatched-tax-rate",
         "tax-total-drift", "no-customer"],
)
def test_bad_documents_are_quarantined_with_a_reason(change: Any, expected: str) -> None:
    good = build_invoice(InvoiceSpec(n=1))
    result = run([good, _broken(change)])
    assert result.records["external_id"].tolist() == ["lago-invoice-inv-000001"]  # the good one still goes
    assert result.quarantined["external_id"].tolist() == ["lago-invoice-inv-000002"]
    assert any(expected in r for r in reasons(result)), reasons(result)


@pytest.mark.parametrize("doc", ["not a dict", {"number": "X-1"}, {"lago_id": ""}], ids=["not-object", "no-lago-id",
                                                                                        "empty-lago-id"])
def test_documents_without_identity(doc: Any) -> None:
    result = run([doc, build_invoice(InvoiceSpec())])
    assert len(result.records) == 1
    (row,) = result.quarantined.to_dict("records")
    assert row["external_id"] is None and "invoice #0 in the batch" in row["reasons"][0]


def test_an_unexpected_failure_is_isolated_to_its_document(monkeypatch: pytest.MonkeyPatch) -> None:
    from lago_netsuite.transform import batch as pipeline

    real = pipeline.transform_invoices

    def flaky(fr: Any, *args: Any) -> Any:
        if (fr.invoices["number"] == "INV-000002").any():
            raise RuntimeError("boom")
        return real(fr, *args)

    monkeypatch.setattr(pipeline, "transform_invoices", flaky)
    invs = [build_invoice(InvoiceSpec(n=n)) for n in (1, 2, 3)]
    result = run(invs)
    assert sorted(result.records["external_id"]) == ["lago-invoice-inv-000001", "lago-invoice-inv-000003"]
    (row,) = result.quarantined.to_dict("records")
    assert row["lago_id"] == "inv-000002" and "could not be transformed (RuntimeError: boom)" in row["reasons"][0]


def test_duplicate_documents_are_sent_once() -> None:
    inv = build_invoice(InvoiceSpec())
    assert len(run([inv, inv]).records) == 1


def test_customer_records_and_invoices_together() -> None:
    inv = build_invoice(InvoiceSpec())
    result = run([inv], customers=[customer(1, "acme_eu")])
    assert result.records["kind"].tolist() == ["customer", "invoice"]
    assert result.counts() == {"records_customer": 1, "records_invoice": 1, "quarantined": 0, "skipped": 0,
                               "warnings": 0}


def test_a_systematic_failure_is_raised_not_quarantined(monkeypatch: pytest.MonkeyPatch) -> None:
    from lago_netsuite.transform import SystematicTransformError
    from lago_netsuite.transform import batch as pipeline

    def broken(*args: Any) -> Any:
        raise KeyError("a bug")

    monkeypatch.setattr(pipeline, "transform_invoices", broken)
    with pytest.raises(SystematicTransformError, match="more than 20 invoice documents"):
        run([build_invoice(InvoiceSpec(n=n)) for n in range(1, 30)])

"""The mapping file's ``fields`` section: extra NetSuite header and line fields on every record kind."""

from __future__ import annotations

import copy
from typing import Any

import pandas as pd
import pytest
import yaml

from lago_netsuite.transform.fields import apply_fields
from lago_netsuite.transform.mappings import MappingError, parse_mappings
from tests.unit.test_mappings import DEMO, edited
from tests.unit.test_transform_lago_factory import (
    FeeSpec,
    InvoiceSpec,
    build_credit_note,
    build_invoice,
    customer,
    payment,
    run,
    sublist,
)

FIELDS: dict[str, Any] = {
    "customer": {"header": {"custentity_segment": {"from": "customer_type",
                                                   "lookup": {"company": "71", "individual": "72"}}}},
    "invoice": {
        "header": {
            "department": "7",
            "custbody_po": {"from": "purchase_order_number", "optional": True},
            "custbody_region": {"from": "metadata.region", "lookup": {"north": "31", "south": "32"},
                                "default": "30"},
            "custbody_contract_start": {"from": "metadata.contract_start", "type": "date", "optional": True},
        },
        "lines": {
            "class": {"from": "item.code", "lookup": {"growth": "51", "api_calls": "52"}, "default": "50"},
            "custcol_subscription": {"from": "lago_subscription_id", "optional": True},
            "location": {"from": "document.billing_entity_code", "lookup": {"acme_us": "1", "acme_eu": "2"}},
        },
    },
    "creditmemo": {"header": {"department": "9", "custbody_invoice_ref": {"from": "invoice_number"}},
                   "lines": {"class": {"from": "item.code", "lookup": {"growth": "51"}, "default": "50"}}},
    "customerpayment": {"header": {"department": {"from": "reference"}}},
}


def mapping_with(fields: dict[str, Any], **changes: Any) -> Any:
    data = edited(fields=copy.deepcopy(fields), **changes)
    return parse_mappings(yaml.safe_dump(data, sort_keys=False), source="fields.yaml")


def invoice(n: int = 1, entity: str = "acme_us", coupon: bool = False, **extra: Any) -> dict[str, Any]:
    from decimal import Decimal

    doc = build_invoice(InvoiceSpec(n=n, entity=entity, coupon_fraction=Decimal("0.1") if coupon else Decimal(0),
                                    fees=[FeeSpec("subscription", "growth", "1", "100", (0,)),
                                          FeeSpec("charge", "beta_feature", "10", "2.5", (0,))]))
    doc["fees"][0]["lago_subscription_id"] = f"sub-{n}"
    doc.update(extra)
    return doc


def items(body: dict[str, Any]) -> list[dict[str, Any]]:
    return sublist(body, "item")


def reasons(result: Any) -> list[str]:
    return [r for rs in result.quarantined["reasons"] for r in rs]


def test_constants_paths_lookups_and_dates_land_on_every_record_kind() -> None:
    inv = invoice(purchase_order_number="PO-77", coupon=True,
                  metadata=[{"key": "region", "value": "south"}, {"key": "contract_start", "value": "2024-02-09"}])
    cn = build_credit_note(inv, [__import__("decimal").Decimal(1)] * 2)
    res = run([inv], [cn], [payment(inv)], [customer(1, "acme_us")], mappings=mapping_with(FIELDS))
    assert not len(res.quarantined), res.quarantined.to_dict("records")
    cols = res.body("lago-invoice-inv-000001")["columns"]
    assert (cols["department"], cols["custbody_po"], cols["custbody_region"], cols["custbody_contract_start"]) == \
        ("7", "PO-77", "32", "2/9/2024")
    lines = items(res.body("lago-invoice-inv-000001"))
    fee_lines = [ln for ln in lines if ln.get("custcol_lago_line_id")]
    assert [(ln["class"], ln.get("custcol_subscription"), ln["location"]) for ln in fee_lines] == \
        [("51", "sub-1", "1"), ("50", None, "1")]  # beta_feature -> default; no subscription -> left out
    coupon = [ln for ln in lines if not ln.get("custcol_lago_line_id")]
    assert coupon and all(ln["class"] == "50" and ln["location"] == "1" for ln in coupon)
    cm = res.body(f"lago-creditnote-{cn['lago_id']}")
    assert cm["columns"]["department"] == "9" and cm["columns"]["custbody_invoice_ref"] == inv["number"]
    assert [ln["class"] for ln in items(cm)] == ["51", "50"]
    assert res.body("lago-payment-pay-000001")["columns"]["department"] == "wire-1"
    assert res.body("lago-customer-cust-000001")["columns"]["custentity_segment"] == "71"


def test_billing_entity_overrides_field_by_field_and_salesorder_uses_the_invoice_section() -> None:
    m = mapping_with(FIELDS, billing_entities__acme_eu__fields={
        "invoice": {"header": {"department": "8"}, "lines": {"class": "59"}}})
    res = run([invoice(1, "acme_us"), invoice(2, "acme_eu")], mappings=m, invoice_record_type="salesorder")
    us, eu = res.body("lago-salesorder-inv-000001"), res.body("lago-salesorder-inv-000002")
    assert us["type"] == "salesorder" and us["columns"]["department"] == "7"
    assert eu["columns"]["department"] == "8" and eu["columns"]["custbody_region"] == "30"  # the rest inherited
    assert {ln["class"] for ln in items(eu)} == {"59"} and {ln["location"] for ln in items(eu)} == {"2"}


@pytest.mark.parametrize(("field", "spec", "extra", "reason"), [
    pytest.param("department", {"from": "metadata.cost_center"}, {},
                 "invoice INV-000001: field department from metadata.cost_center has no value in the Lago document",
                 id="missing-path"),
    pytest.param("department", {"from": "metadata.region", "lookup": {"north": "31"}},
                 {"metadata": [{"key": "region", "value": "west"}]},
                 "invoice INV-000001: field department from metadata.region: value 'west' is not in its lookup and "
                 "there is no default", id="lookup-miss"),
    pytest.param("department", {"from": "sections"}, {"sections": {"a": 1}},
                 "invoice INV-000001: field department from sections holds an object, not a single value",
                 id="object"),
    pytest.param("custbody_start", {"from": "metadata.start", "type": "date"},
                 {"metadata": [{"key": "start", "value": "soon"}]},
                 "invoice INV-000001: field custbody_start from metadata.start: value 'soon' is not an ISO date",
                 id="bad-date"),
])
def test_a_field_that_cannot_be_resolved_holds_its_document_back_and_others_go_on(
        field: str, spec: dict[str, Any], extra: dict[str, Any], reason: str) -> None:
    res = run([invoice(1, **extra), invoice(2, metadata=[{"key": k, "value": "north"} for k in
                                                          ("cost_center", "region")] + [
        {"key": "start", "value": "2024-01-31"}], sections="plain")],
        mappings=mapping_with({"invoice": {"header": {field: spec}}}))
    assert list(res.records["external_id"]) == ["lago-invoice-inv-000002"]
    assert [r for r in reasons(res) if r.startswith(reason)], reasons(res)


def test_a_line_lookup_miss_names_the_line() -> None:
    res = run([invoice(1)], mappings=mapping_with({"invoice": {"lines": {"class": {
        "from": "item.code", "lookup": {"growth": "51"}}}}}))
    assert reasons(res) == ["invoice INV-000001 line 2 (Lago line fee-000001-01): field class from item.code: "
                            "value 'beta_feature' is not in its lookup and there is no default"]


def test_charge_filter_values_and_document_paths_on_lines() -> None:
    inv = invoice(1)
    inv["fees"][1]["item"]["filters"] = {"region": ["eu"]}
    res = run([inv], mappings=mapping_with({"invoice": {"lines": {
        "custcol_region": {"from": "item.filters.region", "lookup": {"eu": "1", "us": "2"}, "optional": True},
        "custcol_invoice": {"from": "document.number"}}}}))
    lines = items(res.body("lago-invoice-inv-000001"))
    assert [(ln.get("custcol_region"), ln["custcol_invoice"]) for ln in lines] == [
        (None, "INV-000001"), ("1", "INV-000001")]


def test_the_step_is_generic_over_record_types_and_bodies() -> None:
    """A record type no builder here knows (a refund) gets its header fields from its document."""
    m = mapping_with({"customerrefund": {"header": {"department": {"from": "billing_entity_code",
                                                                   "lookup": {"acme_us": "11"}}}}})
    body = {"externalId": "lago-refund-cn-1", "type": "customerrefund", "columns": {"customer": "5"}, "lines": []}
    records = pd.DataFrame([{"external_id": "lago-refund-cn-1", "kind": "creditnote", "record_type": "customerrefund",
                             "action": "create", "lago_id": "cn-1", "number": "CN-1", "body": body}])
    kept, held = apply_fields(records, [{"lago_id": "cn-1", "billing_entity_code": "acme_us"}], m)
    assert held.empty and kept.iloc[0]["body"]["columns"] == {"customer": "5", "department": "11"}
    kept, held = apply_fields(records, [{"lago_id": "cn-1", "billing_entity_code": "acme_jp"}], m)
    assert kept.empty and held["reason"].tolist() == [
        "credit note CN-1: field department from billing_entity_code: value 'acme_jp' is not in its lookup and "
        "there is no default"]


@pytest.mark.parametrize(("fields", "problem"), [
    pytest.param({"invoice": {"header": {"entity": "3"}}},
                 "fields.invoice.header.entity: field 'entity' is set by lago-netsuite-sync itself", id="protected"),
    pytest.param({"creditmemo": {"lines": {"amount": {"from": "item.code"}}}},
                 "fields.creditmemo.lines.amount: field 'amount' is set by lago-netsuite-sync itself",
                 id="protected-line"),
    pytest.param({"invoice": {"header": {"department": 12}}},
                 "fields.invoice.header.department: 12 is a number; NetSuite ids are strings", id="number"),
    pytest.param({"invoice": {"header": {"department": {"from": "a b"}}}},
                 "fields.invoice.header.department.from: 'a b' is not a Lago path", id="bad-path"),
    pytest.param({"invoice": {"header": {"department": {"form": "x"}}}},
                 "fields.invoice.header.department: needs 'from' (a Lago path) or 'value' (a constant)",
                 id="no-from"),
    pytest.param({"customer": {"lines": {"class": "1"}}}, "fields.customer.lines: unknown key", id="no-lines"),
])
def test_a_broken_fields_section_names_file_key_and_line(fields: dict[str, Any], problem: str) -> None:
    data = copy.deepcopy(DEMO)
    data.pop("fields", None)
    text = yaml.safe_dump(data, sort_keys=False) + yaml.safe_dump({"fields": fields}, sort_keys=False)
    with pytest.raises(MappingError) as err:
        parse_mappings(text, source="bad.yaml")
    msg = str(err.value)
    assert "bad.yaml" in msg and problem in msg and "(line " in msg, msg


def test_a_customer_refund_gets_its_own_fields_from_the_credit_note_overridable_per_billing_entity() -> None:
    from decimal import Decimal

    from lago_netsuite.transform import TransformSettings, transform_documents

    fields = {**FIELDS, "customerrefund": {"header": {
        "department": "12", "custbody_refund_of": {"from": "number"},
        "custbody_refund_reason": {"from": "reason", "lookup": {"other": "3"}, "default": "4"}}}}
    m = mapping_with(fields, options__refund_account="1000",
                     billing_entities__acme_eu__fields={"customerrefund": {"header": {"department": "13"}}})
    notes = []
    for n, entity in ((1, "acme_us"), (2, "acme_eu")):
        inv = invoice(n, entity)
        note = build_credit_note(inv, [Decimal(1)] * len(inv["fees"]), offset_fraction=Decimal(0))
        note["refund_amount_cents"] = note["total_amount_cents"]
        note["credit_amount_cents"] = note["balance_amount_cents"] = 0
        note["refund_status"], note["reason"] = "succeeded", "other"
        notes.append((inv, note))
    result = transform_documents(invoices=[i for i, _ in notes], credit_notes=[n for _, n in notes], payments=[],
                                 customers=[], mappings=m, settings=TransformSettings.from_mappings(m))
    assert not len(result.quarantined), result.quarantined.to_dict("records")
    refunds = result.records[result.records["kind"] == "refund"].set_index("external_id")["body"]
    got = {ext: (b["columns"]["department"], b["columns"]["custbody_refund_of"], b["columns"]["custbody_refund_reason"])
           for ext, b in refunds.items()}
    assert got == {f"lago-refund-{notes[0][1]['lago_id']}": ("12", notes[0][1]["number"], "3"),
                   f"lago-refund-{notes[1][1]['lago_id']}": ("13", notes[1][1]["number"], "3")}

"""Mapped fields end to end: an account that requires a department, and every record kind's fields landing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from lago_netsuite_dev.sandbox.pair import DEMO_REQUIRED_FIELDS
from tests.plugins.sync_world import DEMO_MAPPING

EXTRA_FIELDS: dict[str, Any] = {
    "customer": {"header": {"custentity_lago_segment": {"from": "customer_type",
                                                        "lookup": {"company": "1", "individual": "2"}}}},
    "customerpayment": {"header": {"custbody_lago_customer": {"from": "external_customer_id"},
                                   "custbody_lago_paid_date": {"from": "created_at", "type": "date"}}},
    "customerrefund": {"header": {"custbody_lago_refund_of": {"from": "number"}, "class": "77"}},
}
DEPARTMENTS = {"acme_us": "101", "acme_eu": "102", "acme_jp": "103", "acme_kw": "104"}


def write_mapping(path: Path, *, departments: bool) -> Path:
    data = yaml.safe_load(DEMO_MAPPING.read_text())
    data["fields"].update(EXTRA_FIELDS)
    if not departments:
        for scope in [data, *data["billing_entities"].values()]:
            for section in (scope.get("fields") or {}).values():
                (section.get("header") or {}).pop("department", None)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_an_account_requiring_a_department_syncs_only_once_the_mapping_gives_one(sync_world_factory, tmp_path):
    world = sync_world_factory(mapping=write_mapping(tmp_path / "no_department.yaml", departments=False),
                               required_fields=DEMO_REQUIRED_FIELDS)
    assert world.run() == "failed"
    ledger = world.ledger()
    invoices = {f"lago-invoice-{i['lago_id']}": i for i in world.dataset.invoices if i["status"] == "finalized"}
    failed = {e: r for e, r in ledger.items() if r.state == "failed"}
    assert invoices and set(invoices) <= set(failed)
    assert {(r.last_error_code, r.last_error_message) for r in failed.values()} == {
        ("USER_ERROR", "Please enter value(s) for: Department")}
    assert not world.netsuite_records("invoice")

    world.configure(mapping_file=str(write_mapping(tmp_path / "with_department.yaml", departments=True)))
    assert world.run() == "success"
    landed = {r["externalId"]: r for r in world.netsuite_records()}
    assert set(invoices) <= set(landed)
    for ext, doc in invoices.items():
        body = landed[ext]["body"]
        assert body["columns"]["department"] == DEPARTMENTS[doc["billing_entity_code"]]
        meta = {m["key"]: m["value"] for m in doc["metadata"]}
        assert body["columns"].get("custbody_lago_cost_center") == meta.get("cost_center")
        lines = [ln for g in body["lines"] if g["sublistId"] == "item" for ln in g["lineItems"]]
        codes = {f["lago_id"]: f["item"]["code"] for f in doc["fees"]}
        assert [ln["class"] for ln in lines] == [
            {"starter": "11", "growth": "12", "enterprise": "13"}.get(codes.get(ln.get("custcol_lago_line_id")), "10")
            for ln in lines]
    memos = [r for r in landed.values() if r["type"] == "creditmemo"]
    assert memos and all(m["body"]["columns"]["department"] in DEPARTMENTS.values() for m in memos)
    customers = {c["lago_id"]: c for c in world.dataset.customers}
    made = [r for r in landed.values() if r["type"] == "customer"]
    assert made and all(r["body"]["columns"]["custentity_lago_segment"] == {"company": "1", "individual": "2"}[
        customers[r["externalId"].removeprefix("lago-customer-")]["customer_type"]] for r in made)
    payments = {f"lago-payment-{p['lago_id']}": p for p in world.dataset.payments}
    paid = [r for r in landed.values() if r["type"] == "customerpayment"]
    assert paid
    for r in paid:
        p = payments[r["externalId"]]
        year, month, day = (int(x) for x in p["created_at"][:10].split("-"))
        assert r["body"]["columns"]["custbody_lago_customer"] == p["external_customer_id"]
        assert r["body"]["columns"]["custbody_lago_paid_date"] == f"{month}/{day}/{year}"
    notes = {f"lago-refund-{n['lago_id']}": n for n in world.dataset.credit_notes
             if n.get("refund_status") == "succeeded" and n.get("refund_amount_cents")}
    refunds = [r for r in landed.values() if r["type"] == "customerrefund"]
    assert notes and sorted(r["externalId"] for r in refunds) == sorted(notes)
    assert all((r["body"]["columns"]["custbody_lago_refund_of"], r["body"]["columns"]["class"])
               == (notes[r["externalId"]]["number"], "77") for r in refunds)
    world.assert_exactly_once_and_in_agreement()

"""Customers through the whole sync DAG: fields NetSuite would refuse never hold a customer back, and a
customer that is held back is named, with its reason, by every document waiting on it until fixed."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from lago_netsuite.ledger import schema, store
from tests.plugins.sync_world import SyncWorld

pytestmark = [pytest.mark.airflow, pytest.mark.slow]


def unlinked_customers_with_invoices(world: SyncWorld) -> list[dict[str, Any]]:
    with_invoices = {i["customer"]["external_id"] for i in world.dataset.invoices if i["status"] == "finalized"}
    return [c for c in world.dataset.customers if c["external_id"] in with_invoices
            and not any(link["type"] == "netsuite" for link in c["integration_customers"])]


def documents_of(world: SyncWorld, customer: dict[str, Any]) -> set[str]:
    ext = customer["external_id"]
    invoices = {i["lago_id"] for i in world.dataset.invoices
                if i["status"] == "finalized" and i["customer"]["external_id"] == ext}
    return ({f"lago-invoice-{i}" for i in invoices}
            | {f"lago-creditnote-{c['lago_id']}" for c in world.dataset.credit_notes
               if c["lago_invoice_id"] in invoices}
            | {f"lago-payment-{p['lago_id']}" for p in world.dataset.payments
               if p["payment_status"] == "succeeded" and set(p["invoice_ids"]) & invoices})


def warnings_of(world: SyncWorld, external_id: str) -> list[str]:
    e = schema.event
    with store.get_engine(world.store_url).connect() as conn:
        return list(conn.execute(sa.select(e.c.message).where(e.c.external_id == external_id, e.c.code == "WARNING"))
                    .scalars())


def test_unusable_customer_fields_never_hold_back_and_a_held_customer_is_named_then_released(
        sync_world_factory) -> None:
    world: SyncWorld = sync_world_factory(customers=20)
    customers = {c["external_id"]: c for c in unlinked_customers_with_invoices(world)}
    # as the Lago sandbox generates them: three addresses; a phone over NetSuite's 32 characters
    several, bad_phone = customers["cust-00010"], customers["cust-00017"]
    assert several["email"].count(",") == 2 and len(bad_phone["phone"]) > 32
    nameless = copy.deepcopy(customers["cust-00012"])
    fixed = copy.deepcopy(nameless)
    nameless.update(name=None, legal_name=None, firstname=None, lastname=None, customer_type="company")
    world.lago_admin("POST", "documents/customers", nameless)

    assert world.run() == "failed"  # the nameless customer is quarantined: the run shows red
    ledger = world.ledger()
    records = {r["externalId"]: r for r in world.netsuite_records()}
    key = {c["external_id"]: f"lago-customer-{c['lago_id']}" for c in (several, bad_phone, nameless)}

    # several e-mails: first to email, second to altemail, the unusable one named in the ledger
    cols = records[key[several["external_id"]]]["body"]["columns"]
    assert (cols["email"], cols["altemail"]) == ("billing10@customer10.example", "finance10@customer10.example")
    assert any("field email: Lago holds 3 addresses" in w and "not in NetSuite (kept here): 'ap10@customer10.example'"
               in w for w in warnings_of(world, key[several["external_id"]]))
    # an unusable phone: left out, the warning names the field and the value
    assert "phone" not in records[key[bad_phone["external_id"]]]["body"]["columns"]
    assert any(f"field phone: value {bad_phone['phone']!r} left out" in w
               for w in warnings_of(world, key[bad_phone["external_id"]]))
    for customer in (several, bad_phone):  # each with every one of its documents, at Lago's totals
        docs = documents_of(world, customer)
        assert docs and all(ledger[d].state == "synced" for d in docs | {key[customer["external_id"]]})
        for d in (d for d in docs if d.startswith("lago-invoice-")):
            assert Decimal(records[d]["total"]) == Decimal(world.lago_total("invoice", d.removeprefix("lago-invoice-")))

    # the nameless customer is held back; each of its documents names it and its reason
    held = key[nameless["external_id"]]
    assert ledger[held].state == "quarantined"
    blocked = documents_of(world, nameless)
    expected = (f"customer {nameless['external_id']} ({held}), quarantined: customer {nameless['external_id']}: "
                "has no name")
    invoices = {d for d in blocked if d.startswith("lago-invoice-")}
    assert invoices and all(ledger[d].state == "waiting" and expected in ledger[d].last_error_message
                            for d in invoices), {d: ledger[d].last_error_message for d in invoices}
    waiting = {w["external_id"]: w["reason"] for w in world.report()["waiting"]}
    assert all(expected in waiting[d] for d in invoices)

    world.lago_admin("POST", "documents/customers", fixed)  # corrected in Lago
    assert world.run() == "success"
    ledger = world.ledger()
    assert {d: ledger[d].state for d in blocked | {held}} == {d: "synced" for d in blocked | {held}}
    world.assert_exactly_once_and_in_agreement()

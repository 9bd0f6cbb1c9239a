"""Changes Lago makes long after a document was synced, found by the hourly DAG's status-filtered lists."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from lago_netsuite.ledger import schema, store
from tests.plugins.sync_world import SyncWorld

pytestmark = [pytest.mark.airflow, pytest.mark.slow]


def _synced_world(sync_world_factory) -> SyncWorld:
    """20 days of Lago history, all synced by a backfill; then hourly runs with a one-day look-back."""
    world = sync_world_factory(invoices=40, customers=8, days=20)
    first = min(i["issuing_date"] for i in world.dataset.invoices)
    assert world.run("lago_netsuite_backfill", {"start_date": first}) == "success"
    world.configure(lookback_days=1)
    assert world.run() == "success"  # the first hourly run learns the late-change lists
    return world


def _lago_calls(world: SyncWorld) -> int:
    return int(world.lago_admin("GET", "stats")["total"])


def _stored(world: SyncWorld, kind: str, lago_id: str) -> str:
    t = schema.document
    with store.get_engine(world.store_url).connect() as conn:
        return conn.execute(sa.select(t.c.payload_hash).where(t.c.kind == kind, t.c.lago_id == lago_id)).scalar_one()


def test_late_void_credit_note_and_failed_payment_reach_the_hourly_run(sync_world_factory) -> None:
    world = _synced_world(sync_world_factory)
    old = (dt.date.today() - dt.timedelta(days=10)).isoformat()
    outside = (dt.date.today() - dt.timedelta(days=3)).isoformat()  # before the 1-day look-back window
    records = {r["externalId"]: r for r in world.netsuite_records()}

    # nothing new: the hourly run's Lago calls stay a small constant
    before = _lago_calls(world)
    assert world.run() == "success"
    quiet = _lago_calls(world) - before
    assert world.report()["extract"]["late_calls"] == 4  # one page of each late-change list
    assert quiet <= 8, quiet

    # an invoice issued 10+ days ago and synced, voided now in Lago
    invoice = next(i for i in world.dataset.invoices if i["status"] == "finalized" and i["issuing_date"] <= old
                   and f"lago-invoice-{i['lago_id']}" in records)
    world.lago_admin("POST", f"invoices/{invoice['lago_id']}/void")
    # a synced credit note voided late, a synced payment that fails after it had succeeded
    note = next(n for n in world.dataset.credit_notes if n["issuing_date"] <= outside
                and f"lago-creditnote-{n['lago_id']}" in records)
    world.lago_admin("POST", "documents/credit_notes", {**note, "credit_status": "voided"})
    payment = next(p for p in world.dataset.payments if f"lago-payment-{p['lago_id']}" in records
                   and p["created_at"][:10] <= outside and invoice["lago_id"] not in p["invoice_ids"])
    paid = world.lago_admin("POST", f"payments/{payment['lago_id']}/fail")["invoices"][0]

    assert world.run() == "success"
    extract = world.report()["extract"]
    assert {invoice["lago_id"], note["lago_id"], paid["lago_id"]} <= set(extract["late_changed"]), extract
    ext = f"lago-invoice-{invoice['lago_id']}"
    voided = next(r for r in world.netsuite_records("invoice") if r["externalId"] == ext)
    assert voided["voided"] is True
    row = world.ledger()[ext]
    assert (row.state, row.action) == ("voided", "void")
    # the changed credit note and payment were read again and went through the transform
    ledger = world.ledger()
    for kind, doc in (("creditnote", note), ("payment", payment)):
        assert ledger[f"lago-{kind}-{doc['lago_id']}"].source_hash == _stored(world, kind, doc["lago_id"])
    world.assert_exactly_once_and_in_agreement()


def test_the_daily_sweep_repairs_a_planted_difference_and_reports_what_lago_lost(sync_world_factory) -> None:
    world = sync_world_factory(invoices=30, customers=6, days=20)
    first = min(i["issuing_date"] for i in world.dataset.invoices)
    assert world.run("lago_netsuite_backfill", {"start_date": first}) == "success"
    world.configure(late_changes=False)  # only the sweep may find what follows
    records = {r["externalId"] for r in world.netsuite_records()}
    invoice = next(i for i in world.dataset.invoices if i["status"] == "finalized"
                   and f"lago-invoice-{i['lago_id']}" in records)
    world.lago_admin("POST", f"invoices/{invoice['lago_id']}/void")
    note = next(n for n in world.dataset.credit_notes if f"lago-creditnote-{n['lago_id']}" in records)
    good = _stored(world, "creditnote", note["lago_id"])
    t = schema.document
    with store.get_engine(world.store_url).begin() as conn:  # the store's copy no longer what Lago has
        conn.execute(t.update().where(t.c.kind == "creditnote", t.c.lago_id == note["lago_id"])
                     .values(payload_hash="0" * 64))
    payment = next(p for p in world.dataset.payments if f"lago-payment-{p['lago_id']}" in records)
    world.lago_admin("DELETE", f"documents/payments/{payment['lago_id']}")

    assert world.run("lago_netsuite_reconcile") == "success"
    sweep = world.report()["extract"]["sweep"]
    assert sweep["differ"]["invoice"] == [invoice["lago_id"]]
    assert sweep["differ"]["creditnote"] == [note["lago_id"]]
    assert sweep["missing_in_lago"] == {"payment": [payment["lago_id"]]}
    assert sweep["compared"] == len(records) - len([r for r in records if r.startswith("lago-customer")])
    assert _stored(world, "creditnote", note["lago_id"]) == good
    ext = f"lago-invoice-{invoice['lago_id']}"
    assert next(r for r in world.netsuite_records("invoice") if r["externalId"] == ext)["voided"] is True
    assert world.ledger()[ext].state == "voided"
    world.assert_exactly_once_and_in_agreement()


def test_a_run_before_the_sync_start_date_says_so(sync_world_factory) -> None:
    world = sync_world_factory(invoices=5, customers=2, days=2)
    world.configure(sync_start_date=dt.date.today().isoformat())
    assert world.run("lago_netsuite_backfill", {"start_date": "2024-01-01", "end_date": "2024-01-31"}) == "success"
    report = world.report()
    assert "before the sync start date" in report["extract"]["before_sync_start"]
    assert report["totals"]["synced"] == 0 and world.netsuite_records("invoice") == []

"""The sync DAGs run by Airflow (dag.test) against both sandboxes: what lands in NetSuite and the ledger."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.plugins.sync_world import SyncWorld

pytestmark = [pytest.mark.airflow, pytest.mark.slow]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_fresh_sync_lands_every_document_once_with_lagos_totals(sync_world_factory, backend, request) -> None:
    store_url = request.getfixturevalue("postgres_url") if backend == "postgresql" else None
    world: SyncWorld = sync_world_factory(store_url=store_url)
    assert world.run() == "success"
    world.assert_exactly_once_and_in_agreement()
    records = {r["externalId"]: r for r in world.netsuite_records()}
    data = world.dataset
    finalized = [i for i in data.invoices if i["status"] == "finalized"]
    succeeded = [p for p in data.payments if p["payment_status"] == "succeeded"]
    assert {f"lago-invoice-{i['lago_id']}" for i in finalized} <= set(records)
    assert {f"lago-payment-{p['lago_id']}" for p in succeeded} <= set(records)
    assert {f"lago-creditnote-{c['lago_id']}" for c in data.credit_notes} <= set(records)
    # totals: every document's NetSuite total equals Lago's, to the last minor unit
    for inv in finalized:
        rec = records[f"lago-invoice-{inv['lago_id']}"]
        assert Decimal(rec["total"]) == Decimal(world.lago_total("invoice", inv["lago_id"])), inv["number"]
    for note in data.credit_notes:
        rec = records[f"lago-creditnote-{note['lago_id']}"]
        assert Decimal(rec["total"]) == Decimal(world.lago_total("creditnote", note["lago_id"])), note["number"]
    report = world.report()
    assert report["totals"]["synced"] == len(records)
    assert report["totals"]["failed"] == report["totals"]["quarantined"] == 0
    # nothing but succeeded payments, finalized invoices and unlinked customers was sent
    ledger = world.ledger()
    skipped = {e: r.last_error_message for e, r in ledger.items() if r.state == "skipped"}
    assert all("payment status" in m or "linked to NetSuite" in m or "voided" in m
               or (m.startswith("refund of credit note") and ("pending" in m or "failed" in m))
               for m in skipped.values()), skipped


def test_a_second_run_sends_nothing_and_creates_nothing(sync_world: SyncWorld) -> None:
    assert sync_world.run() == "success"
    before = sync_world.netsuite_stats()
    assert sync_world.run() == "success"
    after = sync_world.netsuite_stats()
    assert after["records_received"] == before["records_received"]
    assert after["records_created"] == before["records_created"]
    assert sync_world.report()["totals"]["synced"] == 0
    sync_world.assert_exactly_once_and_in_agreement()


def test_a_voided_invoice_is_voided_in_netsuite(sync_world: SyncWorld) -> None:
    assert sync_world.run() == "success"
    invoice = next(i for i in sync_world.dataset.invoices if i["status"] == "finalized" and i["total_amount_cents"])
    sync_world.lago_admin("POST", f"invoices/{invoice['lago_id']}/void")
    assert sync_world.run() == "success"
    ext = f"lago-invoice-{invoice['lago_id']}"
    record = next(r for r in sync_world.netsuite_records("invoice") if r["externalId"] == ext)
    assert record["voided"] is True
    row = sync_world.ledger()[ext]
    assert (row.state, row.action, row.netsuite_id) == ("voided", "void", record["id"])
    assert sync_world.report()["totals"]["voided"] == 1
    sync_world.assert_exactly_once_and_in_agreement()


def test_a_credit_note_for_an_invoice_synced_earlier_is_applied_to_it(sync_world: SyncWorld) -> None:
    import copy
    import uuid

    assert sync_world.run() == "success"
    # A credit note on an invoice that still owes at least as much as the note (NetSuite refuses an
    # application above the invoice's amount due, as Lago refuses such an offset).
    invoices = {i["lago_id"]: i for i in sync_world.dataset.invoices}
    source = next(c for c in sync_world.dataset.credit_notes
                  if invoices[c["lago_invoice_id"]]["status"] == "finalized"
                  and invoices[c["lago_invoice_id"]]["total_due_amount_cents"] >= c["total_amount_cents"] > 0)
    invoice_ext = f"lago-invoice-{source['lago_invoice_id']}"
    invoice_row = sync_world.ledger()[invoice_ext]
    assert invoice_row.state == "synced"
    # Lago issues a second credit note on that invoice after it reached NetSuite, offset against
    # what is still due on it: the credit memo must be applied to the NetSuite invoice.
    note = copy.deepcopy(source)
    note.update(lago_id=str(uuid.uuid4()), number=f"{source['number']}-2",
                offset_amount_cents=source["total_amount_cents"],
                credit_amount_cents=0, refund_amount_cents=0, balance_amount_cents=0, credit_status=None,
                refund_status=None)
    sync_world.lago_admin("POST", "documents/credit_notes", note)
    assert sync_world.run() == "success"
    ext = f"lago-creditnote-{note['lago_id']}"
    record = next(r for r in sync_world.netsuite_records("creditmemo") if r["externalId"] == ext)
    apply = [s for s in record["body"]["lines"] if s["sublistId"] == "apply"]
    assert apply and apply[0]["lineItems"][0]["doc"] == invoice_row.netsuite_id
    expected = Decimal(sync_world.lago_total("creditnote", note["lago_id"]))
    assert Decimal(str(apply[0]["lineItems"][0]["amount"])) == expected
    assert Decimal(record["total"]) == Decimal(sync_world.lago_total("creditnote", note["lago_id"]))
    sync_world.assert_exactly_once_and_in_agreement()


def test_a_payment_that_arrives_before_its_invoice_waits_then_syncs(sync_world: SyncWorld) -> None:
    payment = next(p for p in sync_world.dataset.payments if p["payment_status"] == "succeeded")
    invoice_id = payment["invoice_ids"][0]
    invoice = next(i for i in sync_world.dataset.invoices if i["lago_id"] == invoice_id)
    sync_world.lago_admin("DELETE", f"documents/invoices/{invoice_id}")
    assert sync_world.run() == "success"
    ext = f"lago-payment-{payment['lago_id']}"
    row = sync_world.ledger()[ext]
    assert row.state == "waiting" and f"lago-invoice-{invoice_id}" in row.last_error_message
    assert ext not in {r["externalId"] for r in sync_world.netsuite_records()}
    assert any(w["external_id"] == ext for w in sync_world.report()["waiting"])
    sync_world.lago_admin("POST", "documents/invoices", invoice)
    assert sync_world.run() == "success"
    assert sync_world.ledger()[ext].state == "synced"
    sync_world.assert_exactly_once_and_in_agreement()


def test_a_quarantined_document_does_not_stop_its_neighbours_and_fails_the_run(sync_world_factory, tmp_path) -> None:
    import yaml

    from tests.plugins.sync_world import DEMO_MAPPING

    mapping = yaml.safe_load(DEMO_MAPPING.read_text())
    del mapping["items"]["billable_metrics"]["api_calls"]  # acme_eu keeps its own api_calls mapping
    mapping["items"].pop("fallback", None)
    for scope in (mapping.get("billing_entities") or {}).values():
        (scope.get("items") or {}).pop("fallback", None)
    path = tmp_path / "no_fallback.yaml"
    path.write_text(yaml.safe_dump(mapping))
    world = sync_world_factory(mapping=path)
    assert world.run() == "failed"
    ledger = world.ledger()
    quarantined = {e: r for e, r in ledger.items() if r.state == "quarantined"}
    uses_api_calls = {f"lago-invoice-{i['lago_id']}" for i in world.dataset.invoices if i["status"] == "finalized"
                      and i["billing_entity_code"] != "acme_eu"  # zero fees are not lines: need no mapping
                      and any(f["item"]["code"] == "api_calls" and f["amount_cents"] > 0 for f in i.get("fees") or [])}
    eu_api_calls = {f"lago-invoice-{i['lago_id']}" for i in world.dataset.invoices if i["status"] == "finalized"
                    and i["billing_entity_code"] == "acme_eu"
                    and any(f["item"]["code"] == "api_calls" and f["amount_cents"] > 0 for f in i.get("fees") or [])}
    assert not eu_api_calls & set(quarantined), "the billing-entity mapping of api_calls still applies"
    assert uses_api_calls and {e for e in quarantined if e.startswith("lago-invoice-")} == uses_api_calls
    assert all("api_calls" in quarantined[e].last_error_message for e in uses_api_calls)
    synced = [e for e, r in ledger.items() if r.state == "synced" and e.startswith("lago-invoice-")]
    assert synced, "the good invoices next to the quarantined ones were synced"
    report = world.report()
    assert {q["external_id"] for q in report["quarantined"]} >= uses_api_calls
    world.assert_exactly_once_and_in_agreement()


def test_a_throttled_account_is_retried_and_everything_lands(sync_world_factory) -> None:
    world = sync_world_factory()
    world.netsuite_configure(faults={"calls": [{"kind": "throttle_400", "method": "POST", "calls": 3},
                                               {"kind": "throttle_429", "method": "POST", "calls": 2, "skip": 3}]})
    assert world.run() == "success"
    assert world.netsuite_stats()["throttled"] == 5
    assert world.report()["totals"]["failed"] == 0
    world.assert_exactly_once_and_in_agreement()


def test_a_lost_response_after_the_write_committed_creates_no_duplicate(sync_world_factory) -> None:
    world = sync_world_factory()
    world.netsuite_configure(faults={"calls": [{"kind": "lost_response", "method": "POST", "calls": 2, "skip": 1}]})
    assert world.run() == "success"
    stats = world.netsuite_stats()
    assert stats["faults_injected"].get("lost_response") == 2
    world.assert_exactly_once_and_in_agreement()
    assert all(r.state in ("synced", "skipped") for r in world.ledger().values())


def _finalized_before_after(world: SyncWorld, start: str) -> tuple[set[str], set[str]]:
    inv = [i for i in world.dataset.invoices if i["status"] == "finalized"]
    return ({f"lago-invoice-{i['lago_id']}" for i in inv if i["issuing_date"] < start},
            {f"lago-invoice-{i['lago_id']}" for i in inv if i["issuing_date"] >= start})


def test_backfill_from_a_date_syncs_the_range_and_is_safe_to_repeat(sync_world_factory) -> None:
    world = sync_world_factory(invoices=60, days=20)
    dates = sorted({i["issuing_date"] for i in world.dataset.invoices if i["status"] == "finalized"})
    start = dates[len(dates) // 2]
    assert world.run("lago_netsuite_backfill", {"start_date": start}) == "success"
    earlier, in_range = _finalized_before_after(world, start)
    synced = {r["externalId"] for r in world.netsuite_records("invoice")}
    assert in_range <= synced
    # An earlier invoice is synced only as the dependency of a payment or credit note of the range.
    needed = {f"lago-invoice-{i}" for p in world.dataset.payments
              if p["payment_status"] == "succeeded" and p["created_at"][:10] >= start for i in p["invoice_ids"]}
    needed |= {f"lago-invoice-{n['lago_invoice_id']}" for n in world.dataset.credit_notes if n["issuing_date"] >= start}
    assert synced & earlier <= needed
    assert earlier - needed, "the dataset should hold earlier invoices nobody needs"
    assert not (earlier - needed) & synced
    received = world.netsuite_stats()["records_received"]
    assert world.run("lago_netsuite_backfill", {"start_date": start}) == "success"
    assert world.netsuite_stats()["records_received"] == received
    world.assert_exactly_once_and_in_agreement()


def test_nothing_issued_before_the_sync_start_date_is_sent(sync_world_factory) -> None:
    world = sync_world_factory(invoices=60, days=20)
    dates = sorted({i["issuing_date"] for i in world.dataset.invoices if i["status"] == "finalized"})
    cutover = dates[len(dates) // 2]
    world.configure(sync_start_date=cutover)
    assert world.run("lago_netsuite_backfill", {"start_date": dates[0]}) == "success"
    earlier, in_range = _finalized_before_after(world, cutover)
    synced = {r["externalId"] for r in world.netsuite_records("invoice")}
    assert synced == in_range
    ledger = world.ledger()
    for payment in world.netsuite_records("customerpayment"):
        assert ledger[payment["externalId"]].state == "synced"
    before = [r for e, r in ledger.items() if r.last_error_code == "BEFORE_SYNC_START"]
    assert before and all(r.state == "skipped" and cutover in r.last_error_message for r in before)
    world.assert_exactly_once_and_in_agreement()


def test_retry_one_document_by_number(sync_world_factory) -> None:
    world = sync_world_factory()
    invoice = next(i for i in world.dataset.invoices if i["status"] == "finalized")
    world.netsuite_configure(faults={"records": [{"kind": "record_error",
                                                  "externalId": f"lago-invoice-{invoice['lago_id']}",
                                                  "code": "INSUFFICIENT_PERMISSION", "message": "closed period",
                                                  "times": 1}]})
    assert world.run() == "failed"
    ext = f"lago-invoice-{invoice['lago_id']}"
    row = world.ledger()[ext]
    assert (row.state, row.last_error_code) == ("failed", "INSUFFICIENT_PERMISSION")
    assert world.report()["failed"][0]["reason"] == "closed period"
    assert world.run("lago_netsuite_retry_document", {"document": invoice["number"]}) == "success"
    assert world.ledger()[ext].state == "synced"
    world.assert_exactly_once_and_in_agreement()


def test_the_catalog_dag_stores_catalog_and_customers_and_reports_coverage(sync_world: SyncWorld) -> None:
    from lago_netsuite.ledger import catalog, store

    assert sync_world.run("lago_netsuite_catalog") == "success"
    counts = catalog.catalog_counts(store.get_engine(sync_world.store_url))
    data = sync_world.dataset
    assert counts == {"billing_entity": len(data.billing_entities), "tax": len(data.taxes), "plan": len(data.plans),
                      "coupon": len(data.coupons), "add_on": len(data.add_ons),
                      "billable_metric": len(data.billable_metrics), "customer": len(data.customers)}
    # the sandbox holds no NetSuite records from this DAG: it only reads and checks
    assert sync_world.netsuite_records() == []
    assert sync_world.run("lago_netsuite_catalog") == "success"  # idempotent
    assert catalog.catalog_counts(store.get_engine(sync_world.store_url)) == counts


def test_a_wrong_netsuite_secret_fails_once_naming_the_connection(sync_world: SyncWorld) -> None:
    import json
    import os

    conn = json.loads(os.environ["AIRFLOW_CONN_NETSUITE_DEFAULT"])
    conn["extra"]["token_secret"] = "f" * 64
    sync_world.monkeypatch.setenv("AIRFLOW_CONN_NETSUITE_DEFAULT", json.dumps(conn))
    assert sync_world.run() == "failed"
    stats = sync_world.netsuite_stats()
    assert stats["calls"]["total"] == 1, "a refused credential must not be retried"
    assert sync_world.netsuite_records() == []

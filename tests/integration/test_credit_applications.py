"""Credit notes as NetSuite books them, through the whole sync against both sandboxes.

The pipeline's steps run in process (extract → transform → load stage by stage → report), as the
DAG runs them, on SQLite and PostgreSQL. What is checked is what landed in the NetSuite sandbox:
every invoice's amount due equals Lago's, every succeeded refund is one customer refund applied to
its memo, every credit consumed is one application, and ``credit_notes: lago_lines`` keeps the old
booking.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from lago_netsuite.ledger import schema, store
from lago_netsuite.money import to_major
from lago_netsuite_dev.sandbox.books import customer_ar, invoice_dues, is_flagged, netsuite_by_external_id
from lago_netsuite_dev.sandbox.server import serve_in_thread
from tests.plugins.netsuite_sandbox import ACCOUNT_ID, CREDENTIALS

ROOT = Path(__file__).resolve().parents[2]
MAPPING = ROOT / "include" / "mappings" / "netsuite_mapping.yaml"
LAGO_KEY = "lago-test-api-key-credit"


class World:
    """Both sandboxes on loopback, connections in the environment, a store; runs the sync in process."""

    def __init__(self, dataset: Any, pair: Any, store_url: str, tmp: Path, monkeypatch: pytest.MonkeyPatch,
                 mapping: Path) -> None:
        self.dataset, self.pair, self.store_url = dataset, pair, store_url
        self.lago, self.netsuite = serve_in_thread(pair.lago_app), serve_in_thread(pair.netsuite_app)
        monkeypatch.setenv("AIRFLOW_CONN_LAGO_DEFAULT", json.dumps(
            {"conn_type": "lago", "host": f"{self.lago.url}/api/v1", "password": LAGO_KEY,
             "extra": {"requests_per_second": 500, "retry_backoff_s": 0.05}}))
        monkeypatch.setenv("AIRFLOW_CONN_NETSUITE_DEFAULT", json.dumps(
            {"conn_type": "netsuite", "extra": {"account_id": ACCOUNT_ID, **CREDENTIALS, "base_url": self.netsuite.url,
                                                "script": "customscript_lago_netsuite_sync",
                                                "deploy": "customdeploy_lago_netsuite_sync", "timeout": 5}}))
        self.settings = {"mapping_file": str(mapping), "data_docs_dir": str(tmp / "docs"), "batch_size": 25,
                         "load_parallelism": 1, "in_run_retry_seconds": 2}

    def run(self, run_id: str, window_from: date | None = None) -> dict[str, Any]:
        from lago_netsuite.orchestration import steps as pipeline
        from tests.reliability.harness import run_context

        ctx = run_context(run_id, self.settings, self.store_url)
        dates = [i["issuing_date"] for i in self.dataset.invoices] + [n["issuing_date"] for n in
                                                                      self.dataset.credit_notes]
        window = (window_from or date.fromisoformat(min(dates)), date.fromisoformat(max(dates)) + timedelta(days=1))
        produced = pipeline.produce(ctx, lambda on_slice: pipeline.extract(
            ctx, lago_conn_id="lago_default", window=window, on_slice=on_slice))
        pipeline.lane(ctx, 0, netsuite_conn_id="netsuite_default", producer=lambda: "done")
        return pipeline.report(ctx, extract_counts=produced["extract"], transform_counts=produced["transform"])

    def raw_records(self) -> list[dict[str, Any]]:
        return requests.get(f"{self.netsuite.url}/_sandbox/records", timeout=30).json()["records"]

    def records(self) -> dict[str, dict[str, Any]]:
        return netsuite_by_external_id(self.raw_records())

    def ledger(self) -> dict[str, Any]:
        with store.get_engine(self.store_url).connect() as conn:
            return {r.external_id: r for r in conn.execute(sa.select(schema.ledger))}

    def stop(self) -> None:
        self.lago.stop()
        self.netsuite.stop()


@pytest.fixture
def world_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., World]]:
    from lago_netsuite_dev.sandbox.lago.generator import DatasetSpec, generate
    from lago_netsuite_dev.sandbox.pair import build_pair

    started: list[World] = []

    def factory(store_url: str | None = None, *, invoices: int = 150, customers: int = 8, seed: int = 50,
                mapping: Path = MAPPING) -> World:
        today = date.today()
        dataset = generate(DatasetSpec(seed=seed, customers=customers, invoices=invoices,
                                       start_date=today - timedelta(days=240), end_date=today, as_of_end=True))
        pair = build_pair(dataset, lago_api_key=LAGO_KEY, mapping_path=mapping, lago_rate_limit=None,
                          netsuite_credentials={"account_id": ACCOUNT_ID, **CREDENTIALS})
        world = World(dataset, pair, store_url or f"sqlite:///{tmp_path / 'store.db'}", tmp_path, monkeypatch,
                      mapping)
        started.append(world)
        return world

    yield factory
    for world in started:
        world.stop()
    store.dispose_engines()
    from lago_netsuite.ledger import runtime

    runtime._migrated.clear()


def _consumed_credits(dataset: Any) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(inv, c) for inv in dataset.invoices if inv["status"] == "finalized"
            for c in inv.get("credits") or [] if c["item"]["type"] == "credit_note"]


def check_books(world: World) -> dict[str, Any]:
    """Assert the books agree with Lago; return the figures (applications, refunds, A/R per customer)."""
    ds, ns, ledger = world.dataset, world.records(), world.ledger()
    assert Counter((r["type"], r["externalId"]) for r in world.raw_records()).most_common(1)[0][1] == 1
    assert not [e for e, r in ledger.items() if r.state in ("sent", "failed", "quarantined")], \
        [(e, r.state, r.last_error_message) for e, r in ledger.items() if r.state in ("failed", "quarantined")][:3]
    # Every credit consumed by a later invoice: one application, synced, of exactly that amount.
    consumed = _consumed_credits(ds)
    memo_of = {n["lago_id"]: ns[f"lago-creditnote-{n['lago_id']}"] for n in ds.credit_notes
               if f"lago-creditnote-{n['lago_id']}" in ns}
    for inv, credit in consumed:
        row = ledger[f"lago-creditapply-{credit['lago_id']}"]
        assert row.state == "synced" and row.kind == "creditapply"
        memo = memo_of[credit["item"]["lago_item_id"]]
        invoice = ns[f"lago-invoice-{inv['lago_id']}"]
        assert Decimal(memo["applications"][invoice["id"]]) == to_major(credit["amount_cents"], inv["currency"])
        assert row.netsuite_id == memo["id"]
        # the invoice carries no negative credit-note line: its total is Lago's plus the credit
        assert Decimal(invoice["total"]) == to_major(inv["total_amount_cents"] + inv["credit_notes_amount_cents"],
                                                     inv["currency"])
    # Every succeeded refund once, as a customer refund applied to its memo; none for the others.
    refunds = {r["externalId"]: r for r in ns.values() if r["type"] == "customerrefund"}
    succeeded = [n for n in ds.credit_notes if n["refund_amount_cents"] and n["refund_status"] == "succeeded"
                 and f"lago-creditnote-{n['lago_id']}" in ns]
    assert set(refunds) == {f"lago-refund-{n['lago_id']}" for n in succeeded}
    for note in succeeded:
        line = refunds[f"lago-refund-{note['lago_id']}"]["body"]["lines"][0]["lineItems"][0]
        assert str(line["doc"]) == memo_of[note["lago_id"]]["id"]
        assert Decimal(str(line["amount"])) == to_major(note["refund_amount_cents"], note["currency"])
    for note in ds.credit_notes:
        if note["refund_amount_cents"] and note["refund_status"] != "succeeded":
            assert ledger[f"lago-refund-{note['lago_id']}"].state == "skipped"
    # No credit counted twice: a memo never gives more than its total.
    for memo in memo_of.values():
        assert Decimal(memo["amount_remaining"]) >= 0
    # Every invoice's amount due equals Lago's.
    dues = invoice_dues(ds.invoices, ns)
    assert dues and [d for d in dues if d[1] != d[2]] == []
    ar = customer_ar(ds.invoices, ds.credit_notes, ns)
    assert {k: v for k, v in ar.items() if v[0] != v[1]} == {}
    return {"applications": len(consumed), "refunds": len(refunds), "ar": ar,
            "flagged": [n["number"] for n in ds.credit_notes if is_flagged(n)]}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_credit_consumed_refunded_and_voided_books_balance(world_factory, backend, request) -> None:
    url = request.getfixturevalue("postgres_url") if backend == "postgresql" else None
    world = world_factory(url)
    ds = world.dataset
    assert _consumed_credits(ds), "the dataset consumes credit notes on later invoices"
    refunds = {n["refund_status"] for n in ds.credit_notes if n["refund_amount_cents"]}
    assert refunds == {"succeeded", "pending", "failed"}
    assert any(n["credit_status"] == "voided" for n in ds.credit_notes)
    world.run("run-1")
    first = check_books(world)
    assert first["applications"] > 0 and first["refunds"] > 0
    before = world.records()
    world.run("run-2")  # a second run changes nothing in NetSuite
    after = world.records()
    assert {e: (r["amount_remaining"], r["applications"]) for e, r in after.items()} == \
        {e: (r["amount_remaining"], r["applications"]) for e, r in before.items()}


def test_lago_lines_keeps_the_negative_credit_note_line(world_factory, tmp_path) -> None:
    mapping = tmp_path / "mapping.yaml"
    text = MAPPING.read_text()
    assert "  credit_notes: apply" in text
    mapping.write_text(text.replace("  credit_notes: apply", "  credit_notes: lago_lines"))
    world = world_factory(mapping=mapping)
    world.run("run-1")
    ns, ledger = world.records(), world.ledger()
    assert not [e for e in ledger if e.startswith("lago-creditapply-")]
    consumed = _consumed_credits(world.dataset)
    assert consumed
    for inv, _credit in consumed:
        invoice = ns[f"lago-invoice-{inv['lago_id']}"]
        assert Decimal(invoice["total"]) == to_major(inv["total_amount_cents"], inv["currency"])
        lines = invoice["body"]["lines"][0]["lineItems"]
        assert any(line["item"] == "404" and Decimal(str(line["amount"])) < 0 for line in lines)
    # refunds are booked in both modes
    assert any(r["type"] == "customerrefund" for r in ns.values())
    # every document's and customer's ledger row carries its customer's billing entity (the UI's filter)
    entity = {c["external_id"]: c["billing_entity_code"] for c in world.dataset.customers}
    lago_entity = {f"lago-customer-{c['lago_id']}": c["billing_entity_code"] for c in world.dataset.customers}
    for kind, docs in (("invoice", world.dataset.invoices), ("creditnote", world.dataset.credit_notes)):
        for d in docs:
            row = ledger.get(f"lago-{kind}-{d['lago_id']}")
            if row is not None:
                lago_entity[row.external_id] = entity[d["customer"]["external_id"]]
    carried = {e: r.billing_entity_code for e, r in ledger.items() if e in lago_entity}
    assert len(carried) > 50 and carried == {e: lago_entity[e] for e in carried}
    assert len(set(carried.values())) > 1


def test_a_consumed_credit_note_issued_before_the_window_is_fetched_and_applied(world_factory) -> None:
    world = world_factory()
    ds = world.dataset
    issued = {n["lago_id"]: n["issuing_date"] for n in ds.credit_notes}
    # the first invoice consuming a credit note issued on an earlier day: the window starts with it
    early = [(i, c) for i, c in _consumed_credits(ds) if issued[c["item"]["lago_item_id"]] < i["issuing_date"]]
    inv, credit = min(early, key=lambda pair: pair[0]["issuing_date"])
    note_id = credit["item"]["lago_item_id"]
    start = date.fromisoformat(inv["issuing_date"])
    world.run("run-1", window_from=start)
    ns, ledger = world.records(), world.ledger()
    memo = ns[f"lago-creditnote-{note_id}"]  # fetched from Lago though issued before the window
    invoice = ns[f"lago-invoice-{inv['lago_id']}"]
    assert ledger[f"lago-creditapply-{credit['lago_id']}"].state == "synced"
    assert Decimal(memo["applications"][invoice["id"]]) == to_major(credit["amount_cents"], inv["currency"])
    assert Decimal(invoice["amount_remaining"]) == to_major(inv["total_due_amount_cents"], inv["currency"])

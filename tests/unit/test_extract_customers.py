"""Customers named by documents but not in the store: one call each, or the customer list when cheaper."""

from __future__ import annotations

from pathlib import Path

import pytest

from lago_netsuite.extract.documents import LIST_CUSTOMERS_ABOVE, ExtractCounts, fetch_missing_customers
from lago_netsuite.hooks.lago import LagoHook
from lago_netsuite.ledger import catalog, documents, migrations, store
from tests.plugins.lago_sandbox import LagoConnection, LagoSandbox


@pytest.fixture
def engine(tmp_path: Path):
    eng = store.get_engine(f"sqlite:///{tmp_path / 'store.db'}")
    migrations.migrate(eng)
    yield eng
    store.dispose_engines()


def _store_invoices_of(engine, sandbox: LagoSandbox, customers: int) -> list[dict]:
    """Store one invoice per customer for the first ``customers`` customers; return those customers."""
    chosen = sandbox.dataset.customers[:customers]
    wanted = {c["external_id"] for c in chosen}
    invoices, seen = [], set()
    for inv in sandbox.dataset.invoices:
        ext = inv["customer"]["external_id"]
        if ext in wanted and ext not in seen:
            seen.add(ext)
            invoices.append(inv)
    documents.store_documents(engine, "invoice", invoices, run_id="t")
    return [c for c in chosen if c["external_id"] in seen]


def test_many_new_customers_are_read_from_the_list(
    engine, lago_connection: LagoConnection, lago_sandbox: LagoSandbox
) -> None:
    expected = _store_invoices_of(engine, lago_sandbox, len(lago_sandbox.dataset.customers))
    assert len(expected) > LIST_CUSTOMERS_ABOVE
    counts = ExtractCounts()
    fetch_missing_customers(LagoHook(), engine, counts, run_id="t")
    assert counts.customers_fetched == len(expected)
    pages = -(-len(lago_sandbox.dataset.customers) // 100)
    assert counts.customer_calls == pages
    assert lago_sandbox.stats()["requests"] == {"GET /customers": {"200": pages}}
    assert catalog.missing_customer_external_ids(engine) == []
    # what the sync needs from a customer came with the list: the NetSuite link among it
    ids = [c["external_id"] for c in expected]
    stored = {c["external_id"]: c for c in catalog.customers_by_external_id(engine, ids)}
    for cust in expected:
        assert stored[cust["external_id"]]["integration_customers"] == cust["integration_customers"]


def test_a_few_new_customers_are_fetched_one_by_one(
    engine, lago_connection: LagoConnection, lago_sandbox: LagoSandbox
) -> None:
    expected = _store_invoices_of(engine, lago_sandbox, 3)
    counts = ExtractCounts()
    fetch_missing_customers(LagoHook(), engine, counts, run_id="t")
    assert counts.customers_fetched == counts.customer_calls == len(expected)
    requests_ = lago_sandbox.stats()["requests"]
    assert "GET /customers" not in requests_
    assert sum(v.get("200", 0) for v in requests_.values()) == len(expected)


def test_customers_seen_on_list_pages_already_read_need_no_more_calls(
    engine, lago_connection: LagoConnection, lago_sandbox: LagoSandbox
) -> None:
    """A first sync hands its invoices on in batches: the customer pages one batch reads serve the next."""
    everyone = lago_sandbox.dataset.customers
    first = _store_invoices_of(engine, lago_sandbox, LIST_CUSTOMERS_ABOVE + 1)
    counts = ExtractCounts()
    fetch_missing_customers(LagoHook(), engine, counts, run_id="t")
    assert counts.customers_fetched == len(first) and counts.customer_calls >= 1
    calls = counts.customer_calls
    later = _store_invoices_of(engine, lago_sandbox, len(everyone))  # the next batch names the others too
    assert len(later) > len(first)
    fetch_missing_customers(LagoHook(), engine, counts, run_id="t")
    # every customer named is stored, and the page already read had them all: no call at all
    assert catalog.missing_customer_external_ids(engine) == []
    assert len(everyone) <= 100 and counts.customer_calls == calls == 1

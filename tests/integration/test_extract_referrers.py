"""Credit notes and payments are listed first and stored as the invoices they refer to land.

The extraction hands its documents to the transform in batches while it is still fetching invoice
details; a payment or credit note may only be handed on once every invoice it refers to is stored
(the transform judges the sync start date against that invoice), and nothing listed may be lost or
fetched twice.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import requests
import sqlalchemy as sa

from lago_netsuite.extract.documents import extract_in_slices
from lago_netsuite.hooks.lago import LagoHook
from lago_netsuite.ledger import schema
from lago_netsuite.ledger.documents import invoice_refs
from tests.plugins.sync_world import sync_world_factory  # noqa: F401 - fixture
from tests.reliability.harness import run_context


def stored(engine: sa.Engine) -> dict[str, dict[str, Any]]:
    d = schema.document
    out: dict[str, dict[str, Any]] = {"invoice": {}, "creditnote": {}, "payment": {}}
    with engine.connect() as conn:
        for kind, lago_id, payload in conn.execute(sa.select(d.c.kind, d.c.lago_id, d.c.payload)):
            out[kind][lago_id] = json.loads(payload)
    return out


def settled(kind: str, doc: dict[str, Any]) -> bool:
    """A credit note, or a payment that succeeded: only those are sent, so only their invoices are read."""
    return kind == "creditnote" or doc.get("payment_status") == "succeeded"


def test_payments_and_credit_notes_land_with_their_invoices_each_fetched_once(sync_world_factory) -> None:  # noqa: F811
    world = sync_world_factory(invoices=160, customers=8, days=3)
    engine = run_context("run-1", world.settings, world.store_url).engine
    today = dt.date.today()
    # The window leaves out the first day: some payments and credit notes refer to invoices before it.
    window = (today - dt.timedelta(days=1), today)
    seen: list[tuple[int, int, int]] = []

    def on_slice(_start: dt.date, _end: dt.date, _kinds: Any) -> None:
        docs = stored(engine)
        for kind in ("creditnote", "payment"):
            for lago_id, doc in docs[kind].items():
                if not settled(kind, doc):
                    continue
                missing = [i for i in invoice_refs(kind, doc) if i not in docs["invoice"]]
                assert not missing, f"{kind} {lago_id} handed on before its invoice(s) {missing}"
        seen.append((len(docs["invoice"]), len(docs["creditnote"]), len(docs["payment"])))

    counts = extract_in_slices(LagoHook("lago_default"), engine, window_from=window[0], window_to=window[1],
                               kinds=("invoice", "creditnote", "payment"), run_id="run-1", on_slice=on_slice,
                               slice_invoices=10)
    docs = stored(engine)
    # Every listed credit note and payment is stored by the end, and so are the invoices they name.
    assert counts.listed["payment"] == len(docs["payment"]) > 0
    assert counts.listed["creditnote"] <= len(docs["creditnote"])
    for kind in ("creditnote", "payment"):
        for doc in docs[kind].values():
            assert not settled(kind, doc) or set(invoice_refs(kind, doc)) <= set(docs["invoice"])
    assert counts.referenced_invoices_fetched > 0  # invoices issued before the window, fetched at the end
    # Payments reached the transform in the hand-overs before the last one, not all at its end.
    assert len(seen) >= 3
    assert any(0 < payments < len(docs["payment"]) for _, _, payments in seen[:-1]), seen
    # Each invoice's details were read once.
    calls = requests.get(f"{world.lago.url}/_sandbox/stats", timeout=10).json()["requests"]
    assert calls["GET /invoices/{lago_id}"]["200"] == len(docs["invoice"]), calls

"""Customers held back (quarantined) are read from Lago again each run, so a fix there releases them.

Customers are otherwise fetched once (when a document first names them). A quarantined customer
holds every document of it waiting; once someone corrects it in Lago, the next run must see the
correction. So each run re-reads the quarantined customers (one call each, at most
``MAX_PER_RUN``), and when one changed, the documents of that customer that wait in the ledger are
marked for a new transform: the customer is built again from its corrected data, and when it passes
it is sent, then its documents after it — in that same run.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from lago_netsuite.ledger import catalog, schema
from lago_netsuite.ledger.claims import QUARANTINED, WAITING
from lago_netsuite.ledger.upsert import select_in

if TYPE_CHECKING:
    from lago_netsuite.extract.counts import ExtractCounts
    from lago_netsuite.hooks.lago import LagoHook

log = logging.getLogger(__name__)

MAX_PER_RUN = 200


def held_customers(engine: Engine, limit: int = MAX_PER_RUN) -> dict[str, str]:
    """``{external_id: payload_hash}`` of stored customers whose ledger row is quarantined."""
    led, c = schema.ledger, schema.customer
    query = (sa.select(c.c.external_id, c.c.payload_hash)
             .join(led, sa.and_(led.c.lago_id == c.c.lago_id, led.c.kind == "customer"))
             .where(led.c.state == QUARANTINED).order_by(c.c.external_id).limit(limit))
    with engine.connect() as conn:
        return {r.external_id: r.payload_hash for r in conn.execute(query)}


def refresh_held_customers(hook: LagoHook, engine: Engine, counts: ExtractCounts, *, run_id: str | None) -> list[str]:
    """Re-read quarantined customers from Lago; return the external ids of those that changed."""
    from lago_netsuite.hooks.errors import NotFoundError

    before = held_customers(engine)
    fetched = []
    for external_id in before:
        counts.customer_calls += 1
        try:
            fetched.append(hook.get(f"/customers/{external_id}")["customer"])
        except NotFoundError as exc:
            counts.errors.append(f"quarantined customer {external_id!r} is no longer in Lago: {exc}")
    if not fetched:
        return []
    catalog.upsert_customers(engine, fetched, run_id=run_id)
    c = schema.customer
    with engine.connect() as conn:
        after = dict(select_in(conn, [c.c.external_id, c.c.payload_hash], c.c.external_id, list(before)))
    changed = [e for e, h in before.items() if after.get(e) not in (None, h)]
    if changed:
        released = _retransform_waiting_documents(engine, changed)
        log.info("%d quarantined customers changed in Lago; %d of their waiting documents are rebuilt",
                 len(changed), released)
    return changed


def _retransform_waiting_documents(engine: Engine, customer_external_ids: list[str]) -> int:
    """Clear ``source_hash`` of the waiting ledger rows of these customers' documents (and of the
    customers' own rows), so the next transform rebuilds them with the corrected customer."""
    d, led, c = schema.document, schema.ledger, schema.customer
    with engine.begin() as conn:
        doc_ids = list(select_in(conn, [d.c.lago_id], d.c.customer_external_id, customer_external_ids))
        lago_ids = [r.lago_id for r in doc_ids]
        released = 0
        for start in range(0, len(lago_ids), 500):
            released += conn.execute(
                led.update().where(led.c.lago_id.in_(lago_ids[start: start + 500]), led.c.state == WAITING)
                .values(source_hash=None)).rowcount
        cust_ids = [r.lago_id for r in select_in(conn, [c.c.lago_id], c.c.external_id, customer_external_ids)]
        conn.execute(led.update().where(led.c.lago_id.in_(cust_ids), led.c.kind == "customer")
                     .values(source_hash=None))
    return released

"""Raw Lago documents in the store: the latest copy, every version, and extraction watermarks."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from lago_netsuite.ledger import schema
from lago_netsuite.ledger.store import canonical_json, lookup_text
from lago_netsuite.ledger.upsert import CHUNK, UpsertCounts, payload_hash, select_in, upsert_tracked, utcnow

DOCUMENT_KINDS = ("invoice", "creditnote", "payment")
#: Key prefix of a document Lago sent without a ``lago_id``: kept (as received) and quarantined.
MISSING_ID_PREFIX = "missing-lago-id-"


def storage_id(doc: Mapping[str, Any]) -> str:
    """The key a document is stored under: its ``lago_id``, or a stable stand-in when it has none.

    A ``lago_id`` the key column cannot hold as it is (longer than Lago's UUIDs, or with a NUL) is
    no usable id either.
    """
    lago_id = doc.get("lago_id") if isinstance(doc, Mapping) else None
    if isinstance(lago_id, str) and lago_id.strip() and lookup_text(lago_id, schema.document.c.lago_id) == lago_id:
        return lago_id
    return MISSING_ID_PREFIX + payload_hash(doc)[:32]


def invoice_refs(kind: str, doc: Any) -> list[str]:
    """The Lago invoices a credit note or payment applies to (a malformed field names none: the
    transform holds such a document back with the reason)."""
    if not isinstance(doc, Mapping):
        return []
    ids = doc.get("invoice_ids") if kind == "payment" else [doc.get("lago_invoice_id")]
    return [i for i in ids if isinstance(i, str) and i] if isinstance(ids, list) else []


def _row(kind: str, doc: Mapping[str, Any]) -> dict[str, Any]:
    """The lookup columns of a stored document, each cut to fit (see ``store.lookup_text``)."""
    t = schema.document
    if kind == "payment":
        created = lookup_text(doc.get("created_at"), t.c.lago_updated_at)
        return {
            "number": lookup_text(doc.get("reference") or None, t.c.number),
            "issuing_date": lookup_text(created, t.c.issuing_date) or None,
            "status": lookup_text(doc.get("payment_status"), t.c.status),
            "customer_external_id": lookup_text(doc.get("external_customer_id"), t.c.customer_external_id),
            "lago_updated_at": created or None,
        }
    raw_customer = doc.get("customer")
    customer: Mapping[str, Any] = raw_customer if isinstance(raw_customer, Mapping) else {}
    return {
        "number": lookup_text(doc.get("number"), t.c.number),
        "issuing_date": lookup_text(doc.get("issuing_date"), t.c.issuing_date) or None,
        "status": lookup_text(doc.get("status") if kind == "invoice" else doc.get("credit_status"), t.c.status),
        "customer_external_id": lookup_text(customer.get("external_id") or doc.get("external_customer_id"),
                                            t.c.customer_external_id),
        "lago_updated_at": lookup_text(doc.get("updated_at"), t.c.lago_updated_at),
    }


def store_documents(
    engine: Engine, kind: str, documents: Iterable[Mapping[str, Any]], *, run_id: str | None = None
) -> UpsertCounts:
    """Keep the latest copy of each document and every distinct version ever received.

    A document without a usable ``lago_id`` is kept too, under :func:`storage_id`, so the transform
    step quarantines it with a reason instead of it being lost or stopping the others.
    """
    if kind not in DOCUMENT_KINDS:
        raise ValueError(f"unknown document kind {kind!r}")
    rows: dict[str, dict[str, Any]] = {}
    for doc in documents:
        if not isinstance(doc, Mapping):
            doc = {"unparseable_document": repr(doc)[:2000]}
        lago_id = storage_id(doc)
        rows[lago_id] = {
            "kind": kind,
            "lago_id": lago_id,
            **_row(kind, doc),
            "payload": canonical_json(doc),
            "payload_hash": payload_hash(doc),
        }
    with engine.begin() as conn:
        counts = upsert_tracked(conn, schema.document, ("kind", "lago_id"), list(rows.values()), run_id)
        new_versions = [rows[lago_id] for (_kind, lago_id) in counts.changed_keys]
        if new_versions:
            _insert_versions(conn, new_versions, run_id)
    return counts


def _insert_versions(conn: sa.Connection, rows: list[dict[str, Any]], run_id: str | None) -> None:
    keys = [(r["kind"], r["lago_id"], r["payload_hash"]) for r in rows]
    table = schema.document_version
    have: set[tuple] = set()
    for start in range(0, len(keys), CHUNK):
        cond = sa.tuple_(table.c.kind, table.c.lago_id, table.c.payload_hash).in_(keys[start : start + CHUNK])
        query = sa.select(table.c.kind, table.c.lago_id, table.c.payload_hash).where(cond)
        have.update(tuple(r) for r in conn.execute(query))
    now = utcnow()
    fresh = [
        {"kind": r["kind"], "lago_id": r["lago_id"], "payload_hash": r["payload_hash"], "payload": r["payload"],
         "received_at": now, "run_id": run_id}
        for r in rows
        if (r["kind"], r["lago_id"], r["payload_hash"]) not in have
    ]
    if fresh:
        conn.execute(table.insert(), fresh)


def known_versions(engine: Engine, kind: str, lago_ids: Iterable[str]) -> dict[str, str | None]:
    """``{lago_id: lago_updated_at}`` for the stored documents among ``lago_ids``."""
    t = schema.document
    with engine.connect() as conn:
        return dict(select_in(conn, [t.c.lago_id, t.c.lago_updated_at], t.c.lago_id, lago_ids, t.c.kind == kind))


def load_documents(engine: Engine, kind: str, lago_ids: Iterable[str]) -> list[dict[str, Any]]:
    """The stored payloads of the given documents, as Lago sent them."""
    t = schema.document
    with engine.connect() as conn:
        return [json.loads(p) for (p,) in select_in(conn, [t.c.payload], t.c.lago_id, lago_ids, t.c.kind == kind)]


def get_watermark(engine: Engine, stream: str) -> str | None:
    """The stream's watermark (an ISO date or timestamp), or None before the first run."""
    with engine.connect() as conn:
        return conn.execute(
            sa.select(schema.watermark.c.value).where(schema.watermark.c.stream == stream)
        ).scalar_one_or_none()


def set_watermark(engine: Engine, stream: str, value: str, *, run_id: str | None = None) -> None:
    """Move the stream's watermark forward (never backwards: a backfill does not rewind it)."""
    t = schema.watermark
    with engine.begin() as conn:
        current = conn.execute(sa.select(t.c.value).where(t.c.stream == stream)).scalar_one_or_none()
        if current is None:
            conn.execute(t.insert().values(stream=stream, value=value, updated_at=utcnow(), run_id=run_id))
        elif value > current:
            update = t.update().where(t.c.stream == stream)
            conn.execute(update.values(value=value, updated_at=utcnow(), run_id=run_id))

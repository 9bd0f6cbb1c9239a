"""Find one Lago document by its Lago id or its number, and re-read it from Lago (the retry DAG)."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from lago_netsuite.hooks.errors import NotFoundError
from lago_netsuite.ledger import documents, schema

log = logging.getLogger(__name__)

_SHOW = {"invoice": ("/invoices/{}", "invoice"), "creditnote": ("/credit_notes/{}", "credit_note"),
         "payment": ("/payments/{}", "payment")}


class DocumentNotFoundError(LookupError):
    """Neither the store nor Lago knows a document by that id or number."""


def _stored(engine: Engine, document: str) -> tuple[str, str] | None:
    d = schema.document
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(d.c.kind, d.c.lago_id).where(sa.or_(d.c.lago_id == document, d.c.number == document))
        ).first()
    return (row.kind, row.lago_id) if row else None


def _search_by_number(hook: Any, number: str) -> tuple[str, str] | None:
    searchable = (("invoice", "/invoices", "invoices"), ("creditnote", "/credit_notes", "credit_notes"))
    for kind, path, collection in searchable:
        for doc in hook.paginate(path, params={"search_term": number}, collection=collection):
            if doc.get("number") == number:
                return kind, doc["lago_id"]
    return None


def fetch_document(engine: Engine, lago_conn_id: str, document: str, *, run_id: str | None) -> tuple[str, dict]:
    """Locate ``document`` (Lago id or number), fetch its current version from Lago and store it.

    Raises:
        DocumentNotFoundError: no invoice, credit note or payment has that id or number.
    """
    from lago_netsuite.hooks.lago import LagoHook

    document = document.strip()
    hook = LagoHook(lago_conn_id)
    located = _stored(engine, document)
    candidates = [located] if located else [(kind, document) for kind in _SHOW]
    for kind, lago_id in candidates:
        path, key = _SHOW[kind]
        try:
            doc = hook.get(path.format(lago_id))[key]
        except NotFoundError:
            continue
        documents.store_documents(engine, kind, [doc], run_id=run_id)
        log.info("retry: %s %s (%s) re-read from Lago", kind, doc.get("number") or "", doc["lago_id"])
        return kind, doc
    found = _search_by_number(hook, document)
    if found:
        kind, lago_id = found
        path, key = _SHOW[kind]
        doc = hook.get(path.format(lago_id))[key]
        documents.store_documents(engine, kind, [doc], run_id=run_id)
        return kind, doc
    raise DocumentNotFoundError(
        f"no Lago invoice, credit note or payment has the id or number {document!r}"
    )

"""The reconciliation sweep: everything synced within a horizon compared with what Lago shows now.

The hourly run's status lists (``extract/late.py``) catch the late changes Lago's filters expose;
this sweep catches the rest within a day. It lists invoices (every status), credit notes (by
issuing date) and payments (newest first) over the horizon — about one call per 100 documents —
and compares each with the copy the store holds: a document Lago shows at another version is read
again and stored, so the normal transform repairs NetSuite (void, update, flag) exactly as for a
change found in the window; a synced document Lago no longer shows is reported. Its cost is
measured by ``benchmarks/sweep.py``.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from lago_netsuite.ledger import documents, schema

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from lago_netsuite.hooks.lago import LagoHook

log = logging.getLogger(__name__)

#: Default horizon of the sweep, in days (setting ``reconcile_horizon_days``).
DEFAULT_HORIZON_DAYS = 90
SYNCED_STATES = ("synced", "voided")


def _synced(engine: Engine, kind: str, since: str) -> dict[str, tuple[str | None, str]]:
    """``{lago_id: (lago_updated_at, payload_hash)}`` of synced documents of ``kind`` issued since ``since``."""
    d, led = schema.document, schema.ledger
    query = (sa.select(d.c.lago_id, d.c.lago_updated_at, d.c.payload_hash)
             .select_from(d.join(led, sa.and_(led.c.lago_id == d.c.lago_id, led.c.kind == d.c.kind)))
             .where(d.c.kind == kind, led.c.state.in_(SYNCED_STATES),
                    sa.or_(d.c.issuing_date.is_(None), d.c.issuing_date >= since)))
    with engine.connect() as conn:
        return {r.lago_id: (r.lago_updated_at, r.payload_hash) for r in conn.execute(query)}


def sweep(
    hook: LagoHook, engine: Engine, *, today: dt.date, horizon_days: int = DEFAULT_HORIZON_DAYS,
    run_id: str | None = None, workers: int = 8,
) -> dict[str, Any]:
    """Compare the horizon's synced documents with Lago; store again what differs, report what is gone."""
    from lago_netsuite.ledger.upsert import payload_hash

    since = (today - dt.timedelta(days=horizon_days)).isoformat()
    calls = 0
    differ: dict[str, list[str]] = {"invoice": [], "creditnote": [], "payment": []}
    missing: dict[str, list[str]] = {"invoice": [], "creditnote": [], "payment": []}
    compared = 0

    # invoices: every status, the list's updated_at against the stored one; details only for those that differ
    synced = _synced(engine, "invoice", since)
    seen: set[str] = set()
    for page in hook.paginate_pages("/invoices", {"issuing_date_from": since}, collection="invoices"):
        calls += 1
        for inv in page:
            lid = inv.get("lago_id")
            if lid in synced:
                seen.add(lid)
                if synced[lid][0] != inv.get("updated_at"):
                    differ["invoice"].append(lid)
    missing["invoice"] = sorted(set(synced) - seen)
    compared += len(synced)
    if differ["invoice"]:
        fresh = list(hook.fetch_invoices(differ["invoice"], max_workers=workers))
        calls += len(fresh)
        documents.store_documents(engine, "invoice", fresh, run_id=run_id)

    # credit notes and payments: the list entry is the whole document; compare its content
    for kind, path, params in (("creditnote", "/credit_notes", {"issuing_date_from": since}),
                               ("payment", "/payments", None)):
        synced = _synced(engine, kind, since)
        seen, changed_docs = set(), []
        for page in hook.paginate_pages(path, params, collection=path.strip("/")):
            calls += 1
            for doc in page:
                lid = doc.get("lago_id")
                if lid in synced:
                    seen.add(lid)
                    if synced[lid][1] != payload_hash(doc):
                        changed_docs.append(doc)
            if kind == "payment":  # newest first, no date filter: stop once older than the horizon
                dated = [str(p.get("created_at") or "")[:10] for p in page]
                if dated and max(dated) < since:
                    break
        differ[kind] = [d["lago_id"] for d in changed_docs]
        missing[kind] = sorted(set(synced) - seen)
        compared += len(synced)
        if changed_docs:
            documents.store_documents(engine, kind, changed_docs, run_id=run_id)

    result = {
        "horizon_from": since, "compared": compared, "lago_calls": calls,
        "calls_per_document": round(calls / compared, 4) if compared else 0.0,
        "differ": {k: v for k, v in differ.items() if v},
        "missing_in_lago": {k: v for k, v in missing.items() if v},
    }
    log.info("reconciliation sweep: %s", result)
    return result

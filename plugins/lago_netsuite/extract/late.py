"""Late changes found without re-reading history: Lago's status-filtered lists, read to what was seen.

Lago has no "updated since" filter, but its lists filter by the statuses a late change lands in:

- ``GET /invoices?statuses[]=voided`` — an invoice voided, however long after it was issued;
- ``GET /invoices?statuses[]=finalized&payment_statuses[]=failed`` — a payment that failed after
  it had succeeded (``GET /payments`` has no status filter; the invoice's payment status says it);
- ``GET /credit_notes?credit_status=voided`` — a credit note voided;
- ``GET /credit_notes?refund_status=succeeded`` — a refund that completed days later.

Each list is read newest first and stops once it has shown as many documents it had not shown
before (``late_change_seen``, at their ``updated_at``) as its ``total_count`` grew since the last run
(the watermark ``late:<list>``), and at least one page. With nothing new that is one call per list.
A document the store already holds at another version is read again and stored, so the normal
transform acts on it exactly as on a change inside the window (void, flag, complete). Documents
the store never held are only remembered: they were never synced. Whatever a list cannot expose
(a count that stays equal while one document leaves and another joins deep in a list) the daily
reconciliation sweep (``extract/sweep.py``) catches.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lago_netsuite.ledger import documents, schema
from lago_netsuite.ledger.upsert import select_in, utcnow

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from lago_netsuite.extract.counts import ExtractCounts
    from lago_netsuite.hooks.lago import LagoHook

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LateList:
    """One status-filtered Lago list whose members may have changed after they were synced."""

    name: str
    path: str
    collection: str
    kind: str  # the stored document kind the list holds
    params: tuple[tuple[str, Any], ...]
    payments_too: bool = False  # re-read the invoice's payments (a payment that failed late)


LATE_LISTS = (
    LateList("invoice_voided", "/invoices", "invoices", "invoice", (("statuses[]", ["voided"]),)),
    LateList("invoice_payment_failed", "/invoices", "invoices", "invoice",
             (("statuses[]", ["finalized"]), ("payment_statuses[]", ["failed"])), payments_too=True),
    LateList("creditnote_voided", "/credit_notes", "credit_notes", "creditnote", (("credit_status", "voided"),)),
    LateList("creditnote_refunded", "/credit_notes", "credit_notes", "creditnote", (("refund_status", "succeeded"),)),
)

PER_PAGE = 100


def _watermark(engine: Engine, name: str) -> int | None:
    value = documents.get_watermark(engine, f"late:{name}")
    return int(value) if value is not None else None


def _set_watermark(engine: Engine, name: str, total: int, run_id: str | None) -> None:
    t = schema.watermark
    stream = f"late:{name}"
    with engine.begin() as conn:  # a count goes down as well as up: not set_watermark's forward-only rule
        conn.execute(t.delete().where(t.c.stream == stream))
        conn.execute(t.insert().values(stream=stream, value=str(total), updated_at=utcnow(), run_id=run_id))


def _seen(engine: Engine, name: str, lago_ids: Iterable[str]) -> dict[str, str | None]:
    t = schema.late_change_seen
    with engine.connect() as conn:
        return dict(select_in(conn, [t.c.lago_id, t.c.version], t.c.lago_id, lago_ids, t.c.list_name == name))


def _remember(engine: Engine, name: str, versions: dict[str, str | None]) -> None:
    if not versions:
        return
    t = schema.late_change_seen
    with engine.begin() as conn:
        conn.execute(t.delete().where(t.c.list_name == name, t.c.lago_id.in_(list(versions))))
        conn.execute(t.insert(), [{"list_name": name, "lago_id": k, "version": v, "seen_at": utcnow()}
                                  for k, v in versions.items()])


def _read_new(hook: LagoHook, engine: Engine, spec: LateList, counts: ExtractCounts) -> tuple[dict[str, dict], int]:
    """The list's documents not seen before at their version, reading only as far as needed."""
    previous = _watermark(engine, spec.name)
    unseen: dict[str, dict[str, Any]] = {}
    total, page_no = 0, 1
    while True:
        body = hook.get(spec.path, [*documents_params(spec.params), ("page", str(page_no)),
                                    ("per_page", str(PER_PAGE))])
        counts.late_calls += 1
        records = [r for r in body.get(spec.collection) or [] if isinstance(r, dict) and r.get("lago_id")]
        meta = body.get("meta") or {}
        total = int(meta.get("total_count") or 0)
        seen = _seen(engine, spec.name, [r["lago_id"] for r in records])
        for r in records:
            if r["lago_id"] not in seen or seen[r["lago_id"]] != r.get("updated_at"):
                unseen[r["lago_id"]] = r
        next_page = meta.get("next_page") if records else None
        if not isinstance(next_page, int) or next_page <= page_no:
            break
        if previous is not None and len(unseen) >= total - previous:
            break  # as many new members as the list grew by: the rest was seen by earlier runs
        page_no = next_page
    return unseen, total


def documents_params(params: tuple[tuple[str, Any], ...]) -> list[tuple[str, str]]:
    from lago_netsuite.hooks.lago import encode_params

    return encode_params(dict(params))


def extract_late_changes(
    hook: LagoHook, engine: Engine, counts: ExtractCounts, *, run_id: str | None, workers: int = 8,
    lists: tuple[LateList, ...] = LATE_LISTS,
) -> list[str]:
    """Read every late-change list; store again the stored documents they show changed.

    Returns the Lago ids found changed (also added to ``counts.late_changed``).
    """
    changed: list[str] = []
    for spec in lists:
        unseen, total = _read_new(hook, engine, spec, counts)
        known = documents.known_versions(engine, spec.kind, unseen)
        stale = [lid for lid in unseen if lid in known and known[lid] != unseen[lid].get("updated_at")]
        if stale:
            if spec.kind == "invoice":
                fresh = list(hook.fetch_invoices(stale, max_workers=workers))
                counts.late_calls += len(fresh)
            else:  # a credit note's list entry is the whole document
                fresh = [unseen[lid] for lid in stale]
            documents.store_documents(engine, spec.kind, fresh, run_id=run_id)
            if spec.payments_too:
                _refresh_payments(hook, engine, stale, counts, run_id=run_id)
            changed += stale
            log.info("late changes in %s: %s", spec.name, stale)
        _remember(engine, spec.name, {lid: doc.get("updated_at") for lid, doc in unseen.items()})
        _set_watermark(engine, spec.name, total, run_id)
    counts.late_changed += changed
    return changed


def _refresh_payments(
    hook: LagoHook, engine: Engine, invoice_ids: list[str], counts: ExtractCounts, *, run_id: str | None
) -> None:
    """Re-read the payments of invoices whose payment failed late (``GET /payments?invoice_id=``)."""
    found: list[dict[str, Any]] = []
    for invoice_id in invoice_ids:
        for page in hook.paginate_pages("/payments", {"invoice_id": invoice_id}, collection="payments"):
            counts.late_calls += 1
            found += page
    if found:
        documents.store_documents(engine, "payment", found, run_id=run_id)

"""Extract finalized documents from Lago into the store, missing nothing and fetching little.

Lago has no ``updated_at`` filter, so invoices and credit notes are listed by issuing-date window
(re-reading a look-back so late changes such as voids are seen) and de-duplicated by ``lago_id``
— lists are newest first, so a document finalized mid-crawl shifts pages and shows up twice,
never zero times. An invoice's details (fees, credits) are fetched only when the list shows it
new or with a new ``updated_at``, concurrently within Lago's rate limit, so an hourly run's calls
grow with new documents, not with history. Payments have no date filter: they are read newest
first until they are older than the window. Invoices that payments or credit notes refer to but
that were never extracted, and customers never seen, are fetched too.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from lago_netsuite.extract.counts import ExtractCounts
from lago_netsuite.extract.referrers import Referrers
from lago_netsuite.ledger import catalog, documents
from lago_netsuite.ledger.documents import get_watermark, set_watermark

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from lago_netsuite.hooks.lago import LagoHook

log = logging.getLogger(__name__)

#: Invoice statuses worth syncing: finalized ones, and voided ones (to void them in NetSuite).
INVOICE_STATUSES = ("finalized", "voided")


def _window_params(window_from: dt.date, window_to: dt.date) -> dict[str, str]:
    return {"issuing_date_from": window_from.isoformat(), "issuing_date_to": window_to.isoformat()}


#: Called after each batch of invoices is stored, with their Lago ids and the credit notes they consume.
OnBatch = Callable[[list[str], set[str]], None]


def extract_invoices(
    hook: LagoHook, engine: Engine, window_from: dt.date, window_to: dt.date, counts: ExtractCounts,
    *, run_id: str | None, workers: int, on_batch: OnBatch | None = None, store_every: int = 200,
) -> set[str]:
    """List invoices issued in the window; fetch and store the new or changed ones in full.

    Details are fetched while the list is still being paged: each page's new or changed invoices
    go to the fetchers at once. An invoice listed twice (the list shifted while it was read) is
    fetched once, or again only if the second listing shows it changed. Returns the Lago ids of the
    credit notes whose credit the fetched invoices consume. ``on_batch(lago_ids, consumed)`` is
    called after each stored batch (``store_every`` invoices).
    """
    params: dict[str, Any] = {**_window_params(window_from, window_to), "statuses[]": list(INVOICE_STATUSES)}
    listed: set[str] = set()
    fetching: dict[str, str | None] = {}  # lago_id -> the updated_at it was fetched for
    malformed: list[Any] = []

    def to_fetch() -> Iterator[str]:
        for page in hook.paginate_pages("/invoices", params=params, collection="invoices"):
            fresh: dict[str, str | None] = {}
            for inv in page:
                if not (isinstance(inv, dict) and isinstance(inv.get("lago_id"), str) and inv["lago_id"]):
                    malformed.append(inv)  # no id to fetch details with: kept as listed, quarantined later
                    continue
                lago_id, updated = inv["lago_id"], inv.get("updated_at")
                listed.add(lago_id)
                if lago_id not in fetching or (fetching[lago_id] != updated and lago_id not in fresh):
                    fresh[lago_id] = updated
            known = documents.known_versions(engine, "invoice", [i for i in fresh if i not in fetching])
            for lago_id, updated in fresh.items():
                if lago_id in fetching or lago_id not in known or known[lago_id] != updated:
                    fetching[lago_id] = updated
                    yield lago_id

    consumed = _fetch_and_store_invoices(hook, engine, to_fetch(), counts, run_id=run_id, workers=workers,
                                         on_batch=on_batch, store_every=store_every)
    if malformed:
        documents.store_documents(engine, "invoice", malformed, run_id=run_id)
        counts.errors.append(f"{len(malformed)} invoice(s) in Lago's list without a lago_id were kept and held back")
    counts.listed["invoice"] = counts.listed.get("invoice", 0) + len(listed)
    return consumed


def consumed_credit_notes(invoice: Any) -> set[str]:
    """Lago ids of the credit notes an invoice consumes credit from (``credits`` of type credit_note)."""
    out: set[str] = set()
    for credit in (invoice.get("credits") if isinstance(invoice, dict) else None) or []:
        item = credit.get("item") if isinstance(credit, dict) else None
        note = item.get("lago_item_id") if isinstance(item, dict) else None
        if isinstance(item, dict) and item.get("type") == "credit_note" and isinstance(note, str) and note:
            out.add(note)
    return out


def fetch_consumed_credit_notes(
    hook: LagoHook, engine: Engine, lago_ids: set[str], counts: ExtractCounts, *, run_id: str | None,
) -> list[dict[str, Any]]:
    """Fetch credit notes whose credit an extracted invoice consumes but that were never extracted.

    A credit note issued before the window is synced first, as a payment brings its invoice along,
    so the invoice's credit memo application can be made (one issued before the sync start date is
    skipped by the transform, and its credit becomes a line on the invoice, with a warning).
    """
    from lago_netsuite.hooks.errors import NotFoundError

    fetched: list[dict[str, Any]] = []
    for lago_id in sorted(lago_ids - set(documents.known_versions(engine, "creditnote", lago_ids))):
        try:
            fetched.append(hook.get(f"/credit_notes/{lago_id}")["credit_note"])
        except NotFoundError:
            counts.errors.append(f"credit note {lago_id} is consumed by an invoice but Lago does not show it; "
                                 "the invoice's credit application waits")
    counts.detail_fetches += len(fetched)
    if fetched:
        stored = counts.stored.setdefault("creditnote", {"inserted": 0, "changed": 0, "unchanged": 0})
        for key, value in documents.store_documents(engine, "creditnote", fetched, run_id=run_id).as_dict().items():
            stored[key] = stored.get(key, 0) + value
    return fetched


#: Invoice details fetched ahead of the one being stored (about three seconds at Lago's 50/s).
FETCH_AHEAD = 150


def _fetch_and_store_invoices(
    hook: LagoHook, engine: Engine, lago_ids: Iterable[str], counts: ExtractCounts, *, run_id: str | None, workers: int,
    on_batch: OnBatch | None = None, store_every: int = 200,
) -> set[str]:
    stored = counts.stored.setdefault("invoice", {"inserted": 0, "changed": 0, "unchanged": 0})
    batch: list[dict[str, Any]] = []
    consumed: set[str] = set()
    batch_consumed: set[str] = set()

    def flush() -> None:
        result = documents.store_documents(engine, "invoice", batch, run_id=run_id)
        for key, value in result.as_dict().items():
            stored[key] += value
        if on_batch is not None:
            on_batch([documents.storage_id(inv) for inv in batch], set(batch_consumed))
        batch.clear()
        batch_consumed.clear()

    # Room for a few seconds of requests: the fetchers go on while a batch is stored and handed on.
    for invoice in hook.fetch_invoices(lago_ids, max_workers=workers, ahead=FETCH_AHEAD):
        counts.detail_fetches += 1
        batch.append(invoice)
        notes = consumed_credit_notes(invoice)
        batch_consumed |= notes
        consumed |= notes
        if len(batch) >= store_every:  # bounded memory on a large backfill
            flush()
    if batch:
        flush()
    return consumed


def list_credit_notes(hook: LagoHook, window_from: dt.date, window_to: dt.date) -> list[dict[str, Any]]:
    """Credit notes issued in the window (items and taxes come with the list), de-duplicated."""
    listed = {documents.storage_id(cn): cn
              for cn in hook.paginate("/credit_notes", params=_window_params(window_from, window_to),
                                      collection="credit_notes")}
    return list(listed.values())


def list_payments(hook: LagoHook, since: dt.date) -> list[dict[str, Any]]:
    """Payments newest first until they are older than ``since`` (payments have no date filter)."""
    listed: dict[str, dict[str, Any]] = {}
    cutoff = since.isoformat()
    for page in hook.paginate_pages("/payments", collection="payments"):
        for payment in page:
            created = str(payment.get("created_at") or "")[:10] if isinstance(payment, dict) else ""
            if not created or created >= cutoff:  # no date: kept, so the transform step can say why
                listed[documents.storage_id(payment)] = payment
        dated = [str(p["created_at"])[:10] for p in page if isinstance(p, dict) and p.get("created_at")]
        if dated and max(dated) < cutoff:  # newest first: every later page is older still
            break
    return list(listed.values())


def fetch_referenced_invoices(
    hook: LagoHook, engine: Engine, referencing: Iterable[dict[str, Any]], counts: ExtractCounts,
    *, run_id: str | None, workers: int,
) -> None:
    """Fetch invoices that succeeded payments or credit notes refer to but were never extracted.

    They are synced as dependencies even when issued before the window (never before the sync
    start date, where transform skips them and what depends on them). An invoice Lago does not
    show (yet) is noted, not fatal: the document that needs it waits in the ledger and is retried
    by later runs.
    """
    from lago_netsuite.hooks.errors import NotFoundError

    wanted: set[str] = set()
    for doc in referencing:
        if not isinstance(doc, dict):
            continue
        # Ids of another shape name no invoice: the transform holds such a document back, saying why.
        ids = doc.get("invoice_ids")
        if doc.get("payment_status") == "succeeded" and isinstance(ids, list):  # only settled payments are sent
            wanted.update(i for i in ids if isinstance(i, str) and i)
        if isinstance(doc.get("lago_invoice_id"), str) and doc["lago_invoice_id"]:
            wanted.add(doc["lago_invoice_id"])
    known = documents.known_versions(engine, "invoice", wanted)
    fetched: list[dict[str, Any]] = []
    for lago_id in sorted(wanted - set(known)):
        try:
            fetched.append(hook.get_invoice(lago_id))
        except NotFoundError:
            counts.errors.append(f"invoice {lago_id} is referenced by a payment or credit note but Lago "
                                 "does not show it; that document waits")
    counts.detail_fetches += len(fetched)
    counts.referenced_invoices_fetched += len(fetched)
    if fetched:
        stored = counts.stored.setdefault("invoice", {"inserted": 0, "changed": 0, "unchanged": 0})
        for key, value in documents.store_documents(engine, "invoice", fetched, run_id=run_id).as_dict().items():
            stored[key] += value


#: Above this many unknown customers, read the customer list instead when it has fewer pages.
LIST_CUSTOMERS_ABOVE = 20


def list_customers(
    hook: LagoHook, wanted: set[str], counts: ExtractCounts,
) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """The ``wanted`` customers found by paging ``GET /customers`` while that is the cheaper way, and
    every customer those pages showed.

    The first page says how many pages the list has; paging on only pays when they are fewer than
    the customers still missing (one call each otherwise). The list carries what the show endpoint
    does for the sync (``integration_customers``, ``billing_entity_code``).
    """
    found: dict[str, dict[str, Any]] = {}
    seen: list[dict[str, Any]] = []
    page = 1
    while True:
        body = hook.get("/customers", {"page": page, "per_page": 100})
        counts.customer_calls += 1
        customers = body.get("customers") or []
        for cust in customers:
            external_id = cust.get("external_id") if isinstance(cust, dict) else None
            if isinstance(external_id, str) and external_id:
                seen.append(cust)
                if external_id in wanted:
                    found[external_id] = cust
        meta = body.get("meta") or {}
        next_page = meta.get("next_page") if customers else None
        if not isinstance(next_page, int) or next_page <= page:
            break
        if int(meta.get("total_pages") or 0) - page >= len(wanted) - len(found):
            break  # fetching the rest one by one is no dearer
        page = next_page
    return found, seen


def fetch_missing_customers(hook: LagoHook, engine: Engine, counts: ExtractCounts, *, run_id: str | None) -> None:
    """Fetch customers that stored documents name but the store does not hold yet.

    One call per customer, so an hourly run's calls grow with its new customers; many at once (a
    first sync, a backfill) are read from the customer list when that takes fewer calls, and every
    customer on the pages read is stored too (as the catalog DAG stores them), so the documents of
    the next hand-over seldom need another page.
    """
    from lago_netsuite.hooks.errors import NotFoundError

    missing = catalog.missing_customer_external_ids(engine)
    listed, seen = list_customers(hook, set(missing), counts) if len(missing) > LIST_CUSTOMERS_ABOVE else ({}, [])
    fetched = [listed[external_id] for external_id in missing if external_id in listed]
    for external_id in missing:
        if external_id in listed:
            continue
        counts.customer_calls += 1
        try:
            fetched.append(hook.get(f"/customers/{external_id}")["customer"])
        except NotFoundError as exc:  # reported; the documents of that customer will wait
            counts.errors.append(f"customer {external_id!r} named by a document is not in Lago: {exc}")
    others = [c for c in seen if c.get("external_id") not in listed]
    if fetched or others:
        catalog.upsert_customers(engine, [*fetched, *others], run_id=run_id)
    counts.customers_fetched += len(fetched)


def _window_documents(
    hook: LagoHook, engine: Engine, window_from: dt.date, window_to: dt.date, kinds: tuple[str, ...],
    counts: ExtractCounts, held: Referrers, *, run_id: str | None, workers: int, on_batch: OnBatch | None,
    store_every: int, payments_since: dt.date | None,
) -> list[dict[str, Any]]:
    """The window's invoices, credit notes and (``payments_since`` given, or already held) payments, stored;
    returns the documents stored last, whose invoices may lie outside the window."""
    hook.get_conn()  # the connection is read here, in the task's own thread, before the list threads start
    if "creditnote" in kinds:  # listed beside the invoices, stored as their invoices are
        held.list_beside("creditnote", counts, list_credit_notes, hook, window_from, window_to)
    if "payment" in kinds and payments_since is not None:
        held.list_beside("payment", counts, list_payments, hook, payments_since)

    def stored(lago_ids: list[str], consumed: set[str]) -> None:
        held.invoices_stored(lago_ids)
        if on_batch is not None:
            on_batch(lago_ids, consumed)

    consumed: set[str] = set()
    if "invoice" in kinds:
        consumed = extract_invoices(hook, engine, window_from, window_to, counts, run_id=run_id, workers=workers,
                                    on_batch=stored, store_every=store_every)
    # What is stored only now may refer to invoices outside the window: those are fetched next.
    referencing = held.release(counts, kinds=("creditnote",), everything=True)
    if consumed and "creditnote" in kinds:
        referencing += fetch_consumed_credit_notes(hook, engine, consumed, counts, run_id=run_id)
    if "payment" in kinds:
        referencing += held.release(counts, kinds=("payment",), everything=True)
    else:
        held.release(counts, kinds=("payment",))  # those whose invoices this slice stored
    return referencing


def extract_window(
    hook: LagoHook,
    engine: Engine,
    *,
    window_from: dt.date,
    window_to: dt.date,
    kinds: tuple[str, ...],
    run_id: str | None,
    workers: int = 8,
    payments_since: dt.date | None = None,
    refresh_held: bool = True,
    on_batch: OnBatch | None = None,
    referrers: Referrers | None = None,
    store_every: int = 200,
) -> ExtractCounts:
    """Extract every document kind in scope for an issuing-date window (both ends inclusive).

    Credit notes and payments are listed before the invoice details are fetched and stored as
    the invoices they refer to are (:mod:`lago_netsuite.extract.referrers`). ``payments_since``
    lists payments back to that date instead of the window's start. Given ``referrers`` (a slice
    of a longer window), the caller lists the payments into it once and releases them at its
    hand-overs; this window then stores its credit notes and, when ``"payment"`` is in ``kinds``
    (the last slice), every payment left. ``refresh_held`` re-reads the quarantined customers
    (once a run).
    """
    counts = ExtractCounts()
    held = referrers if referrers is not None else Referrers(engine, run_id=run_id)
    try:
        referencing = _window_documents(hook, engine, window_from, window_to, kinds, counts, held,
                                        run_id=run_id, workers=workers, on_batch=on_batch, store_every=store_every,
                                        payments_since=(payments_since or window_from) if referrers is None else None)
    finally:
        if referrers is None:
            held.close()
    if referencing:
        fetch_referenced_invoices(hook, engine, referencing, counts, run_id=run_id, workers=workers)
    fetch_missing_customers(hook, engine, counts, run_id=run_id)
    if refresh_held:
        from lago_netsuite.extract.held_customers import refresh_held_customers

        refresh_held_customers(hook, engine, counts, run_id=run_id)  # a fix in Lago releases their documents
    for stream in kinds:
        if stream != "customer":
            set_watermark(engine, stream, window_to.isoformat(), run_id=run_id)
    log.info("extracted %s..%s: %s", window_from, window_to, counts.as_dict())
    return counts


#: Invoices a slice of a long window aims at: enough to keep NetSuite's load lanes busy while the
#: next slice is read, few enough that the first records reach them within seconds.
SLICE_INVOICES = 200
MAX_SLICE_DAYS = 31
#: ``on_slice(from, to, kinds)``: documents of ``from..to`` are stored; ``kinds`` None means all of them.
SliceDone = Callable[[dt.date, dt.date, "tuple[str, ...] | None"], None]


def extract_in_slices(
    hook: LagoHook,
    engine: Engine,
    *,
    window_from: dt.date,
    window_to: dt.date,
    kinds: tuple[str, ...],
    run_id: str | None,
    workers: int = 8,
    on_slice: SliceDone | None = None,
    slice_invoices: int = SLICE_INVOICES,
    first_slice_days: int = 1,
) -> ExtractCounts:
    """Extract a window oldest slice first, calling ``on_slice`` as documents land, so loading starts early.

    Invoices and credit notes are read slice by slice, each slice as wide as the last one's
    density says holds about ``slice_invoices`` invoices (1 to 31 days); payments, which Lago only
    lists newest first, are listed once for the whole window before the first slice. Credit notes
    and payments are stored as the invoices they refer to are (:mod:`lago_netsuite.extract.referrers`).
    Within a slice, every ``slice_invoices`` invoices stored are handed on (``on_slice(from, to,
    None)``) once their customers, the credit notes they consume, and the credit notes and payments
    that now have their invoices are stored, so a dense day does not hold the load lanes back; the
    whole slice follows once its credit notes and the invoices they refer to are stored, and after
    the last slice every payment left. The number of calls stays what one pass over the window
    costs, plus two list calls per extra slice.
    """
    total = ExtractCounts()
    side = ExtractCounts()  # what the in-slice hand-overs fetched, and the payments' list
    slice_kinds = tuple(k for k in kinds if k != "payment")
    cursor, width, first = window_from, max(1, first_slice_days), True
    if (window_to - window_from).days < 7:  # an hourly run's window: one slice (its list calls stay 2)
        width = (window_to - window_from).days + 1
    pending: dict[str, Any] = {"invoices": 0, "consumed": set()}
    store_every = max(1, min(200, slice_invoices))
    held = Referrers(engine, run_id=run_id)
    if "payment" in kinds:
        hook.get_conn()  # the connection is read here, in the task's own thread, before the list thread starts
        held.list_beside("payment", side, list_payments, hook, window_from)

    def on_batch(lago_ids: list[str], consumed: set[str]) -> None:
        pending["invoices"] += len(lago_ids)
        pending["consumed"] |= consumed
        # A batch smaller than the others is the window's last: it goes on at once, not after the
        # window's closing look-ups.
        if on_slice is None or (pending["invoices"] < slice_invoices and len(lago_ids) >= store_every):
            return
        notes: list[dict[str, Any]] = []
        if "creditnote" in kinds and pending["consumed"]:  # from this slice's list, else one by one
            notes = held.release(side, kinds=("creditnote",), ids=pending["consumed"])
            notes += fetch_consumed_credit_notes(hook, engine, pending["consumed"], side, run_id=run_id)
        held.release(side)  # credit notes and payments whose invoices are all stored now
        if notes:
            fetch_referenced_invoices(hook, engine, notes, side, run_id=run_id, workers=workers)
        fetch_missing_customers(hook, engine, side, run_id=run_id)
        pending["invoices"], pending["consumed"] = 0, set()
        on_slice(cursor, until, None)

    try:
        while cursor <= window_to:
            until = min(window_to, cursor + dt.timedelta(days=width - 1))
            last = until >= window_to
            part = extract_window(hook, engine, window_from=cursor, window_to=until,
                                  kinds=kinds if last else slice_kinds, run_id=run_id, workers=workers,
                                  refresh_held=first, on_batch=on_batch, referrers=held,
                                  store_every=store_every)
            pending["invoices"], pending["consumed"] = 0, set()
            total.add(part)
            if on_slice is not None:
                on_slice(cursor, until, None)
            listed = part.listed.get("invoice", 0)
            days = (until - cursor).days + 1
            width = max(1, min(MAX_SLICE_DAYS, round(days * slice_invoices / listed) if listed else days * 2))
            cursor, first = until + dt.timedelta(days=1), False
    finally:
        held.close()
    total.add(side)
    return total


def window_for_run(
    engine: Engine,
    *,
    interval_start: dt.datetime | None,
    interval_end: dt.datetime | None,
    lookback_days: int,
    today: dt.date,
    sync_start_date: str | None,
) -> tuple[dt.date, dt.date]:
    """The issuing-date window of a scheduled run: its data interval widened by the look-back.

    A run without a data interval (asset-triggered or manual) continues from the watermark.
    Nothing before ``sync_start_date`` is read.
    """
    if interval_start is not None and interval_end is not None and interval_end > interval_start:
        start = interval_start.date() - dt.timedelta(days=lookback_days)
        end = interval_end.date()
    else:
        mark = get_watermark(engine, "invoice")
        end = today
        start = (dt.date.fromisoformat(mark) if mark else today) - dt.timedelta(days=lookback_days)
    if sync_start_date:
        start = max(start, dt.date.fromisoformat(sync_start_date))
    return start, max(start, end)

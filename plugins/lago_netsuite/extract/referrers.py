"""Credit notes and payments listed ahead of the invoices they refer to, stored as those invoices land.

A first sync or a backfill spends most of its Lago calls fetching invoice details one by one. Its
credit notes and payments come with their lists (a few calls), so they are listed first and held
here; each is stored — and so handed to the transform, whose passes take what is stored — as soon as
every invoice it refers to is in the store. Their records then reach the load lanes while the
invoice details are still being fetched, instead of all at once after the last of them.

Storing a document only after its invoices keeps what the transform decides about it the same as
when everything is read first: the sync start date is judged against the stored invoice's issuing
date, and a document whose invoice Lago does not list in the window is stored at the end, before
that invoice is fetched on its own (``fetch_referenced_invoices``), as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from lago_netsuite.ledger import documents

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from lago_netsuite.extract.counts import ExtractCounts

REFERRING_KINDS = ("creditnote", "payment")


class Referrers:
    """Listed credit notes and payments waiting for their invoices to be stored.

    ``list_beside`` reads a list in a thread of its own while the invoices are read (both within
    the hook's pacing), or ``hold`` takes a list already read; ``invoices_stored`` notes invoices
    this extraction stored; ``release`` stores what is ready (or, with ``everything``, what is left
    of a kind) and returns the documents stored. ``close`` when done: it waits for a list still
    being read (its error, if any, is raised by the ``release`` that needed it).
    """

    def __init__(self, engine: Engine, *, run_id: str | None) -> None:
        self.engine, self.run_id = engine, run_id
        # kind -> storage id -> (the document as listed, the invoices it refers to)
        self._held: dict[str, dict[str, tuple[dict[str, Any], list[str]]]] = {kind: {} for kind in REFERRING_KINDS}
        self._stored_invoices: set[str] = set()
        self._listing: list[tuple[str, ExtractCounts, Future[list[dict[str, Any]]]]] = []
        self._pool: ThreadPoolExecutor | None = None

    def list_beside(self, kind: str, counts: ExtractCounts, read: Callable[..., list[dict[str, Any]]],
                    *args: Any) -> None:
        """Read ``read(*args)`` (a list of ``kind``) in the background; hold it once read (counted in ``counts``)."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="lago-list")
        self._listing.append((kind, counts, self._pool.submit(read, *args)))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _absorb(self, wait_for: tuple[str, ...] = ()) -> None:
        """Hold the lists read so far (waiting for those of ``wait_for``); a list that failed raises here."""
        left = []
        for kind, counts, future in self._listing:
            if future.done() or kind in wait_for:
                docs = future.result()
                self.hold(kind, docs)
                counts.listed[kind] = counts.listed.get(kind, 0) + len(docs)
            else:
                left.append((kind, counts, future))
        self._listing = left

    def hold(self, kind: str, docs: Iterable[dict[str, Any]]) -> None:
        """Keep these listed documents until their invoices are stored."""
        held = self._held[kind]
        for doc in docs:
            held[documents.storage_id(doc)] = (doc, documents.invoice_refs(kind, doc))

    def invoices_stored(self, lago_ids: Iterable[str]) -> None:
        self._stored_invoices.update(lago_ids)

    def release(
        self, counts: ExtractCounts, *, kinds: tuple[str, ...] = REFERRING_KINDS, everything: bool = False,
        ids: Iterable[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Store the held documents of ``kinds`` whose invoices are all stored (all of them with
        ``everything``, or those among ``ids`` whatever their invoices); return what was stored."""
        self._absorb(wait_for=kinds if everything or ids is not None else ())
        out: list[dict[str, Any]] = []
        wanted = set(ids) if ids is not None else None
        for kind in kinds:
            held = self._held[kind]
            if wanted is not None:
                ready = [key for key in held if key in wanted]
            elif everything:
                ready = list(held)
            else:
                ready = self._ready(held)
            if not ready:
                continue
            batch = [held.pop(key)[0] for key in ready]
            result = documents.store_documents(self.engine, kind, batch, run_id=self.run_id).as_dict()
            stored = counts.stored.setdefault(kind, {"inserted": 0, "changed": 0, "unchanged": 0})
            for name, value in result.items():
                stored[name] = stored.get(name, 0) + value
            out += batch
        return out

    def _ready(self, held: dict[str, tuple[dict[str, Any], list[str]]]) -> list[str]:
        unknown = {i for _, ids in held.values() for i in ids} - self._stored_invoices
        if unknown:  # stored by an earlier run or slice
            self._stored_invoices.update(documents.known_versions(self.engine, "invoice", unknown))
        return [key for key, (_, ids) in held.items() if all(i in self._stored_invoices for i in ids)]

"""The sync's steps, one function per DAG task: extract, transforming each slice → load lanes → report.

Every step reads and writes the sync store; XCom carries only counts, labels and ids. Each step can
be re-run on its own (Airflow retries, a cleared task, a second run) without sending anything twice.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from lago_netsuite.context import RunContext, record_run
from lago_netsuite.ledger import schema

if TYPE_CHECKING:
    from lago_netsuite.extract.documents import SliceDone

log = logging.getLogger(__name__)


# -- extract, slice by slice ------------------------------------------------------------------
def extract(
    ctx: RunContext,
    *,
    lago_conn_id: str,
    window: tuple[dt.date, dt.date] | None = None,
    interval: tuple[dt.datetime | None, dt.datetime | None] = (None, None),
    kinds: tuple[str, ...] | None = None,
    on_slice: SliceDone | None = None,
) -> dict[str, Any]:
    """Extract the run's window (an explicit one for a backfill, else the data interval's), oldest slice first."""
    from lago_netsuite.extract.documents import extract_in_slices, window_for_run
    from lago_netsuite.hooks.lago import LagoHook

    s = ctx.settings
    kinds = kinds or s.kinds
    explicit = window is not None
    if window is None:
        window = window_for_run(
            ctx.engine, interval_start=interval[0], interval_end=interval[1], lookback_days=s.lookback_days,
            today=dt.datetime.now(dt.UTC).date(), sync_start_date=s.sync_start_date,
        )
    record_run(ctx, window_from=window[0].isoformat(), window_to=window[1].isoformat())
    hook = LagoHook(lago_conn_id)
    counts = extract_in_slices(
        hook, ctx.engine, window_from=window[0], window_to=window[1],
        kinds=tuple(k for k in kinds if k != "customer"), run_id=ctx.run_id, workers=s.detail_fetch_workers,
        on_slice=on_slice, slice_invoices=s.slice_invoices,
    )
    result: dict[str, Any] = {}
    before = _before_sync_start(s.sync_start_date, interval[1].date() if interval[1] and not explicit else None)
    if before:
        result["before_sync_start"] = before
    if s.extra.get("late_changes", True):
        from lago_netsuite.extract.late import extract_late_changes

        extract_late_changes(hook, ctx.engine, counts, run_id=ctx.run_id, workers=s.detail_fetch_workers)
    return {"window": [window[0].isoformat(), window[1].isoformat()], **counts.as_dict(), **result}


def _before_sync_start(sync_start_date: str | None, end: dt.date | None) -> str | None:
    """What the report says when a run's whole range lies before ``sync_start_date`` (nothing to sync)."""
    if not sync_start_date or end is None or end >= dt.date.fromisoformat(sync_start_date):
        return None
    message = (f"this run's range ends {end.isoformat()}, before the sync start date {sync_start_date}: "
               "nothing in it is synced (change sync_start_date to replay it)")
    log.warning("%s", message)
    return message


def extract_range(
    ctx: RunContext, *, lago_conn_id: str, start: dt.date, end: dt.date, kinds: tuple[str, ...] | None = None,
    on_slice: SliceDone | None = None,
) -> dict[str, Any]:
    """A backfill's extraction: the range slice by slice (each a few hundred invoices), so memory stays
    flat over a year and loading starts with the first slice."""
    from lago_netsuite.extract.documents import extract_in_slices
    from lago_netsuite.hooks.lago import LagoHook

    if end < start:
        raise ValueError(f"end date {end} is before start date {start}")
    s = ctx.settings
    before = _before_sync_start(s.sync_start_date, end)
    if s.sync_start_date:
        start = max(start, dt.date.fromisoformat(s.sync_start_date))
    kinds = tuple(k for k in (kinds or s.kinds) if k != "customer")
    record_run(ctx, window_from=start.isoformat(), window_to=end.isoformat())
    total = extract_in_slices(LagoHook(lago_conn_id), ctx.engine, window_from=start, window_to=end, kinds=kinds,
                              run_id=ctx.run_id, workers=s.detail_fetch_workers, on_slice=on_slice,
                              slice_invoices=s.slice_invoices)
    return {"window": [start.isoformat(), end.isoformat()], **total.as_dict(),
            **({"before_sync_start": before} if before else {})}


def extract_one(ctx: RunContext, *, lago_conn_id: str, document: str) -> dict[str, Any]:
    """The single-document retry: find the document by Lago id or number, re-read it from Lago."""
    from lago_netsuite.extract.single import fetch_document

    kind, doc = fetch_document(ctx.engine, lago_conn_id, document, run_id=ctx.run_id)
    record_run(ctx)
    return {"only_lago_ids": [doc["lago_id"]], "document": {"kind": kind, "lago_id": doc["lago_id"],
                                                            "number": doc.get("number")}}


# -- transform + validate ----------------------------------------------------------------------
def transform(
    ctx: RunContext,
    *,
    kinds: tuple[str, ...] | None = None,
    retry_failed: bool = False,
    only_lago_ids: list[str] | None = None,
    window: list[str] | None = None,
    changed_before: dt.datetime | None = None,
) -> dict[str, Any]:
    """Turn every document that needs it into ledger outcomes (records to send, quarantines, skips).

    ``retry_failed`` puts failed documents back in line (those issued in ``window`` when given).
    With ``only_lago_ids`` (the single-document retry) the run's load scope is those documents and
    their customers, written to ``sync_run.load_scope`` for the load lanes.

    A bad mapping file raises here (naming the file and key) before anything is sent.
    """
    from lago_netsuite.transform.run import transform_pending

    s = ctx.settings
    kinds = kinds or s.kinds
    summary = transform_pending(ctx, kinds=kinds, retry_failed=retry_failed, only_lago_ids=only_lago_ids,
                                retry_window=(window[0], window[1]) if window and retry_failed else None,
                                changed_before=changed_before)
    customers = summary.pop("customer_external_ids", [])
    if only_lago_ids is not None:
        with ctx.engine.connect() as conn:
            t = schema.ledger
            only = list(conn.execute(sa.select(t.c.external_id).where(t.c.lago_id.in_(only_lago_ids))).scalars())
        record_run(ctx, load_scope=json.dumps(sorted({*only, *customers})))
    return summary


def _add_counts(total: dict[str, Any], part: dict[str, Any]) -> None:
    for key, value in part.items():
        if isinstance(value, int):
            total[key] = total.get(key, 0) + value


class _Transformer:
    """Transforms what the extraction hands on, in a thread of its own, so neither waits for the other.

    Each hand-over (``offer``) notes the moment everything stored so far is complete (customers and
    consumed credit notes included) and which kinds it holds; the thread transforms up to the latest
    such moment, taking together the hand-overs that came while it was busy. An error (a broken
    mapping file) is kept and raised in the extracting thread at its next hand-over or at the end.
    """

    def __init__(self, ctx: RunContext, kinds: tuple[str, ...]) -> None:
        import threading

        self.ctx, self.kinds = ctx, tuple(kinds)
        self.counts: dict[str, Any] = {}
        self.passes = 0
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._offer: tuple[dt.datetime, set[str]] | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="transform", daemon=True)
        self._thread.start()

    def offer(self, only_kinds: tuple[str, ...] | None) -> None:
        from lago_netsuite.ledger.upsert import utcnow

        self.raise_error()
        with self._lock:
            wanted = set(only_kinds or self.kinds) & set(self.kinds)
            at = utcnow()
            self._offer = (at, wanted | (self._offer[1] if self._offer else set()))
        self._wake.set()

    def close(self) -> None:
        """Finish what was offered; raise the thread's error, if any."""
        with self._lock:
            self._closed = True
        self._wake.set()
        self._thread.join()
        self.raise_error()

    def abandon(self) -> None:
        """The extraction failed: let the thread end after what it is doing, without waiting for it."""
        with self._lock:
            self._closed, self._offer = True, None
        self._wake.set()

    def raise_error(self) -> None:
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        while True:
            self._wake.wait()
            with self._lock:
                self._wake.clear()
                offer, self._offer, closed = self._offer, None, self._closed
            if offer is not None:
                try:
                    part = transform(self.ctx, kinds=tuple(k for k in self.kinds if k in offer[1]),
                                     changed_before=offer[0])
                except BaseException as exc:  # noqa: BLE001 - handed to the extracting thread
                    self.error = exc
                    return
                _add_counts(self.counts, part)
                self.passes += 1
            if closed:  # finish what is left, then end (``close`` set the event only once)
                with self._lock:
                    if self._offer is None:
                        return
                self._wake.set()


def produce(
    ctx: RunContext,
    extraction: Callable[[SliceDone], dict[str, Any]],
    *,
    kinds: tuple[str, ...] | None = None,
    retry_failed: bool = False,
    streaming: bool = True,
) -> dict[str, Any]:
    """Extract, transforming and validating what lands as it lands, so the load lanes start at once.

    ``extraction(on_slice)`` extracts; what each call of ``on_slice`` reports stored is transformed
    by a thread beside the extraction (``retry_failed`` with the final pass, once the extraction is
    over). The producer's state in ``sync_run`` tells
    the lanes when nothing more will come (``done``) or that this try failed (``failed``). With
    ``streaming`` off, everything is extracted first and transformed once (the single-document retry).
    """
    from lago_netsuite.load.stream import PRODUCE_FAILED, PRODUCED, PRODUCING

    kinds = kinds or ctx.settings.kinds
    record_run(ctx, producer_state=PRODUCING, load_scope=None)
    transformer: _Transformer | None = None
    try:
        if streaming:
            transformer = _Transformer(ctx, kinds)
            offer = transformer.offer
            extracted = extraction(lambda _start, _end, only_kinds: offer(only_kinds))
            transformer.close()
        else:
            extracted = extraction(lambda *_: None)
        transformed: dict[str, Any] = dict(transformer.counts) if transformer else {}
        final = transform(ctx, kinds=kinds, retry_failed=retry_failed,
                          only_lago_ids=extracted.get("only_lago_ids"), window=extracted.get("window"))
        _add_counts(transformed, final)
        transformed["passes"] = (transformer.passes if transformer else 0) + 1
    except BaseException:
        if transformer is not None:
            transformer.abandon()
        record_run(ctx, producer_state=PRODUCE_FAILED)
        raise
    record_run(ctx, producer_state=PRODUCED)
    return {"extract": extracted, "transform": transformed}


def producer_state(ctx: RunContext) -> str | None:
    """The run's producer state as the store has it (None before the producer started)."""
    t = schema.sync_run
    with ctx.engine.connect() as conn:
        return conn.execute(sa.select(t.c.producer_state).where(t.c.run_id == ctx.run_id)).scalar_one_or_none()


def load_scope(ctx: RunContext) -> list[str] | None:
    """The externalIds this run may send (the single-document retry), or None: every sendable record."""
    t = schema.sync_run
    with ctx.engine.connect() as conn:
        raw = conn.execute(sa.select(t.c.load_scope).where(t.c.run_id == ctx.run_id)).scalar_one_or_none()
    return json.loads(raw) if raw else None


# -- load --------------------------------------------------------------------------------------
def loader_options(ctx: RunContext) -> Any:
    from lago_netsuite.load.loader import LoaderOptions

    s = ctx.settings
    return LoaderOptions(
        batch_size=s.batch_size, max_attempts=s.max_attempts, retry_backoff_minutes=s.retry_backoff_minutes,
        **{k: v for k, v in s.extra.items() if k in ("lease_seconds", "max_passes", "in_run_retry_seconds")},
    )


def lane(
    ctx: RunContext, lane_no: int, *, netsuite_conn_id: str, kinds: tuple[str, ...] | None = None,
    producer: Callable[[], str | None] | None = None, idle_seconds: float | None = None,
) -> dict[str, Any]:
    """Run one load lane until its work is done (``finished``) or it is idle while the producer runs.

    What the lane did in this try is added to its row in ``load_lane``, so a lane that gave its slot
    back and came again reports the whole run; ``refused`` lists every record NetSuite refused it.
    """
    from lago_netsuite.hooks.netsuite import NetSuiteRestletHook
    from lago_netsuite.load.stream import Lane

    s = ctx.settings
    worker = Lane(ctx.engine, NetSuiteRestletHook(netsuite_conn_id), run_id=ctx.run_id, lane=lane_no,
                  kinds=kinds or s.kinds, producer_state=producer or (lambda: producer_state(ctx)),
                  options=loader_options(ctx), only=load_scope(ctx),
                  idle_seconds=float(idle_seconds if idle_seconds is not None
                                     else s.extra.get("lane_idle_seconds", 20)))
    result = worker.run()
    stats = _record_lane(ctx, lane_no, result.stats.as_dict())
    stats["finished"] = result.finished
    return stats


def _record_lane(ctx: RunContext, lane_no: int, stats: dict[str, Any]) -> dict[str, Any]:
    """Add one try's stats to the lane's row; return the lane's totals for the run."""
    from lago_netsuite.ledger.upsert import utcnow

    t = schema.load_lane
    refused = list(stats.pop("failed_ids", []))
    with ctx.engine.begin() as conn:
        row = conn.execute(sa.select(t.c.stats, t.c.refused).where(t.c.run_id == ctx.run_id, t.c.lane == lane_no)
                           ).first()
        total: dict[str, Any] = json.loads(row.stats) if row else {}
        _add_counts(total, stats)
        all_refused = [*(json.loads(row.refused) if row else []), *refused]
        values = {"stats": json.dumps(total), "refused": json.dumps(all_refused), "updated_at": utcnow()}
        if row:
            conn.execute(t.update().where(t.c.run_id == ctx.run_id, t.c.lane == lane_no).values(**values))
        else:
            conn.execute(t.insert().values(run_id=ctx.run_id, lane=lane_no, **values))
    return {**total, "failed_ids": all_refused, "refused_now": refused}


# -- catalog -----------------------------------------------------------------------------------
def mapping_coverage(ctx: RunContext) -> dict[str, Any]:
    """Resolve every Lago catalog object against the mapping file; log and return the gaps."""
    from lago_netsuite.ledger.catalog import CATALOG_ENDPOINTS, load_catalog
    from lago_netsuite.transform import load_mappings
    from lago_netsuite.transform.coverage import mapping_coverage as coverage
    from lago_netsuite.transform.coverage import render

    mappings = load_mappings(ctx.settings.mapping_path())  # a broken file fails here, naming file and key
    catalog = {kind: load_catalog(ctx.engine, kind) for kind in CATALOG_ENDPOINTS}
    gaps = coverage(mappings, catalog, load_catalog(ctx.engine, "customer"))
    log.info("%s", render(gaps))
    return {
        "mapping_file": ctx.settings.mapping_path(),
        "unmapped": sum(g.status == "unmapped" for g in gaps),
        "fallback": sum(g.status == "fallback" for g in gaps),
        "gaps": [g.as_dict() for g in gaps[:200]],
    }


# -- report ------------------------------------------------------------------------------------
def report(ctx: RunContext, *, extract_counts: dict | None = None, transform_counts: dict | None = None) -> dict:
    """What this run did per kind, with every failed or held-back document and why."""
    from lago_netsuite.ledger.upsert import utcnow
    from lago_netsuite.report import build_report, outcome

    result = build_report(ctx.engine, ctx.run_id, long_waiting_hours=ctx.settings.long_waiting_hours,
                          window=(extract_counts or {}).get("window"))
    result["extract"] = extract_counts or {}
    result["transform"] = transform_counts or {}
    result["outcome"] = outcome(result, policy=ctx.settings.unresolved_policy)
    # Stored before the report task decides the run's fate: a failed run keeps its result too.
    record_run(ctx, finished_at=utcnow(), summary=json.dumps(result, default=str))
    return result

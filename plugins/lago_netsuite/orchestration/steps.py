"""The sync's steps, one function per DAG task: extract → transform + validate → load → report.

Every step reads and writes the sync store; XCom carries only counts, labels and ids. Each step can
be re-run on its own (Airflow retries, a cleared task, a second run) without sending anything twice.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

import sqlalchemy as sa

from lago_netsuite.context import RunContext, record_run
from lago_netsuite.ledger import schema

log = logging.getLogger(__name__)


# -- extract -----------------------------------------------------------------------------------
def extract(
    ctx: RunContext,
    *,
    lago_conn_id: str,
    window: tuple[dt.date, dt.date] | None = None,
    interval: tuple[dt.datetime | None, dt.datetime | None] = (None, None),
    kinds: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """Extract the run's window (an explicit one for a backfill, else the data interval's)."""
    from lago_netsuite.extract.documents import extract_window, window_for_run
    from lago_netsuite.hooks.lago import LagoHook

    s = ctx.settings
    kinds = kinds or s.kinds
    if window is None:
        window = window_for_run(
            ctx.engine, interval_start=interval[0], interval_end=interval[1], lookback_days=s.lookback_days,
            today=dt.datetime.now(dt.UTC).date(), sync_start_date=s.sync_start_date,
        )
    record_run(ctx, window_from=window[0].isoformat(), window_to=window[1].isoformat())
    hook = LagoHook(lago_conn_id)
    counts = extract_window(
        hook, ctx.engine, window_from=window[0], window_to=window[1],
        kinds=tuple(k for k in kinds if k != "customer"), run_id=ctx.run_id, workers=s.detail_fetch_workers,
    )
    result: dict[str, Any] = {}
    before = _before_sync_start(s.sync_start_date, interval[1].date() if interval[1] and window is None else None)
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
    ctx: RunContext, *, lago_conn_id: str, start: dt.date, end: dt.date, kinds: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """A backfill's extraction: the range in windows of a week, so memory stays flat over a year."""
    from lago_netsuite.extract.documents import ExtractCounts, extract_window
    from lago_netsuite.hooks.lago import LagoHook

    if end < start:
        raise ValueError(f"end date {end} is before start date {start}")
    s = ctx.settings
    before = _before_sync_start(s.sync_start_date, end)
    if s.sync_start_date:
        start = max(start, dt.date.fromisoformat(s.sync_start_date))
    kinds = tuple(k for k in (kinds or s.kinds) if k != "customer")
    record_run(ctx, window_from=start.isoformat(), window_to=end.isoformat())
    hook = LagoHook(lago_conn_id)
    total = ExtractCounts()
    cursor = start
    while cursor <= end:
        until = min(end, cursor + dt.timedelta(days=6))
        part = extract_window(hook, ctx.engine, window_from=cursor, window_to=until, kinds=kinds,
                              run_id=ctx.run_id, workers=s.detail_fetch_workers)
        for key, value in part.listed.items():
            total.listed[key] = total.listed.get(key, 0) + value
        for key, stored in part.stored.items():
            acc = total.stored.setdefault(key, {})
            for name, n in stored.items():
                acc[name] = acc.get(name, 0) + n
        total.detail_fetches += part.detail_fetches
        total.customers_fetched += part.customers_fetched
        total.customer_calls += part.customer_calls
        total.referenced_invoices_fetched += part.referenced_invoices_fetched
        total.errors += part.errors
        cursor = until + dt.timedelta(days=1)
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
) -> dict[str, Any]:
    """Turn every document that needs it into ledger outcomes, then plan the load groups.

    ``retry_failed`` puts failed documents back in line (those issued in ``window`` when given).

    A bad mapping file raises here (naming the file and key) before anything is sent.
    """
    from lago_netsuite.load.plan import plan_groups
    from lago_netsuite.transform.run import transform_pending

    s = ctx.settings
    kinds = kinds or s.kinds
    summary = transform_pending(ctx, kinds=kinds, retry_failed=retry_failed, only_lago_ids=only_lago_ids,
                                retry_window=(window[0], window[1]) if window and retry_failed else None)
    only = None
    if only_lago_ids is not None:
        with ctx.engine.connect() as conn:
            t = schema.ledger
            only = list(conn.execute(sa.select(t.c.external_id).where(t.c.lago_id.in_(only_lago_ids))).scalars())
            only += summary.get("customer_external_ids", [])
    plan = plan_groups(ctx.engine, ctx.run_id, kinds=(*kinds, "customer"), per_group=s.documents_per_load_task,
                       only=only, lanes=s.load_parallelism, batch_size=s.batch_size)
    summary.pop("customer_external_ids", None)
    return {
        "counts": summary,
        "customers": [g.as_dict() for g in plan[1]],
        "invoices": [g.as_dict() for g in plan[2]],
        "dependents": [g.as_dict() for g in plan[3]],
        "applications": [g.as_dict() for g in plan[4]],
    }


# -- load --------------------------------------------------------------------------------------
def load(ctx: RunContext, group: dict[str, Any], *, netsuite_conn_id: str) -> dict[str, Any]:
    """Send one planned group of records through the RESTlet."""
    from lago_netsuite.hooks.netsuite import NetSuiteRestletHook
    from lago_netsuite.load.loader import GroupLoader, LoaderOptions
    from lago_netsuite.load.plan import group_ids

    s = ctx.settings
    options = LoaderOptions(
        batch_size=s.batch_size, max_attempts=s.max_attempts, retry_backoff_minutes=s.retry_backoff_minutes,
        **{k: v for k, v in s.extra.items() if k in ("lease_seconds", "max_passes", "in_run_retry_seconds")},
    )
    loader = GroupLoader(ctx.engine, NetSuiteRestletHook(netsuite_conn_id), run_id=ctx.run_id, options=options)
    stats = loader.load(group_ids(ctx.engine, group)).as_dict()
    stats["label"] = group.get("label")
    return stats


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

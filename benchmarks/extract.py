"""Benchmark: extraction from Lago against its 50 requests/s limit, and what an hourly run costs.

The Lago sandbox runs in its own process with Lago's rate limit (50 requests/s, fixed one-second
windows, 429 above it) over a seeded dataset issued across the last ``--days`` days. The product's
extraction — ``extract_window`` with the ``LagoHook`` (client pacing from the connection, default
45 requests/s; invoice details fetched concurrently) — reads it into a fresh sync store.

The ceiling: Lago cannot hand over documents faster than the API calls they need at 50 calls/s.
The calls an extraction cannot avoid are the list pages (100 documents a page: invoices and credit
notes of the window, payments newest first until older than the window), one detail call per
invoice (the list has no fees) and one call per customer not seen before. So

    ceiling documents/s = documents / (unavoidable calls / 50)

and the ratio is the measured documents/s over it. The client paces itself at the connection's
``requests_per_second`` (45: headroom for the organisation's other API users), which caps the
ratio at 45/50 = 0.90 by design; the target is the pacing itself kept (≥ 0.95 of it) with no 429.

Then two hourly runs with the sync's own window (its data interval widened by the 3-day look-back):
one with nothing new, one after ``--new`` new invoices; their API calls must grow with the new
documents (one detail call each), not with the history before the look-back.

    .venv/bin/python benchmarks/extract.py [--invoices 2000] [--customers 200] [--days 30] [--new 25]
        [--rate 45] [--workers 8] [--postgres]
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import figure, lago_conn_json, machine_note, postgres_database, say, start_server  # noqa: E402

API_KEY = "lago-bench-api-key-7d1f0c55"
LAGO_LIMIT = 50
KINDS = ("invoice", "creditnote", "payment")


def list_calls(stats: dict[str, Any], endpoint: str) -> int:
    """Successful calls the sandbox answered on one endpoint (e.g. ``GET /payments``)."""
    return int((stats["requests"].get(endpoint) or {}).get("200", 0))


def unavoidable_calls(counts: Any, stats: dict[str, Any]) -> int:
    """List pages for what was listed, one detail per invoice fetched, and for the new customers one
    call each or the pages of the whole customer list, whichever is fewer."""
    pages = sum(max(1, math.ceil(counts.listed.get(kind, 0) / 100)) for kind in ("invoice", "creditnote"))
    payment_pages = list_calls(stats, "GET /payments")  # newest first until older than the window
    customer_pages = max(1, math.ceil(stats["documents"].get("customers", 0) / 100))
    return pages + payment_pages + counts.detail_fetches + min(counts.customers_fetched, customer_pages)


def run_extract(hook: Any, engine: Any, sandbox: Any, window: tuple[dt.date, dt.date], run_id: str,
                workers: int) -> dict[str, Any]:
    """One ``extract_window`` with the sandbox's counters reset first; returns counts, calls and time."""
    from lago_netsuite.extract.documents import extract_window

    sandbox.admin("POST", "reset", {"documents": False, "config": False, "stats": True})
    started = time.perf_counter()
    counts = extract_window(hook, engine, window_from=window[0], window_to=window[1], kinds=KINDS, run_id=run_id,
                            workers=workers)
    wall = time.perf_counter() - started
    stats = sandbox.admin("GET", "stats")
    stored = sum(sum(v for k, v in s.items() if k in ("inserted", "changed")) for s in counts.stored.values())
    return {"counts": counts, "wall": wall, "stats": stats, "calls": stats["total"], "throttled": stats["throttled"],
            "documents": stored, "unavoidable": unavoidable_calls(counts, stats)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=2000, help="invoices in the Lago dataset (default 2000)")
    parser.add_argument("--customers", type=int, default=200, help="customers in the dataset (default 200)")
    parser.add_argument("--days", type=int, default=30, help="issuing dates spread over the last N days (default 30)")
    parser.add_argument("--new", type=int, default=25, help="new invoices before the second hourly run (default 25)")
    parser.add_argument("--rate", type=float,
                        help="the connection's requests_per_second (default: the hook's own default, 45)")
    parser.add_argument("--workers", type=int, help="concurrent detail fetches (default: the settings' default, 8)")
    parser.add_argument("--lookback-days", type=int, help="look-back of the hourly window (default: the settings')")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--postgres", action="store_true", help="sync store on PostgreSQL instead of SQLite")
    args = parser.parse_args(argv)

    say(f"before: {machine_note()}")
    today = dt.datetime.now(dt.UTC).date()
    spec = {"seed": args.seed, "customers": args.customers, "invoices": args.invoices,
            "start_date": (today - dt.timedelta(days=args.days - 1)).isoformat(), "end_date": today.isoformat(),
            "as_of_end": True}
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lns-bench-extract-")))
        say(f"generating {args.invoices} invoices over {args.days} days in the Lago sandbox process")
        sandbox = stack.enter_context(start_server(
            "lago", {"spec": spec, "api_key": API_KEY, "rate_limit": LAGO_LIMIT}, work, timeout=300))
        os.environ["AIRFLOW_CONN_LAGO_DEFAULT"] = lago_conn_json(sandbox.url, API_KEY, args.rate)
        store_url = (stack.enter_context(postgres_database("lns_bench_extract")) if args.postgres
                     else f"sqlite:///{work / 'store.db'}")

        from lago_netsuite.extract.documents import window_for_run
        from lago_netsuite.hooks.lago import LagoHook
        from lago_netsuite.ledger import migrations, store
        from lago_netsuite.settings import SyncSettings

        defaults = SyncSettings()
        workers = args.workers or defaults.detail_fetch_workers
        lookback = defaults.lookback_days if args.lookback_days is None else args.lookback_days
        engine = store.get_engine(store_url)
        stack.callback(store.dispose_engines)
        migrations.migrate(engine)
        hook = LagoHook("lago_default")
        rate = hook.settings.requests_per_second

        say("full extraction of the dataset's whole date range")
        full = run_extract(hook, engine, sandbox, (today - dt.timedelta(days=args.days - 1), today), "bench-full",
                           workers)

        now = dt.datetime.now(dt.UTC)
        window = window_for_run(engine, interval_start=now - dt.timedelta(hours=1), interval_end=now,
                                lookback_days=lookback, today=today, sync_start_date=None)
        say(f"hourly run with nothing new (window {window[0]}..{window[1]})")
        quiet = run_extract(hook, engine, sandbox, window, "bench-hourly-0", workers)
        for _ in range(args.new):
            sandbox.admin("POST", "invoices/spawn")
        say(f"hourly run after {args.new} new invoices")
        busy = run_extract(hook, engine, sandbox, window, "bench-hourly-k", workers)
        documents = sandbox.admin("GET", "stats")["documents"]

    history = sum(documents.get(c, 0) for c in ("invoices", "credit_notes", "payments"))
    top = full["documents"] / (full["unavoidable"] / LAGO_LIMIT)
    docs_per_s = full["documents"] / full["wall"]
    say(f"full: {full['documents']} documents ({full['counts'].listed}), {full['calls']} calls "
        f"({full['unavoidable']} unavoidable) in {full['wall']:.1f} s; pacing {rate:g} requests/s, {workers} workers; "
        f"after: {machine_note()}")
    figure("extract.full.documents_per_s", docs_per_s, "documents/s", ratio=docs_per_s / top,
           target=f"ceiling {top:.1f} at {LAGO_LIMIT} requests/s; pacing {rate:g}/s caps the ratio at "
                  f"{rate / LAGO_LIMIT:.2f}",
           note=f"{full['documents']} documents in {full['wall']:.1f} s")
    call_rate = full["calls"] / full["wall"]
    figure("extract.full.requests_per_s", call_rate, "requests/s", ratio=call_rate / rate,
           target=f">= 0.95 x the connection's pacing {rate:g}/s (Lago allows {LAGO_LIMIT}/s)")
    figure("extract.full.calls", full["calls"], "API calls", ratio=full["calls"] / full["unavoidable"],
           target=f"{full['unavoidable']} = list pages + 1 detail per invoice + new customers' calls",
           note=f"{full['counts'].customers_fetched} new customers in {full['counts'].customer_calls} calls")
    figure("extract.full.throttled", full["throttled"], "responses 429", target="0")
    quiet_pages = quiet["unavoidable"]
    figure("extract.hourly_nothing_new.calls", quiet["calls"], "API calls",
           target=f"{quiet_pages} = the look-back window's list pages only (history: {history} documents)",
           note=f"{quiet['counts'].listed} listed, {quiet['counts'].detail_fetches} details, "
                f"{quiet['wall']:.2f} s")
    grown = busy["calls"] - quiet["calls"]
    figure("extract.hourly_new.calls", busy["calls"], "API calls",
           target=f"nothing-new calls + {args.new} details (+ a list page when one fills up)",
           note=f"+{grown} for {args.new} new invoices, {busy['counts'].detail_fetches} details, "
                f"{busy['wall']:.2f} s")
    figure("extract.hourly_new.calls_per_new_document", grown / max(1, args.new), "calls",
           target="~1 (one detail call each)")
    ok = (full["throttled"] == 0 and call_rate >= 0.95 * rate and full["calls"] == full["unavoidable"]
          and quiet["calls"] == quiet_pages and args.new <= grown <= args.new + 3)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

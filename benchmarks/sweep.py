"""Benchmark: what the daily reconciliation sweep and the hourly late-change lists cost in Lago calls.

A Lago sandbox (own process, Lago's 50 requests/s limit) holds ``--invoices`` invoices issued over
the last ``--days`` days. Everything is extracted into a fresh store and marked synced in the
ledger (as after a full sync), then:

- the sweep (``extract/sweep.py``) over the default 90-day horizon: its Lago calls per synced
  document — list pages only when nothing differs (100 documents a page), target <= 0.05;
- the hourly late-change lists (``extract/late.py``) run twice with nothing new: the second run's
  calls are the figure an hourly run adds, target 4 (one page per list), whatever the history.

    .venv/bin/python benchmarks/sweep.py [--invoices 2000] [--customers 200] [--days 90]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import figure, lago_conn_json, say, start_server  # noqa: E402

API_KEY = "lago-bench-api-key-5e0a17c3"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=2000)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    today = dt.datetime.now(dt.UTC).date()
    spec = {"seed": args.seed, "customers": args.customers, "invoices": args.invoices,
            "start_date": (today - dt.timedelta(days=args.days - 1)).isoformat(), "end_date": today.isoformat(),
            "as_of_end": True}
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lns-bench-sweep-")))
        say(f"generating {args.invoices} invoices over {args.days} days in the Lago sandbox process")
        sandbox = stack.enter_context(start_server("lago", {"spec": spec, "api_key": API_KEY, "rate_limit": 50},
                                                   work, timeout=300))
        os.environ["AIRFLOW_CONN_LAGO_DEFAULT"] = lago_conn_json(sandbox.url, API_KEY, None)

        import sqlalchemy as sa

        from lago_netsuite.extract.documents import ExtractCounts, extract_window
        from lago_netsuite.extract.late import extract_late_changes
        from lago_netsuite.extract.sweep import sweep
        from lago_netsuite.hooks.lago import LagoHook
        from lago_netsuite.ledger import migrations, schema, store
        from lago_netsuite.ledger.upsert import utcnow

        engine = store.get_engine(f"sqlite:///{work / 'store.db'}")
        stack.callback(store.dispose_engines)
        migrations.migrate(engine)
        hook = LagoHook("lago_default")
        extract_window(hook, engine, window_from=today - dt.timedelta(days=args.days - 1), window_to=today,
                       kinds=("invoice", "creditnote", "payment"), run_id="bench-full")
        d = schema.document
        with engine.begin() as conn:  # everything stored counts as synced, as after a full sync
            rows = conn.execute(sa.select(d.c.kind, d.c.lago_id, d.c.payload_hash)).all()
            now = utcnow()
            conn.execute(schema.ledger.insert(), [
                {"external_id": f"lago-{r.kind}-{r.lago_id}", "kind": r.kind, "record_type": r.kind,
                 "lago_id": r.lago_id, "state": "synced", "action": "create", "attempts": 1,
                 "changed_after_sync": 0, "source_hash": r.payload_hash, "created_at": now, "updated_at": now}
                for r in rows])
        say(f"{len(rows)} documents synced; sweeping the 90-day horizon")
        result = sweep(hook, engine, today=today, run_id="bench-sweep")
        extract_late_changes(hook, engine, ExtractCounts(), run_id="bench-late-1")
        quiet = ExtractCounts()
        extract_late_changes(hook, engine, quiet, run_id="bench-late-2")

    figure("sweep.calls_per_synced_document", result["calls_per_document"], "Lago calls/document",
           target="<= 0.05 (list pages only when nothing differs)",
           note=f"{result['lago_calls']} calls for {result['compared']} synced documents, "
                f"{sum(map(len, result['differ'].values()))} differ")
    figure("hourly.late_lists_nothing_new.calls", quiet.late_calls, "Lago calls",
           target="4 (one page per late-change list), whatever the history",
           note=f"{len(rows)} documents of history")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

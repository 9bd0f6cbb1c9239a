"""``./dev demo``: start both sandboxes, run the DAGs through Airflow, print what happened.

The DAGs run with ``airflow dags test`` — real Airflow runs, recorded in the metadata database and
visible in the UI's run history — against the Lago and NetSuite sandboxes over real HTTP with real
token-based auth. The sync runs twice: the second run must find nothing new and create nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

DAGS = ("lago_netsuite_catalog", "lago_netsuite_sync")


def _airflow(args: list[str], log: Path) -> tuple[int, float]:
    started = time.monotonic()
    with open(log, "wb") as out:
        code = subprocess.call([str(Path(sys.executable).with_name("airflow")), *args],  # noqa: S603
                               stdout=out, stderr=subprocess.STDOUT)
    return code, time.monotonic() - started


def _sandbox(action: str, run_dir: Path, extra: list[str]) -> None:
    subprocess.run([sys.executable, "-m", "lago_netsuite.sandbox", action, "--run-dir", str(run_dir), *extra],  # noqa: S603
                   check=True)


def _netsuite_records(url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{url}/_sandbox/records", timeout=10) as resp:  # noqa: S310 - loopback
        return json.loads(resp.read())["records"]


def _runs(dag_id: str, limit: int) -> list[dict[str, Any]]:
    import sqlalchemy as sa

    from lago_netsuite.ledger import schema
    from lago_netsuite.ledger.runtime import store_engine

    t = schema.sync_run
    with store_engine().connect() as conn:
        rows = conn.execute(sa.select(t).where(t.c.dag_id == dag_id).order_by(t.c.started_at.desc()).limit(limit))
        return [dict(r._mapping) for r in rows][::-1]


def main(argv: list[str] | None = None) -> int:
    """Run the demo; return the process exit code (0 when every run succeeded)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--fresh", action="store_true", help="start from an empty ledger and NetSuite sandbox")
    args, sandbox_args = parser.parse_known_args(argv)
    run_dir: Path = args.run_dir
    home = Path(os.environ["AIRFLOW_HOME"])
    if args.fresh:
        (home / "lago_netsuite_sync.db").unlink(missing_ok=True)
        sandbox_args.append("--fresh")
    print("==> Starting the Lago and NetSuite sandboxes", flush=True)
    _sandbox("start", run_dir, sandbox_args)
    state = json.loads((run_dir / "sandboxes.json").read_text())
    failures = 0
    timings: dict[str, float] = {}
    try:
        before = _netsuite_records(state["netsuite_url"])
        for label, dag_id in (("catalog", DAGS[0]), ("sync", DAGS[1]), ("sync-again", DAGS[1])):
            print(f"==> airflow dags test {dag_id}" + ("   (second run: nothing new expected)"
                                                       if label == "sync-again" else ""), flush=True)
            code, seconds = _airflow(["dags", "test", dag_id], run_dir / f"demo-{label}.log")
            timings[label] = seconds
            status = "success" if code == 0 else f"FAILED (exit {code}, log: {run_dir / f'demo-{label}.log'})"
            print(f"    {status} in {seconds:.1f} s", flush=True)
            failures += code != 0
        after = _netsuite_records(state["netsuite_url"])
    finally:
        _sandbox("stop", run_dir, [])
    _print_summary(home, before, after, timings)
    return 1 if failures else 0


def _print_summary(home: Path, before: list[dict], after: list[dict], timings: dict[str, float]) -> None:
    from lago_netsuite.report import render_text

    runs = _runs(DAGS[1], 2)
    print()
    for run in runs:
        summary = json.loads(run["summary"] or "{}")
        print(render_text(summary) if summary else f"Run {run['run_id']}: no report (see the task logs)")
        print()
    counts = Counter(r["externalId"] for r in after)
    duplicates = sum(c - 1 for c in counts.values() if c > 1)
    created = len(after) - len(before)
    by_type = Counter(r["type"] for r in after if not r.get("seeded"))
    first = json.loads(runs[0]["summary"] or "{}") if runs else {}
    synced = (first.get("totals") or {}).get("synced", 0)
    sync_s = timings.get("sync", 0.0)
    print("==> Summary")
    print(f"    NetSuite sandbox: {created} records created by this demo "
          f"({', '.join(f'{n} {t}' for t, n in sorted(by_type.items()))} in total); duplicates: {duplicates}")
    if sync_s:
        print(f"    first sync: {synced} documents synced in {sync_s:.1f} s ({synced / sync_s:.1f} documents/s, "
              "including Airflow start-up)")
    if "sync-again" in timings:
        print(f"    second sync (nothing new): {timings['sync-again']:.1f} s")
    print()
    print("==> Where to look")
    print(f"    Ledger (every document's state, NetSuite id, errors): {home / 'lago_netsuite_sync.db'}")
    print("      ./dev sql \"SELECT kind, state, count(*) FROM sync_ledger GROUP BY 1, 2\"")
    print(f"    Validation results (Great Expectations Data Docs): {home / 'data_docs' / 'index.html'}")
    print("    Run history in the Airflow UI: ./dev ui   then open http://localhost:8080 (DAG lago_netsuite_sync)")
    print(f"    Task logs: {home / 'logs'}")


if __name__ == "__main__":
    raise SystemExit(main())

"""``./dev demo``: start both sandboxes, run the DAGs through Airflow, print what happened.

The DAGs run with ``airflow dags test`` — real Airflow runs, recorded in the metadata database and
visible in the UI's run history — against the Lago and NetSuite sandboxes over real HTTP with real
token-based auth. The sync runs twice: the second run must find nothing new and create nothing.
Then an accountant records two payments in the NetSuite sandbox (one invoice paid in full, one in
part) and ``lago_netsuite_payments_back`` runs (switched on for that run only): its report lists the
payments that went back to Lago.
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
PAYMENTS_BACK = "lago_netsuite_payments_back"


def _airflow(args: list[str], log: Path, env: dict[str, str] | None = None) -> tuple[int, float]:
    started = time.monotonic()
    with open(log, "wb") as out:
        code = subprocess.call([str(Path(sys.executable).with_name("airflow")), *args],  # noqa: S603
                               stdout=out, stderr=subprocess.STDOUT, env=env)
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
        failures += _payments_back(state["netsuite_url"], run_dir, timings)
    finally:
        _sandbox("stop", run_dir, [])
    _print_summary(home, before, after, timings)
    _print_payments_back()
    return 1 if failures else 0


def record_demo_payments(netsuite_url: str) -> list[dict[str, Any]]:
    """The accountant's part: one synced invoice paid in full, another in part, in the NetSuite sandbox.

    Picks invoices that carry a Lago id and still have something due (their total less every
    application of a payment or credit memo); returns the payments as the listing shows them.
    """
    from decimal import ROUND_DOWN, Decimal

    records = _netsuite_records(netsuite_url)
    applied: Counter[str] = Counter()
    for r in records:
        if r["type"] in ("customerpayment", "creditmemo") and not r["voided"]:
            for sub in r["body"].get("lines") or []:
                if sub.get("sublistId") == "apply":
                    for line in sub.get("lineItems") or []:
                        applied[str(line.get("doc"))] += Decimal(str(line.get("amount") or 0))  # type: ignore[assignment]
    due = [(r, Decimal(str(r["total"])) - Decimal(str(applied[r["id"]]))) for r in records
           if r["type"] == "invoice" and not r["voided"] and r.get("total") is not None
           and (r["body"].get("columns") or {}).get("custbody_lago_id")]
    open_invoices = [(r, d) for r, d in due if d > 0]
    payments = []
    for n, (invoice, amount) in enumerate(open_invoices[:2]):
        if n == 1:  # the second one in part: half, in the invoice's own smallest unit
            half = (amount / 2).quantize(Decimal(1).scaleb(amount.as_tuple().exponent), rounding=ROUND_DOWN)  # type: ignore[arg-type]
            amount = half if half > 0 else amount
        body = json.dumps({"applications": [{"doc": invoice["id"], "amount": str(amount)}],
                           "memo": "demo: wire received"}).encode()
        request = urllib.request.Request(f"{netsuite_url}/_sandbox/payments", data=body, method="POST",  # noqa: S310
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310 - loopback
            payments.append(json.loads(resp.read())["payment"])
    return payments


def _payments_back(netsuite_url: str, run_dir: Path, timings: dict[str, float]) -> int:
    """Record two payments in NetSuite and run the payments-back DAG once (switched on for this run)."""
    payments = record_demo_payments(netsuite_url)
    print(f"==> An accountant records {len(payments)} payment(s) in the NetSuite sandbox: "
          + ", ".join(f"{p['tranid']} ({', '.join(str(a['amount']) for a in p['applications'])})" for p in payments),
          flush=True)
    from airflow.models import Variable  # noqa: AIR311 - the metadata database, outside any task (as airflow_settings)

    settings = json.loads(Variable.get("lago_netsuite_settings", default_var="{}") or "{}")  # noqa: AIR311
    env = {**os.environ, "AIRFLOW_VAR_LAGO_NETSUITE_SETTINGS": json.dumps({**settings, "payments_back_enabled": True})}
    print(f"==> airflow dags test {PAYMENTS_BACK}", flush=True)
    code, seconds = _airflow(["dags", "test", PAYMENTS_BACK], run_dir / "demo-payments-back.log", env)
    timings["payments-back"] = seconds
    status = "success" if code == 0 else f"FAILED (exit {code}, log: {run_dir / 'demo-payments-back.log'})"
    print(f"    {status} in {seconds:.1f} s", flush=True)
    return int(code != 0)


def _print_payments_back() -> None:
    from lago_netsuite.payments_back import render_text

    runs = _runs(PAYMENTS_BACK, 1)
    summary = json.loads(runs[0]["summary"] or "{}") if runs else {}
    print()
    print("==> Payments that went back to Lago")
    print("    " + (render_text(summary).replace("\n", "\n    ") if summary.get("kind") == "payments_back"
                    else "no payments-back report (see demo-payments-back.log)"))


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

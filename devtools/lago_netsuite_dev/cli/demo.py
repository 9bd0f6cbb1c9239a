"""``./dev demo``: start both sandboxes and Airflow, run the DAGs through its scheduler, print what happened.

Airflow runs as ``./dev ui`` runs it (api-server, scheduler with the LocalExecutor, dag-processor,
triggerer): the demo unpauses and triggers the DAGs and waits for their runs, so every task log and
the report are in the UI afterwards. The DAGs talk to the Lago and NetSuite sandboxes over real
HTTP with real token-based auth. The sync runs twice: the second run must find nothing new and
create nothing. It ends by saying where to look (the runs' URLs and the report task's log).
Then an accountant records two payments in the NetSuite sandbox (one invoice paid in full, one in
part) and ``lago_netsuite_payments_back`` runs through the scheduler too (switched on for the demo's
Airflow only): its report lists the payments that went back to Lago.
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


def _airflow(args: list[str], log: Path, env: dict[str, str] | None = None) -> int:
    with open(log, "ab") as out:
        return subprocess.call([str(Path(sys.executable).with_name("airflow")), *args],  # noqa: S603
                               stdout=out, stderr=subprocess.STDOUT, env=env)


def _metadata_engine(db_url: str | None = None) -> Any:
    import sqlalchemy as sa

    if db_url is None:
        from airflow.configuration import conf

        db_url = conf.get("database", "sql_alchemy_conn")
    return sa.create_engine(db_url)


def wait_for_dags(dag_ids: tuple[str, ...], timeout: float, db_url: str | None = None) -> None:
    """Wait until the dag-processor has parsed every DAG (it is in the ``dag`` table)."""
    import sqlalchemy as sa

    engine = _metadata_engine(db_url)
    found: set[str] = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            query = sa.text("SELECT dag_id FROM dag WHERE is_stale = 0 OR is_stale IS NULL")
            found = set(conn.execute(query).scalars())
        if set(dag_ids) <= found:
            return
        time.sleep(2)
    raise TimeoutError(f"the dag-processor did not parse {sorted(set(dag_ids) - found)} within {timeout:.0f} s")


def _newest_run(dag_id: str, after_id: int, db_url: str | None) -> tuple[int, str, str] | None:
    import sqlalchemy as sa

    with _metadata_engine(db_url).connect() as conn:
        row = conn.execute(sa.text("SELECT id, run_id, state FROM dag_run WHERE dag_id = :d AND id > :a "
                                   "AND run_type = 'manual' ORDER BY id DESC LIMIT 1"), {"d": dag_id, "a": after_id}
                           ).first()
    return (row[0], row[1], row[2]) if row else None


def _max_run_id(db_url: str | None) -> int:
    import sqlalchemy as sa

    with _metadata_engine(db_url).connect() as conn:
        return int(conn.execute(sa.text("SELECT coalesce(max(id), 0) FROM dag_run")).scalar_one())


def run_through_scheduler(dag_id: str, log: Path, timeout: float = 900.0, *, env: dict[str, str] | None = None,
                          db_url: str | None = None) -> tuple[str, str, float]:
    """Trigger ``dag_id`` (the scheduler runs it) and wait for the run to end: ``(run_id, state, seconds)``."""
    started = time.monotonic()
    before = _max_run_id(db_url)
    if _airflow(["dags", "trigger", dag_id], log, env) != 0:
        raise RuntimeError(f"airflow dags trigger {dag_id} failed; see {log}")
    deadline = started + timeout
    run = None
    while time.monotonic() < deadline:
        run = _newest_run(dag_id, before, db_url)
        if run and run[2] in ("success", "failed"):
            return run[1], run[2], time.monotonic() - started
        time.sleep(3)
    raise TimeoutError(f"{dag_id} did not finish within {timeout:.0f} s (run {run[1] if run else '?'})")


def _sandbox(action: str, run_dir: Path, extra: list[str]) -> None:
    subprocess.run([sys.executable, "-m", "lago_netsuite_dev.sandbox", action, "--run-dir", str(run_dir), *extra],  # noqa: S603
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
    parser.add_argument("--port", type=int, default=8080, help="port of Airflow's UI/API (default 8080)")
    parser.add_argument("--keep-running", action="store_true", help="leave Airflow running after the demo")
    args, sandbox_args = parser.parse_known_args(argv)
    run_dir: Path = args.run_dir
    home = Path(os.environ["AIRFLOW_HOME"])
    if args.fresh:
        (home / "lago_netsuite_sync.db").unlink(missing_ok=True)
        sandbox_args.append("--fresh")
    print("==> Starting the Lago and NetSuite sandboxes", flush=True)
    _sandbox("start", run_dir, sandbox_args)
    state = json.loads((run_dir / "sandboxes.json").read_text())
    from lago_netsuite_dev.cli.airflow_services import HEALTH_URL, AirflowServices

    # Only the demo's own triggers run: no hourly or asset-triggered runs in between (the scheduler's
    # use_job_schedule); the DAGs are paused again at the end.
    env = {**os.environ, "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False", **payments_back_env()}
    if args.port != 8080:
        env["AIRFLOW__API__PORT"] = str(args.port)
        env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = f"http://localhost:{args.port}/execution/"
    services = AirflowServices(run_dir=run_dir, env=env, health_url=HEALTH_URL.replace(":8080/", f":{args.port}/"))
    failures = 0
    timings: dict[str, float] = {}
    runs: dict[str, tuple[str, str]] = {}
    log = run_dir / "demo-airflow-cli.log"
    try:
        before = _netsuite_records(state["netsuite_url"])
        print(f"==> Starting Airflow (api-server on port {args.port}, scheduler, dag-processor, triggerer)", flush=True)
        services.start()
        services.wait_healthy(timeout=300)
        wait_for_dags((*DAGS, PAYMENTS_BACK), timeout=300)
        for dag_id in (*DAGS, PAYMENTS_BACK):
            _airflow(["dags", "unpause", dag_id], log, env)
        for label, dag_id in (("catalog", DAGS[0]), ("sync", DAGS[1]), ("sync-again", DAGS[1])):
            print(f"==> {dag_id}: triggered, the scheduler runs it" + ("   (second run: nothing new expected)"
                                                                     if label == "sync-again" else ""), flush=True)
            run_id, run_state, seconds = run_through_scheduler(dag_id, log, env=env)
            timings[label] = seconds
            runs[label] = (dag_id, run_id)
            print(f"    {run_state} in {seconds:.1f} s (run {run_id})", flush=True)
            failures += run_state != "success"
        after = _netsuite_records(state["netsuite_url"])
        books = _books(after, state["lago_url"], args.project / "airflow_settings.yaml")
        failures += _payments_back(state["netsuite_url"], log, env, timings, runs)
    finally:
        for dag_id in (*DAGS, PAYMENTS_BACK):  # no scheduled runs behind the user's back after the demo
            _airflow(["dags", "pause", dag_id], log, env)
        if not args.keep_running:
            services.stop()
        _sandbox("stop", run_dir, [])
    _print_summary(home, before, after, timings)
    _print_books(books)
    _print_payments_back()
    _print_where(args.port, runs, kept=args.keep_running)
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


def payments_back_env() -> dict[str, str]:
    """The settings Variable with ``payments_back_enabled`` on, for the demo's Airflow only."""
    from airflow.models import Variable  # noqa: AIR311 - the metadata database, outside any task (as airflow_settings)

    settings = json.loads(Variable.get("lago_netsuite_settings", default_var="{}") or "{}")  # noqa: AIR311
    return {"AIRFLOW_VAR_LAGO_NETSUITE_SETTINGS": json.dumps({**settings, "payments_back_enabled": True})}


def _payments_back(netsuite_url: str, log: Path, env: dict[str, str], timings: dict[str, float],
                   runs: dict[str, tuple[str, str]]) -> int:
    """Record two payments in NetSuite and run the payments-back DAG once, through the scheduler."""
    payments = record_demo_payments(netsuite_url)
    print(f"==> An accountant records {len(payments)} payment(s) in the NetSuite sandbox: "
          + ", ".join(f"{p['tranid']} ({', '.join(str(a['amount']) for a in p['applications'])})" for p in payments),
          flush=True)
    print(f"==> {PAYMENTS_BACK}: triggered, the scheduler runs it", flush=True)
    run_id, run_state, seconds = run_through_scheduler(PAYMENTS_BACK, log, env=env)
    timings["payments-back"] = seconds
    runs["payments-back"] = (PAYMENTS_BACK, run_id)
    print(f"    {run_state} in {seconds:.1f} s (run {run_id})", flush=True)
    return int(run_state != "success")


def _books(netsuite_records: list[dict[str, Any]], lago_url: str, settings: Path) -> list[str]:
    """The books after the sync runs (before payments go back): each customer's A/R against Lago's.

    Lago's side is read through its API with the sandbox's key (the ``lago_default`` connection of
    ``airflow_settings.yaml``), NetSuite's from the sandbox's records (what its A/R aging would
    show: every invoice's and memo's amount remaining).
    """
    from lago_netsuite_dev.cli.airflow_settings import read_settings
    from lago_netsuite_dev.sandbox.books import ar_lines, customer_ar, netsuite_by_external_id

    def every(collection: str, key: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        page: int | None = 1
        while page:
            url = f"{lago_url.rstrip('/')}/{collection}?page={page}&per_page=100"
            request = urllib.request.Request(url, headers={"Authorization": f"Bearer {api_key}"})  # noqa: S310
            with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310 - the loopback sandbox
                body = json.loads(resp.read())
            out.extend(body[key])
            page = (body.get("meta") or {}).get("next_page")
        return out

    try:
        conns = {c["conn_id"]: c for c in read_settings(settings)["connections"]}
        api_key = conns["lago_default"]["conn_password"]
        invoices, notes = every("invoices", "invoices"), every("credit_notes", "credit_notes")
    except Exception as exc:  # noqa: BLE001 - the demo still prints the rest
        return [f"could not read Lago's balances: {type(exc).__name__}: {exc}"]
    return ar_lines(customer_ar(invoices, notes, netsuite_by_external_id(netsuite_records)))


def _print_books(books: list[str]) -> None:
    runs = _runs(DAGS[1], 1)
    ledger = (json.loads(runs[0]["summary"] or "{}") if runs else {}).get("ledger") or {}
    print("==> The books across documents")
    print(f"    credit memos applied to later invoices (credit Lago consumed): "
          f"{sum((ledger.get('creditapply') or {}).values())}; customer refunds: "
          f"{(ledger.get('refund') or {}).get('synced', 0)} synced, "
          f"{(ledger.get('refund') or {}).get('skipped', 0)} skipped (pending or failed in Lago)")
    for line in books:
        print(f"    {line}")
    print()


def _print_payments_back() -> None:
    from lago_netsuite.payments_back.flow import render_text

    runs = _runs(PAYMENTS_BACK, 1)
    summary = json.loads(runs[0]["summary"] or "{}") if runs else {}
    print()
    print("==> Payments that went back to Lago")
    print("    " + (render_text(summary).replace("\n", "\n    ") if summary.get("kind") == "payments_back"
                    else "no payments-back report (see demo-payments-back.log)"))


def _print_where(port: int, runs: dict[str, tuple[str, str]], *, kept: bool) -> None:
    from urllib.parse import quote

    base = f"http://localhost:{port}"
    print()
    start = "./dev ui" + ("" if port == 8080 else f" --port {port}")
    print("==> In the Airflow UI" + ("" if kept else f" (start it with {start})"))
    for label, (dag_id, run_id) in runs.items():
        run_url = f"{base}/dags/{dag_id}/runs/{quote(run_id, safe='')}"
        print(f"    {label:<11} {run_url}")
        if dag_id == DAGS[1]:
            print(f"    {'':<11} report task's log: {run_url}/tasks/report")


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
    print(f"    Task logs (also in the UI): {home / 'logs'}")


if __name__ == "__main__":
    raise SystemExit(main())

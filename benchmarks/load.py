"""Benchmark: loading through the RESTlet against NetSuite's ceiling, C × b / (O + b × R).

The NetSuite sandbox runs in its own process with a cost per call O (``latency_per_call_ms``), a
cost per record R (``latency_per_record_ms``) and an account concurrency limit C. For each batch
size b, N invoice records are prepared in a fresh sync store beforehand (their customers already
synced, so every invoice's ``{"$ref"}`` is filled from the ledger as in a real run); then W loader
processes (default W = C, as the ``netsuite_restlet`` pool would allow) each run the product's
``GroupLoader`` over their share — what the mapped load tasks do, minus Airflow. Only the loading
is timed: from the moment every worker is ready until the last one is done.

Printed per batch size: records/s as a ratio of the ceiling (target ≥ 0.9), the responses refused
with 429/``SSS_REQUEST_LIMIT_EXCEEDED`` (target 0 when W = C), the most calls NetSuite saw at
once, and the records created (every one once); then records/s at the largest b over the smallest
(the ceiling predicts 10× for b = 25 over b = 1 at the defaults).

    .venv/bin/python benchmarks/load.py [--batch-sizes 1,25] [--call-ms 300] [--record-ms 20]
        [--concurrency 5] [--workers C] [--documents N] [--postgres]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import (  # noqa: E402
    ACCOUNT_ID,
    child_env,
    figure,
    machine_note,
    netsuite_conn_json,
    netsuite_credentials,
    postgres_database,
    say,
    start_server,
    stop_group,
)

RUN_ID = "bench-load"


def default_documents(batch_size: int) -> int:
    """Enough records for a stable figure: ~300 calls' worth at b = 1, 2,000 records at b = 25."""
    return max(300, min(2000, 80 * batch_size))


def ceiling(concurrency: int, batch_size: int, call_ms: float, record_ms: float) -> float:
    """Records/s when C calls of b records run back to back: C × b / (O + b × R)."""
    seconds = (call_ms + batch_size * record_ms) / 1000
    return concurrency * batch_size / seconds if seconds > 0 else float("inf")


# -- the prepared ledger ---------------------------------------------------------------------------
def invoice_body(n: int, customer: int) -> dict[str, Any]:
    ext = f"lago-invoice-bench{n}"
    amount = 10 + n % 90
    return {
        "externalId": ext, "action": "create", "type": "invoice", "isDynamic": False,
        "columns": {"tranid": f"INV-{n:06d}", "entity": {"$ref": f"lago-customer-bench{customer}"},
                    "currency": "1", "custbody_lago_id": f"bench{n}", "trandate": "11/20/2026"},
        "lines": [{"sublistId": "item", "lineItems": [
            {"item": "201", "quantity": 1, "rate": amount, "amount": amount, "taxdetailsreference": f"f{n}"}]}],
    }


def prepare_ledger(store_url: str, documents: int, customers: int) -> list[str]:
    """Synced customers and ``documents`` pending invoices in a fresh store; returns the invoices' ids."""

    from lago_netsuite.ledger import migrations, records, schema, store
    from lago_netsuite.ledger.claims import PENDING
    from lago_netsuite.ledger.records import Outcome

    engine = store.get_engine(store_url)
    migrations.migrate(engine)
    custs = [Outcome(f"lago-customer-bench{c}", "customer", "customer", f"bc{c}", f"CUST-{c}", "h", PENDING,
                     body={"externalId": f"lago-customer-bench{c}", "type": "customer",
                           "columns": {"entityid": f"CUST-{c}", "companyname": f"Customer {c}", "subsidiary": "1"}})
             for c in range(customers)]
    invoices = [Outcome(f"lago-invoice-bench{n}", "invoice", "invoice", f"bench{n}", f"INV-{n:06d}", "h", PENDING,
                        body=invoice_body(n, n % customers), depends_on=[f"lago-customer-bench{n % customers}"],
                        currency="USD", total_minor=(10 + n % 90) * 100)
                for n in range(documents)]
    records.apply_outcomes(engine, [*custs, *invoices], mapping_hash="bench", run_id="bench-prepare")
    t = schema.ledger
    with engine.begin() as conn:  # the customers are in NetSuite already (seeded in the sandbox too)
        for c in range(customers):
            conn.execute(t.update().where(t.c.external_id == f"lago-customer-bench{c}")
                         .values(state="synced", netsuite_id=str(500 + c)))
    store.dispose_engines()
    return [o.external_id for o in invoices]


def ledger_states(store_url: str) -> Counter[str]:
    import sqlalchemy as sa

    from lago_netsuite.ledger import schema, store

    engine = store.get_engine(store_url)
    t = schema.ledger
    with engine.connect() as conn:
        query = sa.select(t.c.state, sa.func.count()).where(t.c.kind == "invoice").group_by(t.c.state)
        states = Counter({state: count for state, count in conn.execute(query)})
    store.dispose_engines()
    return states


# -- one loader process (a mapped load task without Airflow) ----------------------------------------
def worker(spec: dict[str, Any]) -> None:
    """Load ``spec["ids"]`` with a GroupLoader once the go file appears; write timings and stats."""
    from lago_netsuite.hooks.netsuite import NetSuiteRestletHook
    from lago_netsuite.ledger import store
    from lago_netsuite.load.loader import GroupLoader, LoaderOptions

    engine = store.get_engine(spec["store_url"])
    with engine.connect():
        pass
    hook = NetSuiteRestletHook("netsuite_default")
    hook.get_conn()
    in_calls = [0.0]
    post = hook.post_records

    def timed_post(records: list[dict[str, Any]]) -> Any:  # time spent waiting on NetSuite, for the report
        t0 = time.perf_counter()
        try:
            return post(records)
        finally:
            in_calls[0] += time.perf_counter() - t0

    hook.post_records = timed_post  # type: ignore[method-assign]
    loader = GroupLoader(engine, hook, run_id=RUN_ID, options=LoaderOptions(batch_size=spec["batch_size"]))
    Path(spec["ready"]).touch()
    go = Path(spec["go"])
    while not go.exists():
        time.sleep(0.002)
    started, cpu = time.time(), time.process_time()
    stats = loader.load(spec["ids"])
    ended, cpu = time.time(), time.process_time() - cpu
    Path(spec["result"]).write_text(json.dumps({"started": started, "ended": ended, "cpu": cpu, "in_calls": in_calls[0],
                                                "stats": stats.as_dict()}))


def run_batch_size(b: int, n: int, args: argparse.Namespace, sandbox: Any, conn_json: str, work: Path) -> dict:
    """Prepare the store, reset the sandbox, run the workers; return the figures of this batch size."""
    with ExitStack() as stack:
        if args.postgres:
            store_url = stack.enter_context(postgres_database("lns_bench_load"))
        else:
            store_url = f"sqlite:///{work / f'store-b{b}.db'}"
        ids = prepare_ledger(store_url, n, args.customers)
        sandbox.admin("POST", "reset")
        sandbox.admin("POST", "seed", {"records": [
            {"type": "customer", "id": str(500 + c), "externalId": f"netsuite-customer-{500 + c}"}
            for c in range(args.customers)]})
        shares = [ids[w::args.workers] for w in range(args.workers)]
        go = work / f"go-b{b}"
        procs, specs = [], []
        for w, share in enumerate(shares):
            spec = {"store_url": store_url, "batch_size": b, "ids": share, "go": str(go),
                    "ready": str(work / f"ready-b{b}-{w}"), "result": str(work / f"result-b{b}-{w}.json")}
            specs.append(spec)
            err = open(work / f"worker-b{b}-{w}.log", "wb")  # noqa: SIM115 - closed with the process
            stack.callback(err.close)
            proc = subprocess.Popen(  # noqa: S603 - this script
                [sys.executable, __file__, "_worker", json.dumps(spec)], stdout=err, stderr=err,
                env=child_env(AIRFLOW_CONN_NETSUITE_DEFAULT=conn_json), start_new_session=True)
            procs.append(proc)
            stack.callback(stop_group, proc)
        deadline = time.monotonic() + 120
        while not all(Path(s["ready"]).exists() for s in specs):
            if any(p.poll() is not None for p in procs) or time.monotonic() > deadline:
                raise RuntimeError(f"a loader worker did not get ready; see {work}/worker-b{b}-*.log")
            time.sleep(0.05)
        say(f"b={b}: {n} records, {args.workers} loader processes")
        sandbox_cpu = sandbox.cpu_seconds()
        go.touch()
        for proc in procs:
            proc.wait(timeout=3600)
        if any(p.returncode for p in procs):
            raise RuntimeError(f"a loader worker failed; see {work}/worker-b{b}-*.log")
        results = [json.loads(Path(s["result"]).read_text()) for s in specs]
        wall = max(r["ended"] for r in results) - min(r["started"] for r in results)
        sandbox_cpu = sandbox.cpu_seconds() - sandbox_cpu
        stats = sandbox.admin("GET", "stats")
        records = sandbox.admin("GET", "records?type=invoice")["records"]
        states = ledger_states(store_url)
    loader_totals: Counter[str] = Counter()
    for r in results:
        loader_totals.update({k: v for k, v in r["stats"].items() if isinstance(v, int)})
    per_id = Counter(r["externalId"] for r in records)
    calls = max(1, stats["calls"]["by_method"].get("POST", 0))
    say(f"b={b}: CPU per call: loaders {1000 * sum(r['cpu'] for r in results) / calls:.1f} ms, "
        f"sandbox {1000 * sandbox_cpu / calls:.1f} ms; wall per call: in the RESTlet call "
        f"{1000 * sum(r['in_calls'] for r in results) / calls:.1f} ms, outside "
        f"{1000 * sum(r['ended'] - r['started'] - r['in_calls'] for r in results) / calls:.1f} ms")
    return {"b": b, "n": n, "wall": wall, "rate": n / wall, "throttled": stats["throttled"],
            "max_concurrency": stats["max_concurrency_seen"], "created": len(per_id),
            "duplicates": sum(c - 1 for c in per_id.values()), "received": stats["records_received"],
            "synced": states.get("synced", 0), "calls": stats["calls"]["by_method"].get("POST", 0),
            "loader": dict(loader_totals)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-sizes", default="1,25", help="comma-separated batch sizes b (default 1,25)")
    parser.add_argument("--call-ms", type=float, default=300, help="cost per call O in ms (default 300)")
    parser.add_argument("--record-ms", type=float, default=20, help="cost per record R in ms (default 20)")
    parser.add_argument("--concurrency", type=int, default=5, help="account concurrency limit C (default 5)")
    parser.add_argument("--workers", type=int, help="loader processes running at once (default: C, the pool size)")
    parser.add_argument("--documents", type=int,
                        help="records N per batch size (default: 300 at b=1, 80×b up to 2,000 above)")
    parser.add_argument("--customers", type=int, default=50, help="customers the invoices belong to (default 50)")
    parser.add_argument("--postgres", action="store_true",
                        help="sync store on PostgreSQL (LAGO_NETSUITE_BENCH_PG_URL, default postgres@127.0.0.1:5432)")
    args = parser.parse_args(argv)
    args.workers = args.workers or args.concurrency
    sizes = [int(s) for s in args.batch_sizes.split(",") if s.strip()]
    say(f"before: {machine_note()}")
    credentials = netsuite_credentials()
    results: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="lns-bench-load-") as tmp:
        work = Path(tmp)
        sandbox = start_server("netsuite", {
            "account_id": ACCOUNT_ID, **credentials, "concurrency_limit": args.concurrency,
            "latency_per_call_ms": args.call_ms, "latency_per_record_ms": args.record_ms}, work)
        try:
            conn_json = netsuite_conn_json(sandbox.url, credentials)
            for b in sizes:
                results.append(run_batch_size(b, args.documents or default_documents(b), args, sandbox, conn_json,
                                              work))
        finally:
            sandbox.stop()
    store_name = "postgresql" if args.postgres else "sqlite"
    say(f"O={args.call_ms:g} ms, R={args.record_ms:g} ms, C={args.concurrency}, {args.workers} loader processes, "
        f"store {store_name}; after: {machine_note()}")
    ok = True
    for r in results:
        b, top = r["b"], ceiling(args.concurrency, r["b"], args.call_ms, args.record_ms)
        ratio = r["rate"] / top
        ok &= ratio >= 0.9 and r["created"] == r["n"] == r["synced"] and not r["duplicates"]
        figure(f"load.b{b}.records_per_s", r["rate"], "records/s", ratio=ratio,
               target=f">= 0.9 x ceiling {top:.1f} = C*b/(O+b*R)",
               note=f"{r['n']} records in {r['wall']:.1f} s, {r['calls']} calls")
        figure(f"load.b{b}.throttled", r["throttled"], "responses 429/SSS_REQUEST_LIMIT_EXCEEDED",
               target="0" if args.workers <= args.concurrency else "any (more workers than C)")
        figure(f"load.b{b}.max_concurrency", r["max_concurrency"], "calls at once", target=f"<= {args.concurrency}")
        figure(f"load.b{b}.created", r["created"], "records", target=f"{r['n']}, each once",
               note=f"duplicates {r['duplicates']}, ledger synced {r['synced']}, sent {r['received']}")
        if args.workers <= args.concurrency:
            ok &= r["throttled"] == 0
    if len(results) > 1:
        lo, hi = min(results, key=lambda r: r["b"]), max(results, key=lambda r: r["b"])
        predicted = (ceiling(args.concurrency, hi["b"], args.call_ms, args.record_ms)
                     / ceiling(args.concurrency, lo["b"], args.call_ms, args.record_ms))
        speedup = hi["rate"] / lo["rate"]
        figure(f"load.b{hi['b']}_over_b{lo['b']}", speedup, "x", target=f"~{predicted:.1f} (the ceiling's prediction)",
               ratio=speedup / predicted)
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "_worker":
        worker(json.loads(sys.argv[2]))
    else:
        raise SystemExit(main())

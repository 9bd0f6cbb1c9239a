"""Benchmark: the sync DAG on ~10,000 documents through a real Airflow (LocalExecutor, or Celery workers).

Everything runs as a deployment would, in a throwaway AIRFLOW_HOME: ``airflow db migrate``, the
project's ``airflow.cfg`` (``cli/airflow_home.py``: LocalExecutor, parallelism 6), the connections,
the ``netsuite_restlet`` pool and the settings Variable applied from an ``airflow_settings.yaml``
(``cli/airflow_settings.py``, as ``./dev setup`` does), both sandboxes in their own background
process (``python -m lago_netsuite_dev.sandbox``: Lago at 50 requests/s, NetSuite with cost per call O,
per record R and C concurrent calls), and Airflow's api-server, scheduler and dag-processor
(``cli/airflow_services.py``), each in its own process group. Once they are healthy, the
api-server's execution API is asked for its health once: its first answer builds the routes tasks
talk to, a few seconds once per api-server start that a long-running deployment paid long ago
(printed as ``execution_api_warmup_s``). The DAG is triggered through the REST API, unpaused, and
polled until done; then the hourly run with nothing new is timed the same way.
With ``--postgres`` both Airflow's metadata database and the sync store are fresh PostgreSQL
databases on 127.0.0.1:5432 (dropped afterwards). Everything is stopped, process group by process
group, even when something fails.

Printed: documents, wall time and documents/s of the sync (with the floor set by Lago's 50
requests/s and NetSuite's C × b / (O + b × R)), peak memory (RSS summed over Airflow's process
trees, tasks included), Airflow's own overhead (run time minus the time at least one task was
running, from task instance start/end), the hourly run with nothing new, the parse time of each DAG
file (a fresh interpreter with Airflow imported, as the dag-processor parses), how many load tasks
ran at once against the pool, and what landed in NetSuite (duplicates, 429s).

With ``--executor celery`` the same runs go through the ``./dev cluster`` layout
(``cli/cluster.py``: CeleryExecutor, ``--workers`` Celery workers, metadata and store on
PostgreSQL, Redis as the broker); ``--executor both`` runs LocalExecutor then Celery and prints
their figures one after the other (``e2e.*`` and ``e2e.celery.*``). ``e2e.sync.documents_per_s``
is set against both floors: Lago's and NetSuite's added up (extract, then load) and the larger of
the two alone (what overlapping extract and load could reach).

    .venv/bin/python benchmarks/end_to_end.py [--invoices 7500] [--postgres] [--call-ms 300]
        [--record-ms 20] [--concurrency 5] [--batch-size 25] [--keep]
        [--executor local|celery|both] [--workers 2] [--worker-concurrency 6]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _support  # noqa: E402
from _support import ROOT, TreeRssSampler, child_env, figure, free_port, machine_note, postgres_database, say  # noqa: E402

DAG_ID = "lago_netsuite_sync"
DAG_FILES = sorted((ROOT / "dags").glob("*.py"))
LAGO_LIMIT = 50


# -- setting up the deployment ---------------------------------------------------------------------
def write_settings(path: Path, *, lago_port: int, netsuite_port: int, store_url: str, pool: int,
                   variable: dict[str, Any]) -> None:
    """The project's airflow_settings.yaml with this run's ports, store, pool size and settings."""
    from lago_netsuite_dev.cli.cluster import write_settings as write

    write(ROOT / "airflow_settings.yaml", path, store_url=store_url or None, lago_url=f"http://127.0.0.1:{lago_port}",
          netsuite_url=f"http://127.0.0.1:{netsuite_port}", pool=pool, variable=variable)


def run_step(argv: list[str], env: dict[str, str], log: Path, timeout: float = 900) -> float:
    """Run a setup command to completion (output to ``log``); return its wall time."""
    started = time.monotonic()
    with open(log, "wb") as out:
        code = subprocess.call(argv, stdout=out, stderr=subprocess.STDOUT, env=env, timeout=timeout)  # noqa: S603
    if code:
        raise RuntimeError(f"{' '.join(argv[:4])} failed with {code}; see {log}")
    return time.monotonic() - started


class Api:
    """Airflow's REST API (the simple auth manager lets everybody in as admin in this deployment)."""

    def __init__(self, port: int) -> None:
        self.base = f"http://localhost:{port}/api/v2"
        self.session = requests.Session()

    def get(self, path: str, **params: Any) -> Any:
        response = self.session.get(f"{self.base}{path}", params=params, timeout=30)
        response.raise_for_status()
        return response.json()

    def send(self, method: str, path: str, body: Any) -> Any:
        response = self.session.request(method, f"{self.base}{path}", json=body, timeout=30)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: HTTP {response.status_code} {response.text[:500]}")
        return response.json()

    def runs(self) -> list[dict[str, Any]]:
        return self.get(f"/dags/{DAG_ID}/dagRuns", limit=100)["dag_runs"]

    def xcom(self, run_id: str, task_id: str) -> Any:
        entry = self.get(f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value")
        value = entry.get("value")
        return json.loads(value) if isinstance(value, str) else value

    def task_instances(self, run_id: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            page = self.get(f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances", limit=100, offset=len(out))
            out += page["task_instances"]
            if not page["task_instances"] or len(out) >= page["total_entries"]:
                return out

    def trigger(self) -> str:
        return self.send("POST", f"/dags/{DAG_ID}/dagRuns", {"logical_date": None, "conf": {}})["dag_run_id"]


def wait_for_dag(api: Api, services: Any, timeout: float = 300) -> None:
    """Until the dag-processor has parsed the sync DAG into the metadata database."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, proc in services.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"airflow {name} exited with {proc.returncode}")
        try:
            api.get(f"/dags/{DAG_ID}")
            return
        except requests.RequestException:
            time.sleep(1)
    raise TimeoutError(f"{DAG_ID} was not parsed within {timeout:.0f} s")


def warm_execution_api(port: int) -> float:
    """Ask the api-server's execution API for its health once; return how long the first answer took."""
    started = time.monotonic()
    requests.get(f"http://localhost:{port}/execution/health", timeout=120).raise_for_status()
    return time.monotonic() - started


FINISHED = ("success", "failed")


def wait_for_run(api: Api, run_id: str, timeout: float, services: Any) -> dict[str, Any]:
    """Poll until the run ends; fail early if an Airflow component died."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        for name, proc in services.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"airflow {name} exited with {proc.returncode} during the run")
        run = api.get(f"/dags/{DAG_ID}/dagRuns/{run_id}")
        if run["state"] != last:
            say(f"run {run_id}: {run['state']}")
            last = run["state"]
        if run["state"] in FINISHED:
            return run
        time.sleep(2)
    raise TimeoutError(f"run {run_id} did not finish within {timeout:.0f} s")


# -- what the task instances say -------------------------------------------------------------------
def _ts(value: str | None) -> float | None:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() if value else None


def busy_union(intervals: list[tuple[float, float]]) -> float:
    """Seconds during which at least one interval is open."""
    total, end = 0.0, -math.inf
    for start, stop in sorted(intervals):
        if stop <= end:
            continue
        total += stop - max(start, end)
        end = stop
    return total


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    """The most intervals open at one instant."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda x: (x[0], x[1]))
    best = now = 0
    for _, delta in events:
        now += delta
        best = max(best, now)
    return best


def analyse_run(api: Api, run: dict[str, Any]) -> dict[str, Any]:
    tis = api.task_instances(run["dag_run_id"])
    ran = [(ti, _ts(ti["start_date"]), _ts(ti["end_date"]))
           for ti in tis if ti.get("start_date") and ti.get("end_date")]
    intervals = [(s, e) for _, s, e in ran]
    loads = [(s, e) for ti, s, e in ran if ti["task_id"] == "load"]
    start, end = _ts(run["start_date"]), _ts(run["end_date"])
    per_task: Counter[str] = Counter()
    for ti, s, e in ran:
        per_task[ti["task_id"]] += e - s
    wall = end - start
    inside = busy_union(intervals)
    spans = {name: (min(s for ti, s, _ in ran if ti["task_id"] == name),
                    max(e for ti, _, e in ran if ti["task_id"] == name))
             for name in ("extract_transform", "load") if any(ti["task_id"] == name for ti, _, _ in ran)}
    return {"spans": {k: e - s for k, (s, e) in spans.items()},
            "run_id": run["dag_run_id"], "state": run["state"], "run_type": run.get("run_type"), "wall": wall,
            "inside": inside, "overhead": wall - inside, "task_seconds": sum(e - s for s, e in intervals),
            "tasks": len(tis), "loads": len(loads), "load_overlap": max_overlap(loads) if loads else 0,
            "per_task": dict(per_task), "states": Counter(ti["state"] for ti in tis)}


# -- parse time ------------------------------------------------------------------------------------
PARSE_SNIPPET = """
import json, sys, time
import airflow.sdk  # the dag-processor has Airflow loaded before it parses a file
from airflow.dag_processing.dagbag import DagBag
started = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1], load_op_links=False)
elapsed = time.perf_counter() - started
errors = {str(k): str(v) for k, v in bag.import_errors.items()}
print(json.dumps({"seconds": elapsed, "dags": len(bag.dags), "errors": errors}))
"""

def parse_times(env: dict[str, str], repeats: int = 3) -> dict[str, float]:
    """Best of ``repeats`` fresh-interpreter parses per DAG file."""
    out: dict[str, float] = {}
    for path in DAG_FILES:
        best = math.inf
        for _ in range(repeats):
            done = subprocess.run([sys.executable, "-c", PARSE_SNIPPET, str(path)], env=env, capture_output=True,  # noqa: S603
                                  text=True, timeout=300)
            if done.returncode:
                raise RuntimeError(f"parsing {path.name} failed: {done.stderr[-2000:]}")
            result = json.loads(done.stdout.strip().splitlines()[-1])
            if result["errors"] or not result["dags"]:
                raise RuntimeError(f"{path.name}: {result}")
            best = min(best, result["seconds"])
        out[path.name] = best
    return out


# -- what landed -----------------------------------------------------------------------------------
def store_counts(store_url: str) -> dict[str, Any]:
    import sqlalchemy as sa

    from lago_netsuite.ledger import schema

    engine = sa.create_engine(store_url)
    try:
        with engine.connect() as conn:
            documents = Counter(dict(conn.execute(
                sa.select(schema.document.c.kind, sa.func.count()).group_by(schema.document.c.kind)).tuples().all()))
            states = Counter(dict(conn.execute(
                sa.select(schema.ledger.c.state, sa.func.count()).group_by(schema.ledger.c.state)).tuples().all()))
    finally:
        engine.dispose()
    return {"documents": documents, "states": states}


def netsuite_summary(url: str) -> dict[str, Any]:
    stats = requests.get(f"{url}/_sandbox/stats", timeout=60).json()
    records = requests.get(f"{url}/_sandbox/records", timeout=300).json()["records"]
    created = [r for r in records if not r.get("seeded")]
    per_id = Counter((r["type"], r["externalId"]) for r in created)
    return {"stats": stats, "created": len(created), "duplicates": sum(c - 1 for c in per_id.values())}


# -- main ------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=7500,
                        help="invoices in the Lago dataset (default 7500: ~10,000 documents with their credit "
                             "notes and payments, drafts excluded)")
    parser.add_argument("--customers", type=int, help="customers (default: invoices / 10)")
    parser.add_argument("--days", type=int, default=3, help="issuing dates over the last N days (default 3)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--call-ms", type=float, default=300, help="NetSuite cost per call O (default 300 ms)")
    parser.add_argument("--record-ms", type=float, default=20, help="NetSuite cost per record R (default 20 ms)")
    parser.add_argument("--concurrency", type=int, default=5,
                        help="NetSuite concurrency limit C, and the netsuite_restlet pool's slots (default 5)")
    parser.add_argument("--batch-size", type=int, default=25, help="records per RESTlet call (default 25)")
    parser.add_argument("--lago-rate-limit", type=int, default=LAGO_LIMIT)
    parser.add_argument("--postgres", action="store_true",
                        help="Airflow metadata and sync store on PostgreSQL at 127.0.0.1:5432 "
                             "(LAGO_NETSUITE_BENCH_PG_URL)")
    parser.add_argument("--timeout", type=float, default=3600, help="give up on a run after this many seconds")
    parser.add_argument("--keep", action="store_true", help="keep the throwaway AIRFLOW_HOME (logs) afterwards")
    parser.add_argument("--executor", choices=["local", "celery", "both"], default="local",
                        help="local: scheduler + LocalExecutor (default); celery: the ./dev cluster layout "
                             "(CeleryExecutor, --workers Celery workers, PostgreSQL, Redis); both: one after the "
                             "other, figures side by side")
    parser.add_argument("--workers", type=int, default=2, help="Celery workers (default 2)")
    parser.add_argument("--worker-concurrency", type=int, default=6, help="task slots per Celery worker (default 6)")
    args = parser.parse_args(argv)
    if args.executor != "local":
        args.postgres = True  # the Celery layout is PostgreSQL only
    say(f"before: {machine_note()}")
    executors = ["local", "celery"] if args.executor == "both" else [args.executor]
    results = {executor: run_once(args, executor) for executor in executors}
    ok = True
    for executor in executors:
        ok = print_figures(args, results[executor], "e2e" if executor == "local" else "e2e.celery") and ok
    if len(executors) > 1:
        print_side_by_side(results)
    return 0 if ok else 1


SIDE_BY_SIDE = (("documents", "documents", "{:.0f}"), ("wall_s", "sync wall time, s", "{:.1f}"),
                ("documents_per_s", "documents/s", "{:.1f}"),
                ("ratio_larger", "ratio to the larger floor (target >= 0.8)", "{:.2f}"),
                ("ratio_sum", "ratio to the floors added up", "{:.2f}"),
                ("lanes_at_once", "load lanes at once", "{:.0f}"), ("max_calls", "RESTlet calls at once", "{:.0f}"),
                ("duplicates", "duplicates", "{:.0f}"), ("quiet_wall_s", "hourly run, nothing new, s", "{:.1f}"))


def print_side_by_side(results: dict[str, dict[str, Any]]) -> None:
    """The two executors' main figures in one table (stdout, after the figure lines)."""
    names = list(results)
    print(f"\n{'':44}" + "".join(f"{n:>14}" for n in names))
    for key, label, fmt in SIDE_BY_SIDE:
        cells = [fmt.format(results[n]["summary"][key]) for n in names]
        print(f"{label:44}" + "".join(f"{c:>14}" for c in cells))


def run_once(args: argparse.Namespace, executor: str) -> dict[str, Any]:
    """Set up a deployment with ``executor``, run the full sync and the hourly run; return what was seen."""
    from lago_netsuite_dev.cli.airflow_home import render
    from lago_netsuite_dev.cli.airflow_services import AirflowServices
    from lago_netsuite_dev.cli.cluster import Cluster, ClusterConfig

    customers = args.customers or max(10, args.invoices // 10)
    home = Path(tempfile.mkdtemp(prefix="lns-bench-e2e-"))
    run_dir = home / "run"
    run_dir.mkdir()
    figures: dict[str, Any] = {}
    with ExitStack() as stack:
        if not args.keep:
            stack.callback(shutil.rmtree, home, ignore_errors=True)
        else:
            stack.callback(say, f"kept {home} (logs in {run_dir} and {home / 'logs'})")
        api_port, lago_port, ns_port = free_port(), free_port(), free_port()
        settings_file = home / "airflow_settings.yaml"
        variable = {"batch_size": args.batch_size,
                    "load_parallelism": args.concurrency, "data_docs_dir": str(home / "data_docs")}
        cluster = None
        if executor == "celery":
            write_settings(settings_file, lago_port=lago_port, netsuite_port=ns_port, store_url="",
                           pool=args.concurrency, variable=variable)
            cluster = Cluster(ClusterConfig(
                project=ROOT, home=home / "cluster", postgres_url=_support.PG_ADMIN_URL, name=f"bench{os.getpid()}",
                workers=args.workers, worker_concurrency=args.worker_concurrency, settings_file=settings_file))
            stack.callback(drop_cluster_databases, cluster)
            store_url = cluster.config.store_url
            env = cluster.environment(dev_tools=True)
        else:
            if args.postgres:
                meta_url = stack.enter_context(postgres_database("lns_bench_airflow")).replace(
                    "postgresql+psycopg://", "postgresql+psycopg2://")
                store_url = stack.enter_context(postgres_database("lns_bench_store"))
            else:
                meta_url = f"sqlite:///{home / 'airflow.db'}"
                store_url = f"sqlite:///{home / 'lago_netsuite_sync.db'}"
            (home / "airflow.cfg").write_text(render(ROOT, home))
            env = child_env(
                AIRFLOW_HOME=str(home), AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=meta_url,
                AIRFLOW__API__PORT=str(api_port),
                AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://localhost:{api_port}/execution/",
                AIRFLOW__CORE__LOAD_EXAMPLES="False", NO_COLOR="1",
                # Room for every load lane plus the producer and one more task.
                AIRFLOW__CORE__PARALLELISM=str(max(6, args.concurrency + 2)),
                AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG=str(max(6, args.concurrency + 2)),
            )
            for key in [k for k in env if k.startswith(("AIRFLOW_CONN_", "AIRFLOW_VAR_"))]:
                del env[key]  # this deployment's own connections and Variable only
            write_settings(settings_file, lago_port=lago_port, netsuite_port=ns_port, store_url=store_url,
                           pool=args.concurrency, variable=variable)
            backend = "PostgreSQL" if args.postgres else "SQLite"
            say(f"airflow db migrate ({backend}) in {home}")
            run_step([str(Path(sys.executable).with_name("airflow")), "db", "migrate"], env,
                     run_dir / "db-migrate.log")
            say("applying airflow_settings.yaml: connections, pool, Variable; migrating the sync store")
            run_step([sys.executable, "-m", "lago_netsuite_dev.cli.airflow_settings", "apply", str(settings_file)], env,
                     run_dir / "settings-apply.log")

        say(f"starting the sandboxes: {args.invoices} invoices, {customers} customers over {args.days} days; "
            f"NetSuite O={args.call_ms:g} ms R={args.record_ms:g} ms C={args.concurrency}")
        sandbox_cmd = [sys.executable, "-m", "lago_netsuite_dev.sandbox"]
        sandbox_opts = ["--run-dir", str(run_dir), "--settings", str(settings_file)]
        stack.callback(subprocess.call, [*sandbox_cmd, "stop", *sandbox_opts], env=env)
        run_step([*sandbox_cmd, "start", *sandbox_opts, "--fresh", "--seed", str(args.seed),
                  "--invoices", str(args.invoices), "--customers", str(customers), "--days", str(args.days),
                  "--concurrency", str(args.concurrency), "--latency-call-ms", str(args.call_ms),
                  "--latency-record-ms", str(args.record_ms), "--lago-rate-limit", str(args.lago_rate_limit)],
                 env, run_dir / "sandboxes-start.log", timeout=300)
        netsuite_url = f"http://127.0.0.1:{ns_port}"

        if cluster is not None:
            say(f"starting the Celery cluster: api-server, scheduler (CeleryExecutor), dag-processor, "
                f"{args.workers} workers x {args.worker_concurrency} slots; PostgreSQL, Redis")
            stack.callback(cluster.stop)
            cluster.start(timeout=300)
            services = cluster.services
            assert services is not None
            api_port = cluster.api_port
        else:
            say("starting Airflow: api-server, scheduler (LocalExecutor), dag-processor")
            services = AirflowServices(run_dir=run_dir, env=env,
                                       health_url=f"http://localhost:{api_port}/api/v2/monitor/health")
            stack.callback(services.stop)
            services.start()
        sampler = TreeRssSampler([p.pid for p in services.procs.values()]).start()
        stack.callback(sampler.stop)
        if cluster is None:
            services.wait_healthy(timeout=300)
        api = Api(api_port)
        wait_for_dag(api, services)

        # The api-server builds its execution API (the versioned routes tasks talk to) on its first
        # request there: a few seconds once per api-server start, which the first task of the first
        # run would otherwise wait for. A deployment pays it once, not per sync: paid here, printed.
        warmup = warm_execution_api(api_port)
        idle_bytes = sampler.sample()  # Airflow itself, idle, before any task runs
        say(f"triggering {DAG_ID} through the REST API and unpausing it")
        triggered_at = time.time()
        first_id = api.trigger()
        api.send("PATCH", f"/dags/{DAG_ID}", {"is_paused": False})
        # Unpausing also lets the scheduler create the latest hourly run (catchup=False); with
        # max_active_runs=1 the two run one after the other: the first is the full sync, the second
        # an hourly run with nothing new.
        time.sleep(5)
        first = None
        while first is None:
            runs = api.runs()
            started = [r for r in runs if r.get("start_date")]
            if started:
                first = min(started, key=lambda r: r["start_date"])
            else:
                time.sleep(2)
        say(f"full sync is run {first['dag_run_id']} ({first.get('run_type')})")
        first = wait_for_run(api, first["dag_run_id"], args.timeout, services)
        full = analyse_run(api, first)
        counts = store_counts(store_url)
        landed = netsuite_summary(netsuite_url)
        extracted = (api.xcom(first["dag_run_id"], "extract_transform") or {}).get("extract") or {}

        others = [r for r in api.runs() if r["dag_run_id"] != first["dag_run_id"]]
        second_id = others[0]["dag_run_id"] if others else api.trigger()
        say(f"hourly run with nothing new: {second_id}")
        second = wait_for_run(api, second_id, args.timeout, services)
        quiet = analyse_run(api, second)
        landed_after = netsuite_summary(netsuite_url)
        sampler.stop()
        services.stop()
        say("timing the parse of each DAG file")
        parsed = parse_times(env)
        figures.update(warmup=warmup, extracted=extracted, full=full, quiet=quiet, counts=counts, landed=landed,
                       landed_after=landed_after, parsed=parsed, peak=sampler.peak_bytes, idle=idle_bytes,
                       peak_processes=sampler.peak_processes, trigger_to_done=_ts(first["end_date"]) - triggered_at)
        if first_id != full["run_id"]:
            say(f"(the triggered run {first_id} ran second; the scheduler's own hourly run ran first)")

    figures["executor"] = executor
    return figures


def drop_cluster_databases(cluster: Any) -> None:
    """The Celery run's two databases go when the benchmark ends."""
    import sqlalchemy as sa

    cfg = cluster.config
    admin = sa.create_engine(cfg.postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in (cfg.metadata_database, cfg.store_database):
            conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                         {"n": name})
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def print_figures(args: argparse.Namespace, figures: dict[str, Any], prefix: str) -> bool:
    """Print one executor's figures (names under ``prefix``); return whether the run was clean."""
    failures: list[str] = []
    full, quiet, counts, landed = figures["full"], figures["quiet"], figures["counts"], figures["landed"]
    landed_after = figures["landed_after"]
    documents = sum(counts["documents"].values())
    records = landed["created"]
    stats = landed["stats"]
    extracted = figures["extracted"]
    listed = extracted.get("listed", {})
    lago_calls = (sum(max(1, math.ceil(listed.get(k, 0) / 100)) for k in ("invoice", "creditnote", "payment"))
                  + extracted.get("detail_fetches", 0) + extracted.get("customer_calls", 0))
    load_rate = args.concurrency * args.batch_size / ((args.call_ms + args.batch_size * args.record_ms) / 1000)
    lago_floor, netsuite_floor = lago_calls / args.lago_rate_limit, records / load_rate
    floor = lago_floor + netsuite_floor
    say(f"store: documents {dict(counts['documents'])}; ledger {dict(counts['states'])}; after: {machine_note()}")
    say(f"full run {full['run_id']}: {full['state']}, {full['tasks']} task instances {dict(full['states'])}; "
        f"time per task: { {k: round(v, 1) for k, v in full['per_task'].items()} }")
    say(f"hourly run {quiet['run_id']}: {quiet['state']}, {quiet['tasks']} task instances; "
        f"time per task: { {k: round(v, 1) for k, v in quiet['per_task'].items()} }")
    if full["state"] != "success":
        failures.append(f"the full sync run ended {full['state']}")
    if quiet["state"] != "success":
        failures.append(f"the hourly run ended {quiet['state']}")
    store_name = "postgresql" if args.postgres else "sqlite"
    figure(f"{prefix}.documents", documents, "documents",
           note=f"{records} NetSuite records created; store {store_name}")
    figure(f"{prefix}.sync.wall_s", full["wall"], "s", ratio=floor / full["wall"],
           target=f"floor {floor:.0f} s = Lago calls at {args.lago_rate_limit}/s + records at the load ceiling "
                  f"{load_rate:.0f}/s",
           note=f"{figures['trigger_to_done']:.0f} s from the trigger")
    larger = max(lago_floor, netsuite_floor)
    figure(f"{prefix}.sync.documents_per_s", documents / full["wall"], "documents/s", ratio=larger / full["wall"],
           target=f"floors: {documents / floor:.1f}/s when Lago ({lago_floor:.0f} s) and NetSuite "
                  f"({netsuite_floor:.0f} s) add up, {documents / larger:.1f}/s at the larger alone "
                  f"(ratio to it; target >= 0.8: extract and load overlap)",
           note=f"{figures['executor']} executor, NetSuite C={args.concurrency}, pool {args.concurrency}")
    spans = full["spans"]
    if "extract_transform" in spans:
        figure(f"{prefix}.extract.documents_per_s", documents / spans["extract_transform"], "documents/s",
               ratio=(lago_calls / args.lago_rate_limit) / spans["extract_transform"],
               target=f"ceiling {documents / (lago_calls / args.lago_rate_limit):.0f} = {lago_calls} Lago calls at "
                      f"{args.lago_rate_limit}/s (the connection paces at 45/s: 0.90)",
               note=f"extract_transform task {spans['extract_transform']:.0f} s (slices transformed as they land)")
    if "load" in spans:
        figure(f"{prefix}.load.records_per_s", records / spans["load"], "records/s",
               ratio=records / spans["load"] / load_rate,
               target=f"ceiling {load_rate:.0f} = C*b/(O+b*R)",
               note=f"first load lane start to last lane end {spans['load']:.0f} s, {full['loads']} lanes")
    figure(f"{prefix}.peak_rss_mb", figures["peak"] / 2**20, "MB",
           note=f"Airflow's process trees incl. tasks, {figures['peak_processes']} processes at the peak; "
                f"{figures['idle'] / 2**20:.0f} MB idle before the run")
    figure(f"{prefix}.execution_api_warmup_s", figures["warmup"], "s",
           note="the api-server's first answer on its execution API, once per api-server start, before the trigger")
    figure(f"{prefix}.airflow_overhead_s", full["overhead"], "s", ratio=full["overhead"] / full["wall"],
           target="<= 10% of the run",
           note=f"run {full['wall']:.0f} s, some task running {full['inside']:.0f} s, {full['tasks']} task instances")
    figure(f"{prefix}.hourly_nothing_new.wall_s", quiet["wall"], "s", target="<= 60 s",
           note=f"overhead {quiet['overhead']:.0f} s of it, {quiet['tasks']} task instances")
    figure(f"{prefix}.hourly_nothing_new.records_sent",
           landed_after["stats"]["records_received"] - stats["records_received"], "records", target="0")
    for name, seconds in figures["parsed"].items():
        figure(f"{prefix}.parse.{name}", seconds, "s", target="<= 1 s (dagbag_import_timeout is 30 s)")
    figure(f"{prefix}.load.max_parallel", full["load_overlap"], "load tasks at once",
           target=f"{args.concurrency} = the netsuite_restlet pool, never more", note=f"{full['loads']} load tasks")
    figure(f"{prefix}.netsuite.max_concurrency", stats["max_concurrency_seen"], "calls at once",
           target=f"<= {args.concurrency}")
    figure(f"{prefix}.netsuite.throttled", stats["throttled"], "responses 429/SSS_REQUEST_LIMIT_EXCEEDED", target="0")
    figure(f"{prefix}.netsuite.duplicates", landed_after["duplicates"], "records", target="0")
    figures["summary"] = {
        "documents": documents, "wall_s": full["wall"], "documents_per_s": documents / full["wall"],
        "ratio_larger": larger / full["wall"], "ratio_sum": floor / full["wall"], "lanes_at_once": full["load_overlap"],
        "max_calls": stats["max_concurrency_seen"], "duplicates": landed_after["duplicates"],
        "quiet_wall_s": quiet["wall"]}
    ok = (not failures and landed_after["duplicates"] == 0 and stats["throttled"] == 0
          and full["load_overlap"] <= args.concurrency)
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return ok


if __name__ == "__main__":
    os.environ.setdefault("NO_COLOR", "1")
    raise SystemExit(main())

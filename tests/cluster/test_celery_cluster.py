"""The sync on Airflow's CeleryExecutor: real scheduler, two Celery workers, one of them SIGKILLed mid-load.

The cluster is the one ``./dev cluster start`` runs (``lago_netsuite_dev.cli.cluster``): api-server,
scheduler, dag-processor and two Celery workers, each its own process group and Celery hostname,
on PostgreSQL (a fresh metadata database and sync store, dropped afterwards) with Redis as the
broker. Both sandboxes run in their own process (``python -m lago_netsuite_dev.sandbox``), NetSuite
with slow calls so load tasks are in flight when the worker dies. Skipped, with the reason, where
PostgreSQL or Redis is missing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from lago_netsuite.ledger import schema
from lago_netsuite_dev.cli.cluster import Cluster, ClusterConfig, free_port, redis_problem, write_settings

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("LAGO_NETSUITE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
DAG_ID = "lago_netsuite_sync"
POOL = 3  # netsuite_restlet slots, and the NetSuite sandbox's concurrency limit
WORKER_SLOTS = 3  # per worker: 6 task slots in all, twice the pool

pytestmark = [pytest.mark.postgres, pytest.mark.airflow, pytest.mark.slow]


@pytest.fixture(scope="module")
def redis_url() -> str:
    problem = redis_problem(REDIS_URL)
    if problem:
        pytest.skip(problem)
    return REDIS_URL


def _ts(value: str | None) -> float:
    assert value, "a finished task instance has start and end dates"
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _kill_tree(pid: int) -> list[int]:
    """SIGKILL a worker as a dying machine would: its process group and every descendant."""
    import psutil

    try:
        victims = [pid, *(p.pid for p in psutil.Process(pid).children(recursive=True))]
    except psutil.NoSuchProcess:
        return []
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    for victim in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)
    return victims


class World:
    """The cluster, the sandboxes and the REST API of one test."""

    def __init__(self, tmp: Path, pg_admin_url: str, redis_url: str) -> None:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from end_to_end import Api  # the benchmark's REST client, reused

        self.tmp = tmp
        self.sandbox_dir = tmp / "sandboxes"
        self.sandbox_dir.mkdir()
        self.netsuite_url = f"http://127.0.0.1:{free_port()}"
        self.lago_url = f"http://127.0.0.1:{free_port()}"
        self.settings = write_settings(
            ROOT / "airflow_settings.yaml", tmp / "airflow_settings.yaml", lago_url=self.lago_url,
            netsuite_url=self.netsuite_url, pool=POOL,
            # More load lanes than pool slots: the pool, not the lane count, must cap the calls.
            variable={"batch_size": 5, "load_parallelism": POOL + 2,
                      "data_docs_dir": str(tmp / "data_docs"), "retry_backoff_minutes": 1})
        self.cluster = Cluster(ClusterConfig(
            project=ROOT, home=tmp / "cluster", postgres_url=pg_admin_url, redis_url=redis_url,
            name=f"lnstest{uuid.uuid4().hex[:8]}", workers=2, worker_concurrency=WORKER_SLOTS,
            heartbeat_timeout_s=20, settings_file=self.settings))
        self.api_cls = Api

    # sandboxes ------------------------------------------------------------------------------------
    def _sandbox(self, *args: str) -> None:
        subprocess.run([sys.executable, "-m", "lago_netsuite_dev.sandbox", *args, "--run-dir", str(self.sandbox_dir),
                        "--settings", str(self.settings)], check=True, env=self.cluster.environment(dev_tools=True),
                       timeout=180, capture_output=True)

    def start_sandboxes(self) -> None:
        self._sandbox("start", "--fresh", "--seed", "13", "--invoices", "24", "--customers", "8", "--days", "3",
                      "--concurrency", str(POOL), "--latency-call-ms", "1200", "--latency-record-ms", "20")

    def dataset(self) -> Any:
        from lago_netsuite_dev.sandbox.lago.generator import DatasetSpec, generate

        return generate(DatasetSpec(**json.loads((self.sandbox_dir / "sandbox-dataset.json").read_text())))

    def netsuite(self, what: str) -> Any:
        response = requests.get(f"{self.netsuite_url}/_sandbox/{what}", timeout=30)
        response.raise_for_status()
        return response.json()

    # cleanup ------------------------------------------------------------------------------------
    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.cluster.stop()
        with contextlib.suppress(Exception):
            self._sandbox("stop")
        cfg = self.cluster.config
        admin = sa.create_engine(cfg.postgres_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name in (cfg.metadata_database, cfg.store_database):
                conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                             {"n": name})
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()
        import redis

        client = redis.Redis.from_url(cfg.redis_url)
        client.delete(cfg.queue)
        client.close()


@pytest.fixture
def world(tmp_path: Path, postgres_admin_url: str, redis_url: str) -> Any:
    w = World(tmp_path, postgres_admin_url, redis_url)
    try:
        yield w
    finally:
        w.close()


def _wait_run(api: Any, services: Any, run_id: str, timeout: float, on_poll: Any = None) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, proc in services.procs.items():
            assert proc.poll() is None, f"airflow {name} exited with {proc.returncode} during the run"
        run = api.get(f"/dags/{DAG_ID}/dagRuns/{run_id}")
        if run["state"] in ("success", "failed"):
            return run
        if on_poll is not None:
            on_poll(run_id)
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} did not finish within {timeout:.0f} s")


def test_a_worker_killed_mid_load_loses_and_duplicates_nothing_and_the_pool_holds_across_workers(world) -> None:
    from tests.reliability.harness import FINAL_STATES, expected_documents

    world.start_sandboxes()
    cluster = world.cluster
    cluster.start(timeout=300)
    services = cluster.services
    api = world.api_cls(cluster.api_port)
    deadline = time.monotonic() + 180
    while True:  # until the dag-processor has parsed the sync DAG
        with contextlib.suppress(requests.RequestException):
            api.get(f"/dags/{DAG_ID}")
            break
        assert time.monotonic() < deadline, "the sync DAG was not parsed within 180 s"
        time.sleep(1)

    # Unpausing makes the scheduler create the latest hourly run; its look-back covers the dataset.
    api.send("PATCH", f"/dags/{DAG_ID}", {"is_paused": False})
    deadline = time.monotonic() + 120
    while not api.runs():
        assert time.monotonic() < deadline, "the scheduler created no run within 120 s"
        time.sleep(1)
    run_id = api.runs()[0]["dag_run_id"]

    # Both workers run on this machine, so a task instance's hostname is the same on either: its
    # process id, among the descendants of one worker process, tells which worker runs it.
    worker_pids = {services.procs[f"worker{i}"].pid: f"worker{i}" for i in (1, 2)}
    ran_on: set[str] = set()
    killed: dict[str, Any] = {}
    first_seen: dict[str, float] = {}

    def owner(ti: dict[str, Any]) -> str | None:
        import psutil

        with contextlib.suppress(psutil.Error, TypeError, ValueError):
            for parent in psutil.Process(int(ti["pid"])).parents():
                if parent.pid in worker_pids:
                    return worker_pids[parent.pid]
        return None

    def watch(rid: str) -> None:
        running = [(ti, owner(ti)) for ti in api.task_instances(rid) if ti["state"] == "running" and ti.get("pid")]
        ran_on.update(worker for _, worker in running if worker)
        if killed:
            return
        loads = Counter(worker for ti, worker in running if ti["task_id"] == "load" and worker)
        in_flight = world.netsuite("stats")["in_flight"]
        if not loads or not in_flight:
            return
        first_seen.setdefault("at", time.monotonic())
        # Each load task makes one RESTlet call at a time, and the sandbox holds each call 1.2 s
        # before it writes. When as many calls are in flight as load tasks run, every running load
        # task, those of the victim included, has a call out: its writes land after it is gone.
        # Failing that moment within 20 s, the kill happens anyway (some call is in flight).
        every_task_calling = in_flight >= sum(loads.values())
        if not every_task_calling and time.monotonic() - first_seen["at"] < 20:
            return
        component = loads.most_common(1)[0][0]
        proc = services.procs.pop(component)
        killed.update(worker=component, pids=_kill_tree(proc.pid), in_flight=in_flight,
                      every_task_calling=every_task_calling,
                      tasks=[(ti["task_id"], ti["map_index"]) for ti, w in running if w == component])
        proc.wait(timeout=10)
        print(f"killed {component} (pids {killed['pids']}) running {killed['tasks']}; {in_flight} RESTlet calls "
              f"in flight, every running load task calling: {every_task_calling}")

    run = _wait_run(api, services, run_id, timeout=600, on_poll=watch)
    assert killed, "no load task was seen running, so no worker was killed"
    runs = [run]
    if run["state"] != "success":  # Airflow's retries did not finish it: a second run does
        second = api.trigger()
        runs.append(_wait_run(api, services, second, timeout=600))
    assert runs[-1]["state"] == "success", [r["state"] for r in runs]

    # The killed worker's tasks were failed by their missing heartbeats and run again on the other worker.
    tis = {(ti["task_id"], ti["map_index"]): ti for ti in api.task_instances(run_id)}
    assert all(tis[key]["try_number"] >= 2 for key in killed["tasks"]) or len(runs) == 2, (killed, runs)
    assert ran_on == {"worker1", "worker2"}, f"tasks were seen running on {sorted(ran_on)} only"

    # Every eligible document in NetSuite exactly once, with Lago's total; ledger = NetSuite; nothing 'sent'.
    expected = expected_documents(world.dataset())
    records = [r for r in world.netsuite("records")["records"] if not r.get("seeded")]
    counts = Counter(r["externalId"] for r in records)
    assert [e for e, n in counts.items() if n > 1] == [], "duplicates in NetSuite"
    by_ext = {r["externalId"]: r for r in records}
    assert set(by_ext) == set(expected)
    assert {e: by_ext[e]["type"] for e in expected} == {e: t for e, (t, _) in expected.items()}
    assert {e: Decimal(str(by_ext[e]["total"])) for e, (_, total) in expected.items() if total is not None} == {
        e: total for e, (_, total) in expected.items() if total is not None}
    engine = sa.create_engine(cluster.config.store_url)
    with engine.connect() as conn:
        ledger = {r.external_id: r for r in conn.execute(sa.select(schema.ledger))}
    engine.dispose()
    states = Counter(r.state for r in ledger.values())
    assert set(states) <= set(FINAL_STATES), dict(states)
    assert {e: r.netsuite_id for e, r in ledger.items() if r.state == "synced"} == {
        e: r["id"] for e, r in by_ext.items()}

    # The pool held across both workers: never more RESTlet calls in flight, nor load tasks running, than POOL.
    stats = world.netsuite("stats")
    assert 1 <= stats["max_concurrency_seen"] <= POOL, stats
    assert stats["throttled"] == 0, stats
    loads = [(_ts(ti["start_date"]), _ts(ti["end_date"])) for r in runs for ti in api.task_instances(r["dag_run_id"])
             if ti["task_id"] == "load" and ti.get("start_date") and ti.get("end_date")]
    events = sorted([(s, 1) for s, _ in loads] + [(e, -1) for _, e in loads])
    peak = now = 0
    for _, delta in events:
        now += delta
        peak = max(peak, now)
    assert peak <= POOL, f"{peak} load tasks at once with a pool of {POOL}"
    assert len(loads) > POOL, f"only {len(loads)} load tasks: the pool was never put to the test"

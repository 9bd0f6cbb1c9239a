"""The exactly-once harness: both sandboxes, a sync store, a loading worker, and the invariants.

A :class:`SyncBench` runs the sync the way the DAG does — extract, transforming (+ validating) each
slice → load lanes → report — with the pipeline functions themselves: the producer and the report
in this process (where the sandboxes run, on loopback threads), every load lane in a child process
forked by :mod:`tests.reliability.load_worker`, which the crash tests SIGKILL. What must hold after
any mix of faults and crashes is checked by :meth:`SyncBench.assert_exactly_once`, against what
the Lago dataset says should be in NetSuite (never against the ledger's own idea of it).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa

from lago_netsuite import money
from lago_netsuite.ledger import schema, store
from lago_netsuite_dev.sandbox.server import RunningServer, serve_in_thread
from tests.plugins.netsuite_sandbox import ACCOUNT_ID, CREDENTIALS

ROOT = Path(__file__).resolve().parents[2]
MAPPING = ROOT / "include" / "mappings" / "netsuite_mapping.yaml"
LAGO_KEY = "lago-reliability-api-key-7d21"
SCRIPT, DEPLOY = "customscript_lago_netsuite_sync", "customdeploy_lago_netsuite_sync"
FINAL_STATES = ("synced", "skipped")


# -- the dataset and what must reach NetSuite ---------------------------------------------------
def make_dataset(*, invoices: int, customers: int, days: int, seed: int) -> Any:
    """A seeded Lago dataset issued over the last ``days`` days (as of today)."""
    from lago_netsuite_dev.sandbox.lago.generator import DatasetSpec, generate

    today = dt.date.today()
    return generate(DatasetSpec(seed=seed, customers=customers, invoices=invoices,
                                start_date=today - dt.timedelta(days=days - 1), end_date=today, as_of_end=True))


def expected_documents(dataset: Any) -> dict[str, tuple[str, Decimal | None]]:
    """``{externalId: (NetSuite type, Lago total in major units)}`` of everything that must be synced.

    Derived from the dataset alone: finalized invoices, succeeded payments, credit notes, and the
    customers without a NetSuite link that own one of those documents (linked customers already
    exist in NetSuite and are used as they are).
    """
    wanted: dict[str, tuple[str, Decimal | None]] = {}
    owners: set[str] = set()
    for inv in dataset.invoices:
        if inv["status"] == "finalized":
            # credit_notes: apply (the default): credit-note credits are memo applications, not lines
            total = int(inv["total_amount_cents"]) + int(inv["credit_notes_amount_cents"])
            wanted[f"lago-invoice-{inv['lago_id']}"] = ("invoice", money.to_major(total, inv["currency"]))
            owners.add(inv["customer"]["external_id"])
    for note in dataset.credit_notes:
        used = int(note["offset_amount_cents"] or 0) + int(note["refund_amount_cents"] or 0)
        if note.get("credit_status") == "voided" and not used:
            continue  # voided before anything of it was used: never booked
        wanted[f"lago-creditnote-{note['lago_id']}"] = (
            "creditmemo", money.to_major(int(note["total_amount_cents"]), note["currency"]))
        owners.add(note["customer"]["external_id"])
        if note["refund_amount_cents"] and note["refund_status"] == "succeeded":
            wanted[f"lago-refund-{note['lago_id']}"] = (
                "customerrefund", money.to_major(int(note["refund_amount_cents"]), note["currency"]))
    for pay in dataset.payments:
        if pay["payment_status"] == "succeeded":
            wanted[f"lago-payment-{pay['lago_id']}"] = (
                "customerpayment", money.to_major(int(pay["amount_cents"]), pay["amount_currency"]))
            owners.add(pay["external_customer_id"])
    for cust in dataset.customers:
        linked = any(link.get("type") == "netsuite" and link.get("external_customer_id")
                     for link in cust.get("integration_customers") or [])
        if cust["external_id"] in owners and not linked:
            wanted[f"lago-customer-{cust['lago_id']}"] = ("customer", None)
    return wanted


# -- the loading worker ---------------------------------------------------------------------------
class LoadWorker:
    """The ``load_worker`` process: forks a child per load lane; tracks which children are alive."""

    def __init__(self, log_dir: Path) -> None:
        from tests.reliability.load_worker import PREFIX

        self.prefix = PREFIX
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "plugins"), str(ROOT / "devtools"), str(ROOT)])}
        self.stderr = open(log_dir / "load_worker.stderr", "w", encoding="utf-8")  # noqa: SIM115
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.reliability.load_worker"], cwd=ROOT, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
                                     text=True, bufsize=1)
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self._live: dict[int, str] = {}
        self._exits: dict[int, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read, name="load-worker-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if not line.startswith(self.prefix):
                continue
            event = json.loads(line[len(self.prefix):])
            with self._lock:
                if event["event"] == "started":
                    self._live[event["pid"]] = event["label"]
                elif event["event"] == "exited":
                    self._live.pop(event["pid"], None)
                    self._exits[event["pid"]] = event
            if event["event"] == "ready":
                self._ready.set()
            else:
                self.events.put(event)
        self.events.put({"event": "worker_exited"})

    def wait_ready(self, timeout: float = 120) -> None:
        if not self._ready.wait(timeout):
            raise RuntimeError(f"load worker not ready after {timeout} s (see its stderr)")

    def live_pids(self, wait_s: float = 0.0) -> list[int]:
        """Pids of the loading children alive now (waiting up to ``wait_s`` for one to appear)."""
        deadline = time.monotonic() + wait_s
        while True:
            with self._lock:
                pids = list(self._live)
            if pids or time.monotonic() >= deadline:
                return pids
            time.sleep(0.002)

    def kill_children(self) -> list[int]:
        """SIGKILL every loading child alive now (by pid; only children this worker forked)."""
        killed = []
        for pid in self.live_pids(wait_s=1.0):
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except ProcessLookupError:
                pass
        return killed

    def kill_a_working_child(self) -> int | None:
        """SIGKILL a loading child that is still at work; returns its pid (None: the load was over).

        A child that had just finished (exited, not yet reaped) ignores the signal: then the next
        child is killed instead, so a timed kill is never silently lost between two load tasks.
        """
        while True:
            pids = self.live_pids(wait_s=0.5)
            if not pids:
                return None
            pid = pids[0]
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
            exit_event = None
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with self._lock:
                    exit_event = self._exits.get(pid)
                if exit_event is not None:
                    break
                time.sleep(0.002)
            if exit_event is not None and exit_event["signal"] == signal.SIGKILL:
                return pid

    def run(self, command: dict[str, Any], timeout: float = 600) -> list[dict[str, Any]]:
        """Send one load command; return its events up to and including ``done``."""
        self.wait_ready()
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        events = []
        deadline = time.monotonic() + timeout
        while True:
            event = self.events.get(timeout=max(0.1, deadline - time.monotonic()))
            if event["event"] == "worker_exited":
                raise RuntimeError("the load worker died (see its stderr)")
            events.append(event)
            if event["event"] == "done":
                return events

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(json.dumps({"cmd": "exit"}) + "\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.stderr.close()


# -- killing the loader -----------------------------------------------------------------------------
@dataclass
class Killer:
    """Decides, from inside the NetSuite sandbox (``after_commit``), when to SIGKILL the loader.

    ``arm_after_post(n)``: kill right after the ``n``-th POST that created records committed, before
    its answer leaves. ``arm_after_lookup()``: kill once a GET look-up has answered, before the
    loader records what it learnt. What was committed when the kill fired is kept in ``hits``.
    """

    worker: LoadWorker | None = None
    mode: str | None = None
    countdown: int = 0
    hits: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def arm_after_post(self, n: int) -> None:
        self.mode, self.countdown = "post", n

    def arm_after_lookup(self) -> None:
        self.mode, self.countdown = "lookup", 1

    def disarm(self) -> None:
        self.mode = None

    def __call__(self, method: str, results: list[dict[str, Any]] | None) -> None:
        with self._lock:
            if self.mode is None or self.worker is None or not results:
                return
            if self.mode == "post" and (method != "POST" or not any(r["status"] == "created" for r in results)):
                return
            if self.mode == "lookup" and method != "GET":
                return
            self.countdown -= 1
            if self.countdown > 0:
                return
            self.mode = None
            pids = self.worker.kill_children()
            self.hits.append({"method": method, "killed": pids,
                              "created": [r["externalId"] for r in results if r["status"] == "created"],
                              "found": [r["externalId"] for r in results if r["status"] == "existing"]})


# -- one world --------------------------------------------------------------------------------------
@dataclass
class RunSummary:
    """What one sync run did, for the test output."""

    run_id: str
    seconds: float
    children: int
    killed: int
    completed: bool
    stats: Counter = field(default_factory=Counter)
    ledger: dict[str, int] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)

    def line(self) -> str:
        keys = ("created", "existing", "calls", "throttled_batches", "unknown_outcomes", "resolved_by_lookup",
                "deferred", "retry_later", "failed")
        load = " ".join(f"{k}={self.stats[k]}" for k in keys if self.stats.get(k))
        phases = "/".join(f"{self.phases.get(k, 0):.1f}" for k in ("extract", "transform", "load"))
        return (f"{self.run_id}: {self.seconds:5.1f} s (extract/transform/load {phases}), "
                f"{self.children} load task(s), killed {self.killed}, "
                f"{'completed' if self.completed else 'STOPPED'}; {load or 'nothing loaded'}; ledger {self.ledger}")


@dataclass
class SyncBench:
    """Both sandboxes serving one dataset, a store, and the loading worker."""

    dataset: Any
    lago_app: Any
    netsuite_app: Any
    lago: RunningServer
    netsuite: RunningServer
    store_url: str
    workdir: Path
    worker: LoadWorker
    killer: Killer
    settings: dict[str, Any]
    window: tuple[dt.date, dt.date]  # the issuing dates every run extracts (the whole dataset)
    netsuite_timeout_s: float = 5.0
    parallel: int = 1  # load lanes (the Airflow pool's slots)
    runs: list[RunSummary] = field(default_factory=list)

    # -- environment -------------------------------------------------------------------------
    def connections(self) -> dict[str, str]:
        return connection_env(self.lago.url, self.netsuite.url, self.store_url,
                              lago_client_rps=self.settings.get("_lago_client_rps", 45),
                              netsuite_timeout_s=self.netsuite_timeout_s)

    def context(self, run_id: str) -> Any:
        return run_context(run_id, self.settings, self.store_url)

    @property
    def engine(self) -> sa.engine.Engine:
        return store.get_engine(self.store_url)

    # -- running -----------------------------------------------------------------------------
    def run(self, run_id: str, *, kill_after_s: float | None = None) -> RunSummary:
        """One sync run: extract, transforming each slice → load lanes (forked children) → report.

        ``kill_after_s``: SIGKILL the loading child alive that long after the first one started.
        """
        from lago_netsuite.orchestration import steps as pipeline

        started = time.monotonic()
        env = self.connections()
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            ctx = self.context(run_id)
            phases = {"start": time.monotonic()}
            # The hourly run's extraction, over an explicit issuing-date window (the whole dataset),
            # each slice transformed as it lands; the lanes then load with the producer done.
            produced = pipeline.produce(ctx, lambda on_slice: pipeline.extract(
                ctx, lago_conn_id="lago_default", window=self.window, on_slice=on_slice))
            extracted, counts = produced["extract"], produced["transform"]
            phases["extract"] = phases["transform"] = time.monotonic()
            stages = [[{"lane": n} for n in range(max(1, self.parallel))]]
            settings = {k: v for k, v in self.settings.items() if not k.startswith("_")}
            log_path = self.workdir / f"{run_id}.load.log"
            command = {"run_id": run_id, "store_url": self.store_url, "settings": settings, "env": env,
                       "stages": stages, "parallel": self.parallel, "log": str(log_path)}
            timer = None
            if kill_after_s is not None and any(stages):
                timer = threading.Thread(target=self._kill_later, args=(kill_after_s,), daemon=True)
                timer.start()
            events = self.worker.run(command)
            phases["load"] = time.monotonic()
            if timer is not None:
                timer.join()
            pipeline.report(ctx, extract_counts=extracted, transform_counts=counts)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        exits = [e for e in events if e["event"] == "exited"]
        failed = [e for e in exits if e["status"] not in (0, None)]
        if failed:
            tail = log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
            raise AssertionError(f"a load task failed (it was not killed) in {run_id}; its log ends:\n{tail}")
        summary = RunSummary(run_id, time.monotonic() - started, len(exits),
                             sum(1 for e in exits if e["signal"] == signal.SIGKILL), events[-1]["completed"])
        for e in exits:
            summary.stats.update({k: v for k, v in (e["stats"] or {}).items() if isinstance(v, int)})
        summary.ledger = self.ledger_states()
        summary.phases = {"extract": phases["extract"] - phases["start"],
                          "transform": phases["transform"] - phases["extract"],
                          "load": phases["load"] - phases["transform"]}
        self.runs.append(summary)
        print(summary.line())  # captured: pytest shows it when the test fails
        return summary

    def _kill_later(self, delay: float) -> None:
        if not self.worker.live_pids(wait_s=10):
            return
        time.sleep(delay)
        killed = self.worker.kill_a_working_child()
        if killed:
            print(f"  timer: SIGKILL {killed} {delay:.2f} s into the load")

    def sync_until_done(self, prefix: str, *, max_runs: int = 8, max_wait_s: float = 30) -> int:
        """Run until no row is pending, sent or waiting; returns the runs it took (bounded)."""
        for n in range(1, max_runs + 1):
            self.run(f"{prefix}-{n}")
            if not self.open_rows():
                return n
            due = self.next_due_in()
            if due > max_wait_s:
                raise AssertionError(f"a record is not due for {due:.0f} s: {self.open_rows()[:5]}")
            time.sleep(max(0.0, due))
        raise AssertionError(f"still open after {max_runs} runs: {self.open_rows()[:10]}")

    # -- looking at the results ----------------------------------------------------------------
    def ledger(self) -> dict[str, Any]:
        with self.engine.connect() as conn:
            return {r.external_id: r for r in conn.execute(sa.select(schema.ledger))}

    def ledger_states(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            t = schema.ledger
            return dict(conn.execute(sa.select(t.c.state, sa.func.count()).group_by(t.c.state)).tuples().all())

    def open_rows(self) -> list[tuple[str, str]]:
        with self.engine.connect() as conn:
            t = schema.ledger
            query = sa.select(t.c.external_id, t.c.state).where(t.c.state.in_(("pending", "sent", "waiting")))
            return list(conn.execute(query).tuples())

    def next_due_in(self) -> float:
        """Seconds until the last open row is due again (0 when all are due now)."""
        from lago_netsuite.ledger.upsert import utcnow

        with self.engine.connect() as conn:
            t = schema.ledger
            latest = conn.execute(sa.select(sa.func.max(t.c.next_attempt_at))
                                  .where(t.c.state.in_(("pending", "sent", "waiting")))).scalar()
        if latest is None:
            return 0.0
        if isinstance(latest, str):
            latest = dt.datetime.fromisoformat(latest)
        return max(0.0, (latest - utcnow()).total_seconds()) + 0.2

    def netsuite_records(self) -> list[dict[str, Any]]:
        response = requests.get(f"{self.netsuite.url}/_sandbox/records", timeout=30)
        response.raise_for_status()
        return [r for r in response.json()["records"] if not r.get("seeded")]

    def netsuite_stats(self) -> dict[str, Any]:
        return requests.get(f"{self.netsuite.url}/_sandbox/stats", timeout=10).json()

    def lago_stats(self) -> dict[str, Any]:
        stats = requests.get(f"{self.lago.url}/_sandbox/stats", timeout=10).json()
        stats.pop("recent", None)
        return stats

    def assert_applications_once(self, ledger: dict[str, Any], by_ext: dict[str, dict[str, Any]]) -> None:
        _assert_applications_once(self, ledger, by_ext)

    def assert_exactly_once(self) -> None:
        """Every eligible document in NetSuite once, nothing else; ledger in agreement; totals exact."""
        expected = expected_documents(self.dataset)
        records = self.netsuite_records()
        counts = Counter(r["externalId"] for r in records)
        duplicates = sorted(e for e, n in counts.items() if n > 1)
        assert not duplicates, f"{len(duplicates)} externalIds in NetSuite more than once: {duplicates[:5]}"
        by_ext = {r["externalId"]: r for r in records}
        missing = sorted(set(expected) - set(by_ext))
        extra = sorted(set(by_ext) - set(expected))
        assert not missing, f"{len(missing)} eligible documents not in NetSuite: {missing[:5]}"
        assert not extra, f"{len(extra)} records in NetSuite that Lago does not call for: {extra[:5]}"
        wrong_type = [e for e, (rtype, _) in expected.items() if by_ext[e]["type"] != rtype]
        assert not wrong_type, f"records of the wrong type: {wrong_type[:5]}"
        wrong_total = [(e, by_ext[e]["total"], str(total)) for e, (_, total) in expected.items()
                       if total is not None and Decimal(str(by_ext[e]["total"])) != total]
        assert not wrong_total, f"{len(wrong_total)} totals differ from Lago's: {wrong_total[:5]}"
        ledger = self.ledger()
        states = Counter(r.state for r in ledger.values())
        assert set(states) <= set(FINAL_STATES), f"ledger rows not final: {dict(states)}"
        assert states.get("sent", 0) == 0, "rows left in 'sent'"
        synced = {e: r.netsuite_id for e, r in ledger.items() if r.state == "synced" and r.kind != "creditapply"}
        assert synced == {e: r["id"] for e, r in by_ext.items()}, "the ledger disagrees with NetSuite"
        self.assert_applications_once(ledger, by_ext)
        credit = {f"lago-invoice-{i['lago_id']}": money.to_major(int(i["credit_notes_amount_cents"]), i["currency"])
                  for i in self.dataset.invoices}  # the ledger keeps Lago's own total
        ledger_totals = [e for e, (_, total) in expected.items() if total is not None
                         and ledger[e].total_minor is not None
                         and money.to_major(int(ledger[e].total_minor), ledger[e].currency)
                         != total - credit.get(e, 0)]
        assert not ledger_totals, f"ledger totals differ from Lago's: {ledger_totals[:5]}"


def _assert_applications_once(bench: Any, ledger: dict[str, Any], by_ext: dict[str, dict[str, Any]]) -> None:
    """Every credit consumed in Lago is one synced application of exactly its amount on its memo,
    and every invoice's amount due in NetSuite equals Lago's (a credit applied twice would not)."""
    from lago_netsuite_dev.sandbox.books import invoice_dues

    for inv in bench.dataset.invoices:
        if inv["status"] != "finalized":
            continue
        for credit in inv.get("credits") or []:
            if credit["item"]["type"] != "credit_note":
                continue
            row = ledger[f"lago-creditapply-{credit['lago_id']}"]
            memo = by_ext[f"lago-creditnote-{credit['item']['lago_item_id']}"]
            invoice = by_ext[f"lago-invoice-{inv['lago_id']}"]
            assert row.state == "synced" and row.netsuite_id == memo["id"], (row.external_id, row.state)
            assert Decimal(memo["applications"][invoice["id"]]) == money.to_major(int(credit["amount_cents"]),
                                                                                  inv["currency"])
    applications = [e for e in ledger if e.startswith("lago-creditapply-")]
    consumed = [c for i in bench.dataset.invoices if i["status"] == "finalized" for c in i.get("credits") or []
                if c["item"]["type"] == "credit_note"]
    assert len(applications) == len(consumed)
    dues = [d for d in invoice_dues(bench.dataset.invoices, by_ext) if d[1] != d[2]]
    assert not dues, f"{len(dues)} invoices whose amount due differs from Lago's: {dues[:5]}"


def connection_env(lago_url: str, netsuite_url: str | None, store_url: str, *, lago_client_rps: float = 45,
                   netsuite_timeout_s: float = 5.0) -> dict[str, str]:
    """``AIRFLOW_CONN_*`` for both sandboxes and the store, as a deployment sets them."""
    lago = {"conn_type": "lago", "host": f"{lago_url}/api/v1", "password": LAGO_KEY,
            "extra": {"requests_per_second": lago_client_rps, "retry_backoff_s": 0.05}}
    env = {"AIRFLOW_CONN_LAGO_DEFAULT": json.dumps(lago),
           "AIRFLOW_CONN_LAGO_NETSUITE_STORE": json.dumps(
               {"conn_type": "generic", "extra": {"sqlalchemy_url": store_url}})}
    if netsuite_url:
        env["AIRFLOW_CONN_NETSUITE_DEFAULT"] = json.dumps(
            {"conn_type": "netsuite", "extra": {"account_id": ACCOUNT_ID, **CREDENTIALS, "base_url": netsuite_url,
                                                "script": SCRIPT, "deploy": DEPLOY, "timeout": netsuite_timeout_s}})
    return env


def run_context(run_id: str, settings: dict[str, Any], store_url: str) -> Any:
    """The pipeline's RunContext for ``settings`` (underscored keys are the harness's own)."""
    from lago_netsuite.context import RunContext
    from lago_netsuite.settings import SyncSettings

    values = {k: v for k, v in settings.items() if not k.startswith("_")}
    return RunContext(run_id=run_id, dag_id="reliability", settings=SyncSettings.from_mapping(values),
                      store_url=store_url)


def start_sandboxes(dataset: Any, *, lago_rate_limit: int | None, killer: Killer,
                    **netsuite: Any) -> tuple[Any, Any, RunningServer, RunningServer]:
    """Both apps wired as in the demo (NetSuite checks totals against Lago), served on loopback."""
    from lago_netsuite_dev.sandbox.pair import build_pair

    pair = build_pair(dataset, lago_api_key=LAGO_KEY, mapping_path=MAPPING, lago_rate_limit=lago_rate_limit,
                      netsuite_credentials={"account_id": ACCOUNT_ID, **CREDENTIALS}, after_commit=killer,
                      **netsuite)
    return pair.lago_app, pair.netsuite_app, serve_in_thread(pair.lago_app), serve_in_thread(pair.netsuite_app)


def start_netsuite(dataset: Any, lago_app: Any, *, killer: Killer, **netsuite: Any) -> tuple[Any, RunningServer]:
    """A fresh NetSuite sandbox checking totals against an already running Lago sandbox."""
    from lago_netsuite_dev.sandbox.netsuite import NetSuiteSandboxConfig, StoredRecord, create_app
    from lago_netsuite_dev.sandbox.pair import lago_totals_oracle, linked_netsuite_customers, mapping_references

    items, currencies, subsidiaries = mapping_references(MAPPING)
    options: dict[str, Any] = {**CREDENTIALS, **netsuite}
    config = NetSuiteSandboxConfig(account_id=ACCOUNT_ID, valid_items=items, valid_currencies=set(currencies),
                                   valid_subsidiaries=subsidiaries, currencies=currencies,
                                   expected_totals=lago_totals_oracle(lago_app), after_commit=killer, **options)
    app = create_app(config)
    for seed in linked_netsuite_customers(dataset):
        app.state.sandbox.store.seed(StoredRecord(type="customer", id=seed["id"], external_id=seed["externalId"],
                                                  body={"entityid": seed["entityid"]}))
    return app, serve_in_thread(app)


def base_settings(workdir: Path, **overrides: Any) -> dict[str, Any]:
    """The ``lago_netsuite_settings`` of these tests (underscored keys are the harness's own)."""
    return {"mapping_file": str(MAPPING), "data_docs_dir": str(workdir / "data_docs"), "batch_size": 25,
            "detail_fetch_workers": 8, "in_run_retry_seconds": 5,
            "lease_seconds": 120, **overrides}


def copy_sqlite(src_url: str, dst: Path) -> str:
    """A consistent copy of a SQLite store (WAL included) at ``dst``; returns its URL."""
    src_path = src_url.removeprefix("sqlite:///")
    with sqlite3.connect(src_path) as src, sqlite3.connect(dst) as out:
        src.backup(out)
    return f"sqlite:///{dst}"


def stats_lines(netsuite: dict[str, Any], lago: dict[str, Any] | None = None) -> list[str]:
    """The sandboxes' own counts, for the test output."""
    calls = netsuite["calls"]["total"]
    faults = netsuite["faults_injected"]
    call_faults = sum(n for k, n in faults.items() if k not in ("rcrd_has_been_changed", "invalid_reference"))
    lines = [
        f"NetSuite sandbox: {calls} calls ({netsuite['calls']['by_method']}), {call_faults} call faults "
        f"= {call_faults / max(calls, 1):.1%} of calls; faults by kind {dict(sorted(faults.items()))}",
        f"  statuses {netsuite['calls']['by_status']}; records received {netsuite['records_received']}, "
        f"created {sum(netsuite['records_created'].values())} {netsuite['records_created']}; results "
        f"{netsuite['results']}; duplicates prevented by find-before-create {netsuite['duplicates_prevented']}",
    ]
    if lago is not None:
        lines.append(f"Lago sandbox: {lago['total']} requests, {lago['throttled']} answered 429 "
                     f"({lago['throttled'] / max(lago['total'], 1):.1%}); by status {lago['by_status']}")
    return lines


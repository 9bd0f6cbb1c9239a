"""Exactly-once under faults and crashes: what Lago calls for is in NetSuite once, and the ledger agrees.

Each test runs the real sync — extract, transform + validate, plan, load, report, through the
pipeline functions the DAG tasks call — against both sandboxes on loopback, with the load groups in
child processes forked by ``load_worker`` (as Airflow's LocalExecutor runs tasks). After every
scenario, :meth:`SyncBench.assert_exactly_once` checks, against the Lago dataset itself:

- every eligible document (finalized invoices, succeeded payments, credit notes, customers without a
  NetSuite link that own one of them) is in NetSuite exactly once, and nothing else is;
- the ledger agrees with the sandbox record for record (same externalIds, same NetSuite ids);
- each NetSuite total equals the Lago document's total to the last minor unit (an invoice: plus its
  credit-note credits, booked as credit memo applications);
- every credit consumed in Lago is one application on its memo, every succeeded refund one customer
  refund, and every invoice's amount due in NetSuite equals Lago's (nothing applied twice);
- nothing is left ``sent`` (or pending, waiting, failed, quarantined).

1. Faults: a few thousand documents while the NetSuite sandbox injects, from seeded rates and
   scripted bursts, throttling (400 ``SSS_REQUEST_LIMIT_EXCEEDED`` and 429), 5xx, timeouts whose write
   commits after the client gave up, responses lost after the write committed,
   ``RCRD_HAS_BEEN_CHANGED`` and connection resets — more than 20 % of calls — and Lago throttles
   (a low rate limit, 429 with ``X-RateLimit-Reset``). Runs repeat until nothing is left to send.
2. Crashes: the loading process is SIGKILLed — right after NetSuite committed a batch and before
   the answer reached the loader (the sandbox's ``after_commit`` hook), right after a look-up
   answered and before the loader recorded it, and at seeded random moments — then the sync is
   run again.

Each scenario prints its runs and the sandboxes' own counts (calls, faults by kind, 429s).
``RELIABILITY_SCALE=10`` multiplies the dataset sizes and the number of kills: a longer soak;
``RELIABILITY_SEED=n`` shifts every seed (dataset, fault draws, kill points) to explore other runs.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from lago_netsuite.ledger import schema, store
from lago_netsuite_dev.sandbox.netsuite import FaultConfig
from tests.reliability.harness import (
    Killer,
    LoadWorker,
    SyncBench,
    base_settings,
    connection_env,
    copy_sqlite,
    expected_documents,
    make_dataset,
    run_context,
    start_netsuite,
    start_sandboxes,
    stats_lines,
)

pytestmark = [pytest.mark.slow]

SCALE = max(1, int(os.environ.get("RELIABILITY_SCALE", "1")))
SEED = int(os.environ.get("RELIABILITY_SEED", "0"))  # shifts every seed: another dataset, faults and kills
FAULT_INVOICES, FAULT_CUSTOMERS, FAULT_DAYS = 1000 * SCALE, 100 * SCALE, 14
CRASH_INVOICES, CRASH_CUSTOMERS, CRASH_DAYS = 300 * SCALE, 40 * SCALE, 10

#: Per-call fault probabilities (seeded): 26 % of calls, before the scripted bursts.
CALL_FAULT_RATES = {"throttle_400": 0.05, "throttle_429": 0.05, "http_5xx": 0.04, "lost_response": 0.04,
                    "timeout": 0.03, "connection_reset": 0.05}
#: Per-record probability of RCRD_HAS_BEEN_CHANGED at save.
RECORD_FAULT_RATES = {"rcrd_has_been_changed": 0.02}
#: Scripted on top of the rates: throttling bursts (runs of consecutive throttled calls, both kinds),
#: and one of each other kind early on, so every kind is seen whatever the number of calls.
SCRIPTED = [{"kind": "connection_reset", "calls": 1, "skip": 3}, {"kind": "throttle_400", "calls": 4, "skip": 10},
            {"kind": "lost_response", "method": "POST", "calls": 1, "skip": 6},
            {"kind": "timeout", "method": "POST", "calls": 1, "skip": 14},
            {"kind": "http_5xx", "calls": 1, "skip": 10}, {"kind": "throttle_429", "calls": 3, "skip": 30},
            {"kind": "throttle_400", "calls": 3, "skip": 60}]


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoadWorker]:
    """One warm loading worker for the module (imports Airflow once; forks a child per load task)."""
    proc = LoadWorker(tmp_path_factory.mktemp("load_worker"))
    yield proc
    proc.stop()


@pytest.fixture(autouse=True)
def _fresh_engines() -> Iterator[None]:
    yield
    store.dispose_engines()


def _window(days: int) -> tuple[dt.date, dt.date]:
    today = dt.date.today()
    return today - dt.timedelta(days=days), today


# -- 1. faults ----------------------------------------------------------------------------------------
def test_every_document_lands_once_under_netsuite_faults_and_lago_throttling(worker, tmp_path, request) -> None:
    """~1,500 records through >20 % NetSuite faults and a throttling Lago, re-run until nothing is left."""
    started = time.monotonic()
    dataset = make_dataset(invoices=FAULT_INVOICES, customers=FAULT_CUSTOMERS, days=FAULT_DAYS, seed=2024 + SEED)
    faults = FaultConfig.from_dict({"seed": 606 + SEED, "rates": {**CALL_FAULT_RATES, **RECORD_FAULT_RATES},
                                    "calls": SCRIPTED, "timeout_hold_s": 1.6})
    # Lago allows 40 requests/s (its real limit is 50) to a client paced at 200/s: the extraction
    # meets 429s in every window and waits out each X-RateLimit-Reset. NetSuite's client gives up
    # after 1 s, before a `timeout` fault's write commits (1.6 s).
    lago_app, ns_app, lago, ns = start_sandboxes(dataset, lago_rate_limit=40, killer=Killer(), faults=faults)
    bench = SyncBench(dataset, lago_app, ns_app, lago, ns, f"sqlite:///{tmp_path / 'store.db'}", tmp_path, worker,
                      Killer(), base_settings(tmp_path, _lago_client_rps=200),
                      netsuite_timeout_s=1.0, window=_window(FAULT_DAYS), parallel=4)
    try:
        runs = bench.sync_until_done("faults", max_runs=8)
        netsuite, lago_stats = bench.netsuite_stats(), bench.lago_stats()
        elapsed = time.monotonic() - started
        summary = stats_lines(netsuite, lago_stats)
        print("\n".join(summary))  # captured: shown if an assertion below fails
        bench.assert_exactly_once()
        again = bench.run("faults-again")  # one more run, faults still on: nothing to send, nothing sent
        assert again.stats.get("calls", 0) == 0, again.stats  # the lanes found nothing to send
        assert bench.netsuite_stats()["records_received"] == netsuite["records_received"]
        bench.assert_exactly_once()
    finally:
        lago.stop()
        ns.stop()
    injected = netsuite["faults_injected"]
    call_faults = sum(injected.get(kind, 0) for kind in CALL_FAULT_RATES)
    assert call_faults >= 0.20 * netsuite["calls"]["total"], "fewer faults than the scenario promises"
    assert all(injected.get(kind) for kind in [*CALL_FAULT_RATES, *RECORD_FAULT_RATES]), injected
    assert lago_stats["throttled"] > 0, "Lago never throttled the extraction"
    # A record NetSuite already held was sent again only when its look-up could not see it yet: the
    # write of a timed-out call still being held (at most a resend and a retry of its batch).
    assert netsuite["duplicates_prevented"] <= 2 * 25 * injected.get("timeout", 0), netsuite["results"]
    show(request, [f"faults: {len(expected_documents(dataset))} records from {len(dataset.invoices)} invoices, "
                   f"{len(dataset.payments)} payments, {len(dataset.credit_notes)} credit notes, "
                   f"{len(dataset.customers)} customers; {runs} run(s) until nothing was left to send, "
                   f"{elapsed:.0f} s; all invariants hold", *[r.line() for r in bench.runs], *summary])


# -- 2. crashes ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def crash_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A Lago sandbox and a store holding its documents extracted and transformed (nothing sent yet).

    Every crash scenario starts from a copy of that store and a fresh NetSuite sandbox, so the
    scenarios share one extraction; each of their runs still extracts and transforms again.
    """
    from lago_netsuite.orchestration import steps as pipeline
    from lago_netsuite_dev.sandbox.lago.app import create_app
    from lago_netsuite_dev.sandbox.server import serve_in_thread
    from tests.reliability.harness import LAGO_KEY

    workdir = tmp_path_factory.mktemp("crash_template")
    # seed 78: credit notes consumed by later invoices and refunded, so kills hit applications too
    dataset = make_dataset(invoices=CRASH_INVOICES, customers=CRASH_CUSTOMERS, days=CRASH_DAYS, seed=78 + SEED)
    lago_app = create_app(dataset, LAGO_KEY, rate_limit_per_s=None)
    lago = serve_in_thread(lago_app)
    url = f"sqlite:///{workdir / 'template.db'}"
    with pytest.MonkeyPatch.context() as mp:
        for key, value in connection_env(lago.url, None, url, lago_client_rps=200).items():
            mp.setenv(key, value)
        ctx = run_context("template", base_settings(workdir), url)
        extracted = pipeline.extract(ctx, lago_conn_id="lago_default", window=_window(CRASH_DAYS))
        pipeline.transform(ctx, window=extracted["window"])
    store.dispose_engines()
    yield {"dataset": dataset, "lago_app": lago_app, "lago": lago, "url": url}
    lago.stop()


@pytest.fixture
def crash_bench(worker, crash_template, tmp_path) -> Iterator[Callable[..., SyncBench]]:
    """A world for one crash scenario: the template's store copied, a fresh NetSuite sandbox."""
    started: list[Any] = []

    def make(store_url: str | None = None, **netsuite: Any) -> SyncBench:
        """``store_url``: start from that empty store instead (its first run extracts everything)."""
        killer = Killer(worker)
        ns_app, ns = start_netsuite(crash_template["dataset"], crash_template["lago_app"], killer=killer,
                                    **{"latency_per_call_ms": 40, "latency_per_record_ms": 2, **netsuite})
        started.append(ns)
        url = store_url or copy_sqlite(crash_template["url"], tmp_path / "store.db")
        return SyncBench(crash_template["dataset"], crash_template["lago_app"], ns_app, crash_template["lago"], ns,
                         url, tmp_path, worker, killer, base_settings(tmp_path, _lago_client_rps=200),
                         netsuite_timeout_s=5.0, window=_window(CRASH_DAYS), parallel=1)

    yield make
    for server in started:
        server.stop()


def assert_consistent_after_crash(bench: SyncBench) -> None:
    """Right after a kill: no duplicate, and no record in NetSuite that the ledger thinks unsent.

    The loader commits ``sent`` before each call, so whatever NetSuite holds is ``sent`` (outcome
    not recorded yet) or ``synced`` under the same id in the ledger — never pending or waiting.
    """
    records = bench.netsuite_records()
    ids = [r["externalId"] for r in records]
    assert len(ids) == len(set(ids)), "a duplicate in NetSuite"
    ledger = bench.ledger()
    for rec in records:
        row = ledger.get(rec["externalId"])
        assert row is not None and row.state in ("sent", "synced"), (rec["externalId"], row and row.state)
        if row.state == "synced":
            assert row.netsuite_id == rec["id"], rec["externalId"]
    in_netsuite = {r["externalId"]: r["id"] for r in records}
    for ext, row in ledger.items():
        if row.state == "synced":
            assert in_netsuite.get(ext) == row.netsuite_id, f"{ext} synced in the ledger but not in NetSuite"


def show(request: pytest.FixtureRequest, lines: list[str]) -> None:
    """Write to the terminal even when pytest captures output: the figures are part of the result.

    (Capture is suspended as ``capsys.disabled()`` does, without the ``capsys`` fixture: a logging
    handler created while ``capsys`` holds ``sys.stderr`` would write to its closed stream later.)
    """
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    text = "\n" + "\n".join(f"    {line}" for line in lines)
    if capture is None:
        print(text)
        return
    with capture.global_and_fixture_disabled():
        print(text, flush=True)


def _finish(bench: SyncBench, name: str, kills: int, request: pytest.FixtureRequest, started: float,
            notes: list[str] | None = None) -> None:
    runs_after = bench.sync_until_done(f"{name}-rerun", max_runs=6)
    bench.assert_exactly_once()
    stats = bench.netsuite_stats()
    # Every unknown outcome was looked up before anything was sent again: NetSuite never saw a record
    # it already held (its find-before-create would have answered 'existing').
    assert stats["duplicates_prevented"] == 0, stats["results"]
    show(request, [f"{name}: {kills} SIGKILL(s) of the loader, then {runs_after} run(s) to finish; "
                  f"{len(bench.runs)} runs, {time.monotonic() - started:.0f} s; all invariants hold",
                  *(notes or []), *stats_lines(stats)])


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_killed_between_the_netsuite_write_and_the_ledger_update(crash_bench, backend, request) -> None:
    """SIGKILL right after NetSuite committed a batch, before the answer reaches the loader (5 times)."""
    started = time.monotonic()
    bench = crash_bench(request.getfixturevalue("postgres_url") if backend == "postgresql" else None)
    rng = random.Random(4242 + SEED)
    for n in range(5 * SCALE):
        bench.killer.arm_after_post(rng.randint(1, 3))  # 5 × 3 < the ~19 POSTs of a full load
        summary = bench.run(f"after-write-{n}")
        assert summary.killed == 1, "the kill did not fire"
        hit = bench.killer.hits[-1]
        ledger = bench.ledger()
        # The window was really hit: NetSuite holds these records, the ledger still says 'sent'.
        assert hit["created"] and all(ledger[e].state == "sent" for e in hit["created"]), hit
        assert_consistent_after_crash(bench)
    bench.killer.disarm()
    _finish(bench, f"after-write ({backend})", len(bench.killer.hits), request, started)


def test_killed_after_a_lookup_answered_before_the_ledger_recorded_it(crash_bench, request) -> None:
    """A POST loses its answer after the write; the look-up that follows answers; SIGKILL; re-run."""
    started = time.monotonic()
    bench = crash_bench()
    rng = random.Random(99 + SEED)
    for n in range(3 * SCALE):
        bench.netsuite_app.state.sandbox.update(
            {"faults": {"calls": [{"kind": "lost_response", "method": "POST", "skip": rng.randint(0, 5), "calls": 1}]}})
        bench.killer.arm_after_lookup()
        summary = bench.run(f"after-lookup-{n}")
        assert summary.killed == 1, "the kill did not fire"
        hit = bench.killer.hits[-1]
        ledger = bench.ledger()
        assert hit["found"] and all(ledger[e].state == "sent" for e in hit["found"]), hit
        assert_consistent_after_crash(bench)
    bench.killer.disarm()
    bench.netsuite_app.state.sandbox.update({"faults": {}})
    _finish(bench, "after-lookup", len(bench.killer.hits), request, started)


def test_killed_at_random_moments_under_faults(crash_bench, request) -> None:
    """SIGKILL at seeded random moments of the load (claim, 'sent', call, look-up, results), with faults on."""
    started = time.monotonic()
    faults = FaultConfig.from_dict({"seed": 31 + SEED, "rates": {"lost_response": 0.08, "http_5xx": 0.05,
                                                          "connection_reset": 0.05, "throttle_429": 0.04,
                                                          "rcrd_has_been_changed": 0.01}})
    # 120 ms before a call writes its first record: the kills land before, during and after writes.
    bench = crash_bench(faults=faults, latency_per_call_ms=120)
    rng = random.Random(1234 + SEED)
    kills, attempts, points = 0, 0, []
    while kills < 6 * SCALE and attempts < 14 * SCALE and bench.open_rows():
        attempts += 1  # a run that ends before its timer is simply a run without a crash
        summary = bench.run(f"timer-{attempts}", kill_after_s=rng.uniform(0.05, 1.2 * SCALE))
        kills += summary.killed
        if summary.killed:
            assert_consistent_after_crash(bench)
            points.append(_kill_point(bench))
    assert kills >= 4 * SCALE, f"only {kills} timer kills hit a running loader"
    _finish(bench, "random moments", kills, request, started, [f"where the kills landed: {'; '.join(points)}"])


def _kill_point(bench: SyncBench) -> str:
    """Where a kill left the ledger: rows 'sent', and how many of them NetSuite already holds."""
    sent = [e for e, state in bench.open_rows() if state == "sent"]
    written = {r["externalId"] for r in bench.netsuite_records()} & set(sent)
    if not sent:
        return "no row 'sent' (before a 'sent' commit, or between calls)"
    return f"{len(sent)} 'sent', {len(written)} of them written by NetSuite"


# -- regressions found by the scenarios above ------------------------------------------------------------
def test_calls_that_wrote_nothing_do_not_count_as_the_records_attempts(netsuite_sandbox, connect_netsuite,
                                                                        tmp_path) -> None:
    """Found under faults: lost calls counted as a record's attempts and pushed its retry out by minutes.

    Four POSTs in a row are reset before NetSuite writes anything (each looked up: not there), then
    the record itself meets RCRD_HAS_BEEN_CHANGED once. Its own transient failures number one, so
    it is retried within seconds, in the same task — not after ``retry_backoff_minutes``.
    """
    from lago_netsuite.hooks.netsuite import NetSuiteRestletHook
    from lago_netsuite.ledger import migrations, records
    from lago_netsuite.ledger.records import Outcome
    from lago_netsuite.load.loader import GroupLoader, LoaderOptions
    from tests.plugins.netsuite_sandbox import customer_record

    connect_netsuite(netsuite_sandbox, timeout=2)
    engine = store.get_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    migrations.migrate(engine)
    ext = "lago-customer-c1"
    records.apply_outcomes(engine, [Outcome(ext, "customer", "customer", "c1", "C-1", "h", "pending",
                                            body=customer_record(ext))], mapping_hash="m", run_id="seed")
    netsuite_sandbox.set_faults(calls=[{"kind": "connection_reset", "method": "POST", "calls": 4}],
                                records=[{"kind": "rcrd_has_been_changed", "externalId": ext, "times": 1}])
    loader = GroupLoader(engine, NetSuiteRestletHook("netsuite_default"), run_id="r1",
                         options=LoaderOptions(batch_size=5, in_run_retry_seconds=3, max_passes=8))
    stats = loader.load([ext])
    with engine.connect() as conn:
        row = conn.execute(sa.select(schema.ledger).where(schema.ledger.c.external_id == ext)).one()
    assert (stats.created, stats.retry_later, row.state) == (1, 0, "synced")
    assert row.attempts == 2  # the RCRD_HAS_BEEN_CHANGED answer and the save; not the four lost calls
    assert netsuite_sandbox.stats()["faults_injected"] == {"connection_reset": 4, "rcrd_has_been_changed": 1}

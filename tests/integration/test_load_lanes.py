"""Load lanes against the NetSuite sandbox: records go as soon as what they need is in NetSuite.

A run's producer (extract, transforming each slice as it lands) and its load lanes run at the same
time; these tests check what the lanes promise — NetSuite's order (customer, invoice, then what
depends on it) whatever order the rows arrive in, exactly once across lanes, a wait for what the
producer has not written yet, the reason written when a record cannot go, and an end — and, through
the whole sync against both sandboxes, that loading really starts before extraction ends and the
books still balance.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from lago_netsuite.hooks.netsuite import NetSuiteRestletHook
from lago_netsuite.ledger import records, schema, store
from lago_netsuite.ledger.claims import PENDING, QUARANTINED, SENT, SKIPPED, SYNCED, VOIDED, WAITING
from lago_netsuite.load.loader import LoaderOptions
from lago_netsuite.load.stream import (
    DECIDE,
    PRODUCE_FAILED,
    PRODUCED,
    PRODUCING,
    READY,
    SKIP,
    Candidate,
    Lane,
    classify,
)
from tests.integration.test_credit_applications import World, check_books, world_factory  # noqa: F401
from tests.integration.test_loader import (  # noqa: F401 - fixtures
    customer,
    engine,
    in_netsuite,
    invoice,
    ledger,
    payment,
    sandbox,
    seed,
)

FAST = LoaderOptions(batch_size=3, max_attempts=4, in_run_retry_seconds=3, max_passes=4)


def lane(engine, state: Any, *, n: int = 0, run_id: str = "run-1", sleep: Any = None, idle: float = 0.3) -> Lane:
    producer = state if callable(state) else (lambda: state)
    return Lane(engine, NetSuiteRestletHook("netsuite_default"), run_id=run_id, lane=n, kinds=("invoice", "payment"),
                producer_state=producer, options=FAST, idle_seconds=idle, poll_seconds=0.02,
                **({"sleep": sleep} if sleep else {}))


def _c(state: str = PENDING, *deps: str) -> Candidate:
    return Candidate("x", state, list(deps), None, None, None)


@pytest.mark.parametrize(("candidate", "deps", "done", "expected"), [
    (_c(PENDING), {}, False, READY),
    (_c(PENDING, "a"), {"a": (SYNCED, None, False)}, False, READY),
    (_c(PENDING, "a"), {}, False, SKIP),  # not written yet: the producer may still write it
    (_c(PENDING, "a"), {}, True, DECIDE),  # never will: the loader says what it waits on
    (_c(PENDING, "a"), {"a": (PENDING, None, True)}, True, SKIP),  # on its way
    (_c(PENDING, "a"), {"a": (PENDING, None, False)}, True, DECIDE),  # due after this run
    (_c(PENDING, "a"), {"a": (QUARANTINED, None, False)}, False, DECIDE),
    (_c(WAITING, "a"), {"a": (QUARANTINED, None, False)}, True, SKIP),  # already waiting: nothing new
    (_c(WAITING, "a"), {"a": (VOIDED, None, False)}, True, DECIDE),  # will never be: it fails (or drops a line)
    (_c(PENDING, "a", "b"), {"a": (SKIPPED, None, False), "b": (SENT, None, True)}, True, SKIP),
])
def test_classify(candidate: Candidate, deps: dict, done: bool, expected: str) -> None:
    assert classify(candidate, deps, producer_done=done) == expected


def _created_order(sandbox) -> list[str]:
    return [r["externalId"] for r in sorted(sandbox.records(), key=lambda r: int(r["id"]))]


def test_three_lanes_send_in_netsuites_order_exactly_once_whatever_order_rows_arrive_in(engine, sandbox) -> None:
    # Written dependents first: payments, then invoices, then their customers.
    seed(engine, [payment(n, n, customer_n=1 + n % 3) for n in range(1, 10)])
    seed(engine, [invoice(n, customer_n=1 + n % 3) for n in range(1, 16)])
    seed(engine, [customer(n) for n in (1, 2, 3)])
    lanes = [lane(engine, PRODUCED, n=k) for k in range(3)]
    results: list[Any] = []
    threads = [threading.Thread(target=lambda w=w: results.append(w.run())) for w in lanes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 3 and all(r.finished for r in results)
    rows = ledger(engine)
    assert Counter(r.state for r in rows.values()) == {SYNCED: 27}
    ns = in_netsuite(sandbox)  # no duplicates
    assert len(ns) == 27
    order = {ext: i for i, ext in enumerate(_created_order(sandbox))}
    for n in range(1, 16):
        assert order[f"lago-customer-c{1 + n % 3}"] < order[f"lago-invoice-i{n}"]
    for n in range(1, 10):
        assert order[f"lago-invoice-i{n}"] < order[f"lago-payment-p{n}"]
        apply = ns[f"lago-payment-p{n}"]["body"]["lines"][0]["lineItems"][0]
        assert apply["doc"] == rows[f"lago-invoice-i{n}"].netsuite_id
    assert sum(r.stats.created for r in results) == 27
    assert sum(r.batches for r in results) >= 9  # 27 records in batches of 3, shared by the lanes


def test_a_lane_waits_for_what_the_producer_has_not_written_yet(engine, sandbox) -> None:
    seed(engine, [customer(1), payment(1, 1)])  # the payment's invoice is in a slice still being read
    state = {"producer": PRODUCING, "idle_polls": 0}

    def sleep(_seconds: float) -> None:  # the producer's next slice lands while the lane is idle
        state["idle_polls"] += 1
        if state["idle_polls"] == 3:
            seed(engine, [invoice(1)])
            state["producer"] = PRODUCED
        time.sleep(0.01)

    result = lane(engine, lambda: state["producer"], sleep=sleep, idle=30).run()
    assert result.finished
    rows = ledger(engine)
    assert {e: r.state for e, r in rows.items()} == dict.fromkeys(
        ("lago-customer-c1", "lago-invoice-i1", "lago-payment-p1"), SYNCED)
    events = _events(engine, "lago-payment-p1")
    assert WAITING not in events, "the payment never waited: its invoice came while the producer ran"
    assert len(in_netsuite(sandbox)) == 3


def _events(engine, external_id: str) -> list[str]:
    e = schema.event
    with engine.connect() as conn:
        return list(conn.execute(sa.select(e.c.to_state).where(e.c.external_id == external_id)
                                 .order_by(e.c.at)).scalars())


def test_once_the_producer_is_done_a_record_that_cannot_go_says_why_and_the_lane_ends(engine, sandbox) -> None:
    held = replace(customer(2), state=QUARANTINED, body=None, reason="bad email", code="QUARANTINED")
    seed(engine, [customer(1), invoice(1, customer_n=1), invoice(2, customer_n=2), payment(3, 9), held])
    first = lane(engine, PRODUCED).run()
    assert first.finished
    rows = ledger(engine)
    assert rows["lago-invoice-i1"].state == SYNCED
    assert rows["lago-invoice-i2"].state == WAITING
    assert "lago-customer-c2" in rows["lago-invoice-i2"].last_error_message
    assert "quarantined" in rows["lago-invoice-i2"].last_error_message
    assert rows["lago-payment-p3"].state == WAITING
    assert rows["lago-payment-p3"].last_error_message == "waiting on lago-invoice-i9, not extracted from Lago yet"
    calls = sandbox.stats()["calls"]["total"]
    events = len(_events(engine, "lago-invoice-i2"))
    again = lane(engine, PRODUCED, run_id="run-2").run()  # a later run: nothing new to say, nothing sent
    assert again.finished and again.batches == 0
    assert sandbox.stats()["calls"]["total"] == calls and len(_events(engine, "lago-invoice-i2")) == events


def test_an_idle_lane_gives_its_slot_back_and_a_failed_producer_stops_it(engine, sandbox) -> None:
    idle = lane(engine, None).run()  # nobody producing, nothing to send: give the slot back at once
    assert not idle.finished and idle.batches == 0
    started = time.monotonic()
    waiting = lane(engine, PRODUCING, idle=0.3).run()  # producing, nothing yet: wait a little, then give it back
    assert not waiting.finished and time.monotonic() - started >= 0.3
    seed(engine, [customer(1), invoice(1)])
    stopped = lane(engine, PRODUCE_FAILED).run()
    assert stopped.finished and stopped.batches == 0
    assert {r.state for r in ledger(engine).values()} == {PENDING}  # kept for the next run
    assert sandbox.stats()["calls"]["total"] == 0


def test_the_sync_loads_while_it_extracts_and_the_books_balance(world_factory) -> None:
    """The producer and two lanes at once, as the DAG runs them: the first record reaches NetSuite
    before the last slice is extracted, and everything lands once with Lago's amounts."""
    from lago_netsuite.orchestration import steps as pipeline
    from tests.reliability.harness import run_context

    world: World = world_factory(invoices=150, customers=8)
    world.settings["slice_invoices"] = 15
    ctx = run_context("run-1", world.settings, world.store_url)
    dates = [i["issuing_date"] for i in world.dataset.invoices] + [n["issuing_date"] for n in
                                                                   world.dataset.credit_notes]
    from datetime import date, timedelta

    window = (date.fromisoformat(min(dates)), date.fromisoformat(max(dates)) + timedelta(days=1))
    produced: dict[str, Any] = {}
    producer_done_at: list[datetime] = []

    errors: list[BaseException] = []

    def synced_count() -> int:
        with store.get_engine(world.store_url).connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(schema.ledger)
                                .where(schema.ledger.c.state == SYNCED)).scalar_one()

    def extraction(on_slice: Any) -> dict[str, Any]:
        handed: list[int] = []

        def hand_over(*args: Any) -> None:
            on_slice(*args)
            if not handed:  # the test's Lago answers at once: give the lanes the time a real one takes
                handed.append(1)
                deadline = time.monotonic() + 60
                while not synced_count() and time.monotonic() < deadline:
                    time.sleep(0.1)

        return pipeline.extract(ctx, lago_conn_id="lago_default", window=window, on_slice=hand_over)

    def producer() -> None:
        try:
            produced.update(pipeline.produce(ctx, extraction))
        except BaseException as exc:
            errors.append(exc)
            raise
        producer_done_at.append(datetime.now(UTC).replace(tzinfo=None))

    lanes: list[dict[str, Any]] = []

    def lane(n: int) -> None:
        # As the load task does: a lane that finds nobody producing yet gives its slot back and comes again.
        deadline = time.monotonic() + 240
        while True:
            stats = pipeline.lane(ctx, n, netsuite_conn_id="netsuite_default", idle_seconds=120)
            if stats["finished"] or time.monotonic() > deadline:
                lanes.append(stats)
                return
            time.sleep(0.2)

    threads = [threading.Thread(target=producer)] + [threading.Thread(target=lane, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors, errors
    assert producer_done_at and len(lanes) == 2 and all(s["finished"] for s in lanes)
    assert produced["transform"]["passes"] > 1, produced["transform"]  # hand-overs before the final pass
    e = schema.event
    with store.get_engine(world.store_url).connect() as conn:
        first_synced = conn.execute(sa.select(sa.func.min(e.c.at)).where(e.c.to_state == SYNCED)).scalar_one()
        led = schema.ledger
        payment_synced = conn.execute(
            sa.select(sa.func.min(e.c.at)).select_from(e.join(led, led.c.external_id == e.c.external_id))
            .where(e.c.to_state == SYNCED, led.c.kind == "payment")).scalar_one()
    assert first_synced < producer_done_at[0], "nothing reached NetSuite before extraction ended"
    # Payments are listed first and stored as their invoices land: they load during the extraction too.
    assert payment_synced is not None and payment_synced < producer_done_at[0], (payment_synced, producer_done_at)
    pipeline.report(ctx, extract_counts=produced["extract"], transform_counts=produced["transform"])
    books = check_books(world)
    assert books["applications"] > 0
    assert not [r for r in records_left(world)], records_left(world)[:3]


def records_left(world: World) -> list[tuple[str, str]]:
    return [(e, r.state) for e, r in world.ledger().items() if r.state in (PENDING, SENT, WAITING)]


def test_lanes_share_a_run_exactly_once_on_postgresql(postgres_url, netsuite_sandbox, connect_netsuite) -> None:
    from lago_netsuite.ledger import migrations

    connect_netsuite(netsuite_sandbox, timeout=2)
    eng = store.get_engine(postgres_url)
    migrations.migrate(eng)
    try:
        records.apply_outcomes(eng, [customer(n) for n in range(1, 6)]
                               + [invoice(n, customer_n=1 + n % 5) for n in range(1, 41)]
                               + [payment(n, n, customer_n=1 + n % 5) for n in range(1, 21)],
                               mapping_hash="m", run_id="plan")
        results: list[Any] = []
        threads = [threading.Thread(target=lambda k=k: results.append(lane(eng, PRODUCED, n=k).run()))
                   for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert len(results) == 4 and all(r.finished for r in results)
        assert Counter(r.state for r in ledger(eng).values()) == {SYNCED: 65}
        assert len(in_netsuite(netsuite_sandbox)) == 65
        assert sum(r.stats.created for r in results) == 65
    finally:
        store.dispose_engines()

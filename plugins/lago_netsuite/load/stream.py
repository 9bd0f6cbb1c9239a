"""Load lanes: send records as soon as the records they refer to are in NetSuite.

A run's producer extracts Lago's documents slice by slice and transforms each slice into pending
ledger rows; meanwhile a fixed number of load lanes (each one slot of the ``netsuite_restlet``
pool) take batches of rows off the ledger and send them. A lane only takes a row whose
dependencies — its customer, the invoice a payment or credit memo applies to, the memo an
application or a refund needs — are synced, so NetSuite sees them in the order it needs whatever
order Lago's documents arrive in; customers go first, then invoices, then what depends on them.
The ledger's leases make each row one lane's (exactly once), and its states are the queue: a
lane that dies leaves rows ``sent`` or leased, which the next claim resolves.

A lane ends when the producer is finished and nothing it could send is left: rows waiting on a
record that failed, or on one this run will not send, are written ``waiting`` (or ``failed`` when
the record they need will never be in NetSuite) with the reason, as the loader does.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from lago_netsuite.ledger import claims, schema
from lago_netsuite.ledger.claims import (
    PENDING,
    SENDABLE,
    SENT,
    SKIPPED,
    SYNCED,
    VOIDED,
    WAITING,
)
from lago_netsuite.ledger.upsert import select_in, utcnow
from lago_netsuite.load.loader import GroupLoader, LoaderOptions, LoadStats

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from lago_netsuite.hooks.netsuite import NetSuiteRestletHook

log = logging.getLogger(__name__)

#: What a producer says of itself in ``sync_run.producer_state``.
PRODUCING, PRODUCED, PRODUCE_FAILED = "running", "done", "failed"

READY, SKIP, DECIDE = "ready", "skip", "decide"
#: Records that need a credit memo (and an invoice) already in NetSuite: they load last.
STAGE_4_KINDS = frozenset({"creditapply", "refund"})
_NEVER = (SKIPPED, VOIDED)


def scope_kinds(kinds: tuple[str, ...]) -> tuple[str, ...]:
    """The ledger kinds a run's ``kinds`` (Lago document kinds) send."""
    scope = set(kinds) | {"customer"}
    if "invoice" in kinds:
        scope.add("salesorder")
    if "invoice" in kinds or "creditnote" in kinds:
        scope |= STAGE_4_KINDS
    return tuple(sorted(scope))


def stage_order() -> Any:
    """Customers, then invoices, then what depends on them, then applications and refunds."""
    t = schema.ledger
    return sa.case(
        (t.c.kind == "customer", 1),
        (t.c.kind.in_(sorted(STAGE_4_KINDS)), 4),
        (sa.and_(t.c.kind.in_(("invoice", "salesorder")), t.c.action != "void"), 2),
        else_=3,
    )


@dataclass
class Candidate:
    external_id: str
    state: str
    depends_on: list[str]
    next_attempt_at: datetime | None
    lease_owner: str | None
    lease_expires_at: datetime | None


def _free(c: Candidate, now: datetime, dead: Callable[[str], bool]) -> bool:
    return (c.lease_owner is None or c.lease_expires_at is None or c.lease_expires_at < now
            or dead(c.lease_owner))


def classify(
    candidate: Candidate,
    deps: dict[str, tuple[str, datetime | None, bool]],
    *,
    producer_done: bool,
) -> str:
    """READY (send it), SKIP (what it needs is on its way) or DECIDE (let the loader say why it waits).

    ``deps`` maps an externalId to ``(state, next_attempt_at, in flight)``; one absent from it is not
    in the ledger (yet).
    """
    outcome, never = READY, False
    for ext in candidate.depends_on:
        state, _, in_flight = deps.get(ext, (None, None, False))
        if state == SYNCED:
            continue
        if state is None:
            if not producer_done:
                return SKIP
            outcome = DECIDE
        elif state in (PENDING, SENT):
            if in_flight:
                return SKIP
            outcome = DECIDE  # not due in this run: the loader records the wait
        else:  # never in NetSuite (the loader drops an optional line or fails the record), or stuck
            outcome, never = DECIDE, never or state in _NEVER
    if outcome == DECIDE and candidate.state == WAITING and not never:
        return SKIP  # already waiting, on the same kind of thing: nothing new to write
    return outcome


@dataclass
class LaneResult:
    """What one lane did in one try, and whether it is finished."""

    stats: LoadStats
    finished: bool
    batches: int = 0


class Lane:
    """One load lane of a run: claims ready rows in batches and sends them through ``hook``.

    Args:
        producer_state: returns the producer's state (``running``, ``done``, ``failed``, or None
            while it is not running: not started yet, or waiting for a retry); asked before each
            look for work, so a row the producer writes after that look is seen by the next.
        idle_seconds: how long to wait for the producer's next slice before giving the slot back
            (``run`` then returns unfinished and the task reschedules itself).
    """

    def __init__(
        self,
        engine: Engine,
        hook: NetSuiteRestletHook,
        *,
        run_id: str,
        lane: int,
        kinds: tuple[str, ...],
        producer_state: Callable[[], str | None],
        options: LoaderOptions | None = None,
        only: list[str] | None = None,
        idle_seconds: float = 20.0,
        poll_seconds: float = 1.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.engine = engine
        self.lane = lane
        self.kinds = scope_kinds(kinds)
        self.only = set(only) if only is not None else None
        self.producer_state = producer_state
        self.idle_seconds = idle_seconds
        self.poll_seconds = poll_seconds
        self.sleep = sleep
        self.loader = GroupLoader(engine, hook, run_id=run_id, options=options or LoaderOptions(), sleep=sleep)
        self.options = self.loader.options
        self.tries: Counter[str] = Counter()  # rows this lane processed, so a row never loops

    @property
    def stats(self) -> LoadStats:
        return self.loader.stats

    def run(self) -> LaneResult:
        """Send until the producer is done and nothing is left, or until idle too long while it runs."""
        batches = 0
        idle_since: float | None = None
        while True:
            state = self.producer_state()
            if state == PRODUCE_FAILED:
                log.warning("lane %d: the run's producer failed; this lane stops (what it recorded stays "
                            "pending for the next run)", self.lane)
                return LaneResult(self.stats, True, batches)
            done = state == PRODUCED
            batch, soonest = self._next_batch(producer_done=done)
            if batch:
                rows = claims.claim(self.engine, batch, self.loader.owner, lease_seconds=self.options.lease_seconds)
                for row in rows:
                    self.tries[row.external_id] += 1
                if rows:
                    self.loader.process_claimed(rows)
                    batches += 1
                    idle_since = None
                else:  # another lane took them first: look again in a moment
                    self.sleep(self.poll_seconds / 5)
                continue
            if done and soonest is None:
                return LaneResult(self.stats, True, batches)
            if soonest is not None:  # a retry due within the in-run window: wait for it here
                self.sleep(max(self.poll_seconds, min(soonest, self.options.in_run_retry_seconds)))
                continue
            now = time.monotonic()
            idle_since = idle_since if idle_since is not None else now
            if state is None or now - idle_since >= self.idle_seconds:  # nobody is producing right now
                return LaneResult(self.stats, False, batches)
            self.sleep(self.poll_seconds)

    # -- choosing work -----------------------------------------------------------------------
    def _candidates(self, limit: int) -> list[Candidate]:
        t = schema.ledger
        now = utcnow()
        query = (
            sa.select(t.c.external_id, t.c.state, t.c.depends_on, t.c.next_attempt_at, t.c.lease_owner,
                      t.c.lease_expires_at)
            .where(t.c.state.in_(SENDABLE), t.c.kind.in_(self.kinds),
                   sa.or_(t.c.next_attempt_at.is_(None),
                          t.c.next_attempt_at <= now + timedelta(seconds=self.options.in_run_retry_seconds)))
            .order_by(stage_order(), t.c.created_at, t.c.external_id)
            .limit(limit)
        )
        if self.only is not None:
            query = query.where(t.c.external_id.in_(sorted(self.only)))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [Candidate(r.external_id, r.state, json.loads(r.depends_on) if r.depends_on else [],
                          r.next_attempt_at, r.lease_owner, r.lease_expires_at) for r in rows]

    def _dep_states(self, ids: list[str]) -> dict[str, tuple[str, datetime | None, bool]]:
        t = schema.ledger
        now = utcnow()
        horizon = now + timedelta(seconds=self.options.in_run_retry_seconds)
        out: dict[str, tuple[str, datetime | None, bool]] = {}
        with self.engine.connect() as conn:
            for r in select_in(conn, [t.c.external_id, t.c.state, t.c.next_attempt_at, t.c.lease_owner,
                                      t.c.lease_expires_at], t.c.external_id, sorted(set(ids))):
                leased = r.lease_owner is not None and r.lease_expires_at is not None and r.lease_expires_at >= now
                due = r.next_attempt_at is None or r.next_attempt_at <= horizon
                # On its way: a lane holds it, or it is due in this run (the lanes will send it).
                in_flight = r.state in (PENDING, SENT) and (leased or due)
                out[r.external_id] = (r.state, r.next_attempt_at, in_flight)
        return out

    def _next_batch(self, *, producer_done: bool) -> tuple[list[str], float | None]:
        """The next batch this lane should claim, or ``([], seconds until a retry is due)``."""
        size = self.options.batch_size
        limit = max(size * 4, 100)
        now = utcnow()
        dead = claims._owner_is_dead
        soonest: float | None = None
        ready: list[str] = []
        while True:
            candidates = self._candidates(limit)
            usable: list[Candidate] = []
            for c in candidates:
                if self.tries[c.external_id] >= self.options.max_passes or not _free(c, now, dead):
                    continue
                if c.next_attempt_at is not None and c.next_attempt_at > now:
                    wait = (c.next_attempt_at - now).total_seconds()
                    soonest = wait if soonest is None else min(soonest, wait)
                    continue
                usable.append(c)
            deps = self._dep_states([d for c in usable for d in c.depends_on])
            verdicts = [(c.external_id, classify(c, deps, producer_done=producer_done)) for c in usable]
            # What can go goes first; the waits are written once nothing else is left to send.
            ready = [e for e, v in verdicts if v == READY] or [e for e, v in verdicts if v == DECIDE]
            if ready or len(candidates) < limit:
                break
            limit *= 4  # a long head of rows that must wait: look further down the queue
            if limit > 200_000:
                break
        if not ready:
            return [], soonest
        # Lanes start at different batches of the same queue, so they seldom race for one row.
        offset = (self.lane % max(1, len(ready) // size)) * size
        return ready[offset : offset + size], soonest

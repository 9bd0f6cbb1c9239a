"""Send a group of ledger records to NetSuite in batches, recording every record's fate.

For each batch: claim the rows (lease) → resolve an unknown earlier outcome by a look-up → fill
references → mark ``sent`` (committed) → POST → write each result (committed). Throttling is
retried inside the hook; an unknown outcome is looked up before anything is sent again;
``deferred`` and transient failures come back in a later pass or run; permanent failures keep
NetSuite's code and message. A request NetSuite rejects as malformed is split to find the one
record it is about, so one bad document never fails its neighbours.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from lago_netsuite.hooks.errors import (
    CredentialsError,
    OutcomeUnknownError,
    RequestRejectedError,
    ThrottledError,
    TransientError,
)
from lago_netsuite.ledger import blockers, claims
from lago_netsuite.ledger.claims import FAILED, PENDING, SENT, SYNCED, VOIDED, WAITING, LedgerRow, Transition
from lago_netsuite.ledger.upsert import payload_hash, utcnow
from lago_netsuite.load import refs

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from lago_netsuite.hooks.netsuite import NetSuiteRestletHook, RecordResult

log = logging.getLogger(__name__)

#: Per-record failure codes worth another attempt (restlet-contract.md).
TRANSIENT_CODES = frozenset({"RCRD_HAS_BEEN_CHANGED", "SSS_REQUEST_LIMIT_EXCEEDED", "UNEXPECTED_ERROR"})


@dataclass
class LoaderOptions:
    """How a loader paces itself."""

    batch_size: int = 25
    max_attempts: int = 8
    lease_seconds: int = 600  # longer than one call with its throttling retries
    max_passes: int = 4  # passes over the group for deferred and quickly retryable records
    in_run_retry_seconds: float = 30.0  # retries due within this window happen in this task
    retry_backoff_minutes: int = 5


@dataclass
class LoadStats:
    """What one load task did; returned to Airflow (counts and ids only)."""

    created: int = 0
    existing: int = 0
    voided: int = 0
    failed: int = 0
    waiting: int = 0
    retry_later: int = 0
    deferred: int = 0
    calls: int = 0
    throttled_batches: int = 0
    unknown_outcomes: int = 0
    resolved_by_lookup: int = 0
    not_claimed: int = 0
    failed_ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class GroupLoader:
    """Loads records for one task instance; one RESTlet call at a time (the pool caps concurrency)."""

    def __init__(
        self,
        engine: Engine,
        hook: NetSuiteRestletHook,
        *,
        run_id: str | None,
        options: LoaderOptions | None = None,
        owner: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.engine = engine
        self.hook = hook
        self.run_id = run_id
        self.options = options or LoaderOptions()
        self.owner = owner or claims.new_owner()
        self.sleep = sleep
        self.stats = LoadStats()

    # -- the group -------------------------------------------------------------------------
    def load(self, external_ids: list[str]) -> LoadStats:
        """Send every sendable record among ``external_ids``; return what happened."""
        remaining = list(dict.fromkeys(external_ids))
        for pass_no in range(1, self.options.max_passes + 1):
            claimed_any = False
            for start in range(0, len(remaining), self.options.batch_size):
                batch = remaining[start : start + self.options.batch_size]
                rows = claims.claim(self.engine, batch, self.owner, lease_seconds=self.options.lease_seconds)
                if pass_no == 1:
                    self.stats.not_claimed += len(batch) - len(rows)
                if rows:
                    claimed_any = True
                    self.process_claimed(rows)
            remaining, wait = self._due_soon(external_ids)
            if not remaining or not claimed_any and wait is None:
                break
            if wait:
                self.sleep(wait)
        left = self._count_retry_later(external_ids)
        self.stats.retry_later = left
        log.info("load group done: %s", {k: v for k, v in self.stats.as_dict().items() if k != "failed_ids"})
        return self.stats

    def _due_soon(self, external_ids: list[str]) -> tuple[list[str], float | None]:
        """Records of the group that are pending again and due within the in-run window."""
        import sqlalchemy as sa

        from lago_netsuite.ledger import schema

        t = schema.ledger
        now = utcnow()
        horizon = now + timedelta(seconds=self.options.in_run_retry_seconds)
        due: list[tuple[str, Any]] = []
        with self.engine.connect() as conn:
            for start in range(0, len(external_ids), 400):
                query = sa.select(t.c.external_id, t.c.next_attempt_at).where(
                    t.c.external_id.in_(external_ids[start : start + 400]),
                    t.c.state.in_((PENDING, SENT)),
                    sa.or_(t.c.next_attempt_at.is_(None), t.c.next_attempt_at <= horizon),
                    sa.or_(t.c.lease_owner.is_(None), t.c.lease_owner == self.owner, t.c.lease_expires_at < now),
                )
                due.extend(conn.execute(query).tuples())
        if not due:
            return [], None
        latest = max((at for _, at in due if at is not None), default=None)
        wait = max(0.0, (latest - now).total_seconds()) if latest else 0.0
        order = {eid: i for i, eid in enumerate(external_ids)}
        return sorted((eid for eid, _ in due), key=order.__getitem__), wait

    def _count_retry_later(self, external_ids: list[str]) -> int:
        states = claims.netsuite_ids(self.engine, external_ids)
        return sum(1 for state, _ in states.values() if state in (PENDING, SENT))

    # -- one claimed batch -----------------------------------------------------------------
    def process_claimed(self, rows: list[LedgerRow]) -> None:
        """Send (or hold back, naming why) rows this loader has claimed; the load lanes call it too."""
        unknown = [r for r in rows if r.state == SENT]
        if unknown:
            self._resolve_unknown(unknown)
        sendable = [r for r in rows if r.state in (PENDING, WAITING)]
        if not sendable:
            return
        referenced = [ref for r in sendable for ref in refs.referenced_ids(r.payload or {})]
        known = claims.netsuite_ids(self.engine, referenced)
        ready: list[tuple[LedgerRow, dict[str, Any]]] = []
        parked: list[Transition] = []
        held: list[tuple[LedgerRow, refs.Resolution]] = []
        for row in sendable:
            if row.payload is None:
                parked.append(Transition(row.external_id, row.state, FAILED, "NO_PAYLOAD", "ledger row has no record"))
                continue
            res = refs.resolve(row.payload, known)
            if res.blocked or res.waiting_on:
                held.append((row, res))
            else:
                ready.append((row, res.body or {}))
        held_back, unchanged = self._held_back(held)
        parked += held_back
        still_waiting = [tr.external_id for tr in held_back if tr.external_id in unchanged]
        parked = [tr for tr in parked if tr.external_id not in set(still_waiting)]
        for tr in parked:
            if tr.to_state != WAITING:
                self.stats.failed += 1
                self.stats.failed_ids.append(tr.external_id)
        self.stats.waiting += len(still_waiting) + sum(1 for tr in parked if tr.to_state == WAITING)
        claims.transition(self.engine, parked, run_id=self.run_id, owner=self.owner)
        if still_waiting:  # no new event for a record that is still waiting on the same thing
            claims.release(self.engine, still_waiting, self.owner)
        if ready:
            self._send(ready)

    def _held_back(self, held: list[tuple[LedgerRow, refs.Resolution]]) -> tuple[list[Transition], set[str]]:
        """Records that cannot be sent now, each naming the record that blocks it and that record's reason.

        Also returns the records already waiting with that same message: they get no new event (see
        ``process_claimed``); when the blocker's state or reason changed, the new message is written.
        """
        if not held:
            return [], set()
        described = blockers.describe(self.engine, [ext for _, res in held
                                                    for ext in [*res.waiting_ids, *filter(None, [res.blocked_by])]])
        current = blockers.current_messages(self.engine, [row.external_id for row, _ in held if row.state == WAITING])
        out: list[Transition] = []
        for row, res in held:
            if res.blocked:
                reason = (f"{res.blocked}: depends on {described[res.blocked_by]}" if res.blocked_by in described
                          else res.blocked)
                out.append(Transition(row.external_id, row.state, FAILED, "DEPENDENCY_NEVER_SYNCED", reason))
            else:
                out.append(Transition(row.external_id, row.state, WAITING, "WAITING",
                                      blockers.waiting_message(res.waiting_ids, described)))
        unchanged = {tr.external_id for tr in out if tr.to_state == WAITING and tr.from_state == WAITING
                     and current.get(tr.external_id) == tr.message}
        return out, unchanged

    def _send(self, ready: list[tuple[LedgerRow, dict[str, Any]]], *, mark_sent: bool = True) -> None:
        ensure = getattr(self.hook, "ensure_contract", None)
        if callable(ensure):
            try:  # a RESTlet older than this loader's contract gets nothing (asked once per hook)
                ensure()
            except Exception:
                claims.release(self.engine, [row.external_id for row, _ in ready], self.owner)
                raise
        if mark_sent:  # committed before the call: a crash from here on leaves 'sent', never a loss
            claims.transition(
                self.engine,
                [
                    Transition(row.external_id, row.state, SENT,
                               values={"attempts": row.attempts + 1, "sent_hash": payload_hash(body)})
                    for row, body in ready
                ],
                run_id=self.run_id,
                owner=self.owner,
            )
            for row, _ in ready:
                row.attempts += 1
                row.state = SENT
        self.stats.calls += 1
        try:
            results = self.hook.post_records([body for _, body in ready])
        except CredentialsError:
            self._back_to_pending([r for r, _ in ready], "CREDENTIALS", "credentials refused; nothing was written")
            raise
        except ThrottledError as exc:
            self.stats.throttled_batches += 1
            self._back_to_pending([r for r, _ in ready], "THROTTLED", str(exc), delay=self._backoff(1))
            return
        except OutcomeUnknownError as exc:
            self.stats.unknown_outcomes += 1
            log.warning("outcome unknown for %d records (%s); looking them up", len(ready), exc)
            self._resolve_unknown([r for r, _ in ready])
            return
        except TransientError as exc:  # nothing reached NetSuite (connect failures)
            self._back_to_pending([r for r, _ in ready], "TRANSIENT", str(exc), delay=self._backoff(1))
            return
        except RequestRejectedError as exc:
            if len(ready) > 1:
                half = len(ready) // 2  # find the record the rejection is about
                self._send(ready[:half], mark_sent=False)
                self._send(ready[half:], mark_sent=False)
            else:
                row = ready[0][0]
                self._finish([Transition(row.external_id, SENT, FAILED, exc.code or "REQUEST_REJECTED", str(exc))])
                self.stats.failed += 1
                self.stats.failed_ids.append(row.external_id)
            return
        self._record_results(ready, results)

    def _record_results(self, ready: list[tuple[LedgerRow, dict[str, Any]]], results: list[RecordResult]) -> None:
        transitions: list[Transition] = []
        for (row, _body), res in zip(ready, results, strict=True):
            status = res.status
            if status in ("created", "existing"):
                transitions.append(Transition(row.external_id, SENT, SYNCED, status, None, res.id))
                self.stats.created += status == "created"
                self.stats.existing += status == "existing"
            elif status == "voided":
                transitions.append(Transition(row.external_id, SENT, VOIDED, status, None, res.id))
                self.stats.voided += 1
            elif status == "applied":  # a credit memo application: the memo now carries it
                transitions.append(Transition(row.external_id, SENT, SYNCED, status, None, res.id))
                self.stats.created += 1
            elif status == "deferred":
                self.stats.deferred += 1
                transitions.append(
                    Transition(row.external_id, SENT, PENDING, res.error_code or "SSS_USAGE_LIMIT_EXCEEDED",
                               res.error_message, values={"next_attempt_at": utcnow(), "attempts": row.attempts - 1})
                )
            elif status == "failed" and (res.error_code or "") in TRANSIENT_CODES:
                transitions.append(self._retry_or_fail(row, res.error_code or "", res.error_message or ""))
            else:
                message = res.error_message or f"NetSuite answered {status!r} without a message"
                transitions.append(Transition(row.external_id, SENT, FAILED, res.error_code or "FAILED", message))
                self.stats.failed += 1
                self.stats.failed_ids.append(row.external_id)
        self._finish(transitions)

    def _retry_or_fail(self, row: LedgerRow, code: str, message: str) -> Transition:
        if row.attempts >= self.options.max_attempts:
            self.stats.failed += 1
            self.stats.failed_ids.append(row.external_id)
            return Transition(row.external_id, SENT, FAILED, code, f"{message} (gave up after {row.attempts} attempts)")
        return Transition(row.external_id, SENT, PENDING, code, message,
                          values={"next_attempt_at": utcnow() + self._backoff(row.attempts)})

    def _backoff(self, attempts: int) -> timedelta:
        """Seconds for the first few attempts (retried within the task), minutes after."""
        if attempts <= 3:
            return timedelta(seconds=min(2**attempts, self.options.in_run_retry_seconds))
        minutes = self.options.retry_backoff_minutes * 2 ** (attempts - 4)
        return timedelta(minutes=min(minutes, 6 * 60))

    def _back_to_pending(self, rows: list[LedgerRow], code: str, message: str, delay: timedelta | None = None) -> None:
        when = utcnow() + delay if delay else None
        self._finish([
            Transition(r.external_id, SENT, PENDING, code, message,
                       values={"next_attempt_at": when, "attempts": max(r.attempts - 1, 0)})
            for r in rows
        ])

    def _finish(self, transitions: list[Transition]) -> None:
        claims.transition(self.engine, transitions, run_id=self.run_id, owner=self.owner)

    # -- unknown outcomes ------------------------------------------------------------------
    def _resolve_unknown(self, rows: list[LedgerRow]) -> None:
        """Look records up in NetSuite; found → synced, missing → pending; a void is just resent."""
        transitions: list[Transition] = []
        creates = [r for r in rows if r.action not in ("void", "apply")]
        for r in rows:
            # A void and an application (a state, never an increment) are idempotent: send them again.
            if r.action in ("void", "apply"):
                transitions.append(Transition(r.external_id, SENT, PENDING, "OUTCOME_UNKNOWN",
                                              f"{r.action} outcome unknown; it is sent again",
                                              values={"next_attempt_at": None}, keep_lease=True))
                r.state = PENDING
        by_type: dict[str, list[LedgerRow]] = {}
        for r in creates:
            by_type.setdefault(r.record_type, []).append(r)
        for record_type, group in by_type.items():
            try:
                found = self.hook.lookup(record_type, [r.external_id for r in group])
            except (TransientError, ThrottledError, OutcomeUnknownError) as exc:
                log.warning("look-up of %d %s records failed (%s); they stay 'sent' for a later run",
                            len(group), record_type, exc)
                claims.release(self.engine, [r.external_id for r in group], self.owner)
                for r in group:
                    r.state = "unresolved"
                continue
            for r in group:
                ns_id = found.get(r.external_id)
                if ns_id:
                    self.stats.resolved_by_lookup += 1
                    self.stats.existing += 1
                    transitions.append(Transition(r.external_id, SENT, SYNCED, "FOUND_BY_LOOKUP",
                                                  "outcome was unknown; the record is in NetSuite", ns_id))
                    r.state = SYNCED
                else:
                    # Not written: the call failed, not the record (a reset, a 5xx, a crash before
                    # the answer). Like a throttled call it is not one of the record's attempts,
                    # which count its own transient failures (max_attempts) and set its backoff —
                    # else a few lost calls would push a healthy record's retry out by minutes.
                    r.attempts = max(r.attempts - 1, 0)
                    transitions.append(Transition(r.external_id, SENT, PENDING, "NOT_FOUND_BY_LOOKUP",
                                                  "outcome was unknown; the record is not in NetSuite, sending again",
                                                  values={"next_attempt_at": None, "attempts": r.attempts},
                                                  keep_lease=True))
                    r.state = PENDING
        self._finish(transitions)


def summarize(stats: list[dict[str, Any]]) -> dict[str, int]:
    """Add up the stats of several load tasks."""
    total: Counter[str] = Counter()
    for s in stats:
        total.update({k: v for k, v in s.items() if isinstance(v, int)})
    return dict(total)

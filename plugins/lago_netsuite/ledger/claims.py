"""Leases and state transitions on ledger rows.

A loader claims rows with one conditional UPDATE — only rows in a sendable state whose lease is
free, expired, or held by a dead process on this host — then reads back what it got. On
PostgreSQL the row locks taken by that UPDATE make two racing loaders split the rows between them
(the second re-checks the WHERE clause after the first commits); on SQLite writes are serialised.
Every transition is guarded by the lease owner, written with its event in one transaction, and
committed before and after each RESTlet call, so a crash at any point leaves a row either
untouched, ``sent`` (resolved by a look-up before anything is sent again) or final.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from lago_netsuite.ledger import schema
from lago_netsuite.ledger.upsert import CHUNK, select_in, utcnow

log = logging.getLogger(__name__)

PENDING, SENT, SYNCED, WAITING = "pending", "sent", "synced", "waiting"
FAILED, QUARANTINED, VOIDED, SKIPPED = "failed", "quarantined", "voided", "skipped"
STATES = (PENDING, SENT, SYNCED, WAITING, FAILED, QUARANTINED, VOIDED, SKIPPED)
SENDABLE = (PENDING, SENT, WAITING)

_HOST = socket.gethostname()


def new_owner() -> str:
    """A lease owner id: host and pid (to recognise a dead holder on this host) plus a nonce."""
    return f"{_HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _owner_is_dead(owner: str) -> bool:
    """True when ``owner`` was a process of this host that no longer exists."""
    host, _, rest = owner.partition(":")
    pid_text = rest.split(":", 1)[0]
    if host != _HOST or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass
class LedgerRow:
    """A claimed ledger row, as the loader needs it."""

    external_id: str
    kind: str
    record_type: str
    lago_id: str
    number: str | None
    state: str
    action: str
    payload: dict[str, Any] | None
    depends_on: list[str]
    attempts: int
    netsuite_id: str | None

    @classmethod
    def from_db(cls, row: Any) -> LedgerRow:
        return cls(
            external_id=row.external_id,
            kind=row.kind,
            record_type=row.record_type,
            lago_id=row.lago_id,
            number=row.number,
            state=row.state,
            action=row.action,
            payload=json.loads(row.payload) if row.payload else None,
            depends_on=json.loads(row.depends_on) if row.depends_on else [],
            attempts=row.attempts,
            netsuite_id=row.netsuite_id,
        )


@dataclass
class Transition:
    """One state change of one row, with what NetSuite said about it."""

    external_id: str
    from_state: str | None
    to_state: str
    code: str | None = None
    message: str | None = None
    netsuite_id: str | None = None
    values: dict[str, Any] = field(default_factory=dict)  # other columns to set
    keep_lease: bool = False  # the loader goes on with this row in the same task


def claim(
    engine: Engine,
    external_ids: list[str],
    owner: str,
    *,
    lease_seconds: int,
    respect_backoff: bool = True,
    now: datetime | None = None,
) -> list[LedgerRow]:
    """Lease the sendable rows among ``external_ids`` to ``owner``; return the rows obtained."""
    if not external_ids:
        return []
    t = schema.ledger
    now = now or utcnow()
    claimed: list[LedgerRow] = []
    for start in range(0, len(external_ids), CHUNK):
        ids = external_ids[start : start + CHUNK]
        with engine.begin() as conn:
            holders = conn.execute(
                sa.select(t.c.lease_owner).distinct().where(
                    t.c.external_id.in_(ids), t.c.lease_owner.is_not(None), t.c.lease_expires_at >= now
                )
            ).scalars().all()
            dead = [h for h in holders if _owner_is_dead(h)]
            lease_free = sa.or_(
                t.c.lease_owner.is_(None),
                t.c.lease_owner == owner,
                t.c.lease_expires_at < now,
                t.c.lease_owner.in_(dead),
            )
            conditions = [t.c.external_id.in_(ids), t.c.state.in_(SENDABLE), lease_free]
            if respect_backoff:
                conditions.append(sa.or_(t.c.next_attempt_at.is_(None), t.c.next_attempt_at <= now))
            conn.execute(
                t.update()
                .where(*conditions)
                .values(lease_owner=owner, lease_expires_at=now + timedelta(seconds=lease_seconds))
            )
            rows = conn.execute(sa.select(t).where(t.c.external_id.in_(ids), t.c.lease_owner == owner)).all()
        order = {eid: i for i, eid in enumerate(ids)}
        claimed.extend(sorted((LedgerRow.from_db(r) for r in rows), key=lambda r: order[r.external_id]))
    return claimed


@functools.lru_cache(maxsize=128)
def _guarded_update(columns: tuple[str, ...], *, owned: bool) -> sa.Update:
    """The UPDATE of one row's ``columns`` under the lease guard, with bound parameters only.

    Built once per column set and reused, so SQLAlchemy's compiled-statement cache answers at
    once; an UPDATE with literal values costs more than a millisecond of CPU per row to build and
    key, which made the ledger the bottleneck of a fast loader.
    """
    t = schema.ledger
    guard = (t.c.lease_owner == sa.bindparam("w_owner") if owned
             else sa.or_(t.c.lease_owner.is_(None), t.c.lease_expires_at < sa.bindparam("w_now", type_=sa.DateTime)))
    return (
        t.update()
        .where(t.c.external_id == sa.bindparam("w_external_id"), guard)
        .values({name: sa.bindparam(f"v_{name}", type_=t.c[name].type) for name in columns})
    )


def _update_locked(
    conn: Connection, planned: list[tuple[Transition, tuple[str, ...], dict[str, Any]]], *, owner: str | None,
    now: datetime,
) -> set[str]:
    """PostgreSQL: lock the rows the lease guard lets this caller change, then update them in bulk.

    One statement per column set (an executemany, pipelined by psycopg) instead of a round trip per
    row. The ``FOR UPDATE`` locks (taken in key order) keep every guarded row as it was until the
    transaction ends, so each locked row is updated exactly once; the guard stays in the UPDATE too.
    """
    t = schema.ledger
    guard = t.c.lease_owner == owner if owner is not None else sa.or_(
        t.c.lease_owner.is_(None), t.c.lease_expires_at < now)
    ids = sorted(tr.external_id for tr, _, _ in planned)
    eligible: set[str] = set()
    for start in range(0, len(ids), CHUNK):
        query = (sa.select(t.c.external_id).where(t.c.external_id.in_(ids[start : start + CHUNK]), guard)
                 .order_by(t.c.external_id).with_for_update())
        eligible.update(conn.execute(query).scalars())
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for tr, columns, params in planned:
        if tr.external_id in eligible:
            by_columns.setdefault(columns, []).append(params)
    for columns, rows in by_columns.items():
        result = conn.execute(_guarded_update(columns, owned=owner is not None), rows)
        if result.rowcount != len(rows):
            raise RuntimeError(f"ledger: {len(rows)} locked rows but {result.rowcount} updated; nothing is written")
    return eligible


def apply_transitions(
    conn: Connection, transitions: list[Transition], *, run_id: str | None, owner: str | None
) -> int:
    """Write transitions and their events in the caller's transaction; return rows updated.

    With ``owner`` set, a row is only changed while that owner still holds its lease, and the
    lease is released unless the row goes to ``sent``. Without an owner (the transform step), a row
    that a loader is holding right now is left alone: it is reconsidered by the next run.
    """
    if not transitions:
        return 0
    now = utcnow()
    planned: list[tuple[Transition, tuple[str, ...], dict[str, Any]]] = []
    for tr in transitions:
        values: dict[str, Any] = {"state": tr.to_state, "updated_at": now, "last_run_id": run_id, **tr.values}
        if tr.code is not None or tr.to_state in (FAILED, QUARANTINED, WAITING):
            values.setdefault("last_error_code", tr.code)
            values.setdefault("last_error_message", tr.message)
        if tr.netsuite_id is not None:
            values["netsuite_id"] = tr.netsuite_id
        if tr.to_state in (SYNCED, VOIDED):
            values.setdefault("synced_at", now)
            values.setdefault("last_error_code", None)
            values.setdefault("last_error_message", None)
        if owner is not None and tr.to_state != SENT and not tr.keep_lease:
            values["lease_owner"] = None
            values["lease_expires_at"] = None
        params = {f"v_{name}": value for name, value in values.items()}
        params.update(w_external_id=tr.external_id, w_owner=owner, w_now=now)
        planned.append((tr, tuple(sorted(values)), params))
    ids = [tr.external_id for tr, _, _ in planned]
    if conn.dialect.name == "postgresql" and len(ids) > 1 and len(set(ids)) == len(ids):
        changed = _update_locked(conn, planned, owner=owner, now=now)
    else:
        changed = set()
        for tr, columns, params in planned:
            if conn.execute(_guarded_update(columns, owned=owner is not None), params).rowcount:
                changed.add(tr.external_id)
    written: list[Transition] = []
    for tr, _, _ in planned:
        if tr.external_id not in changed:
            log.warning("ledger: %s was not updated to %s (leased elsewhere or missing)", tr.external_id, tr.to_state)
            continue
        written.append(tr)
    updated = len(written)
    if written:
        conn.execute(
            schema.event.insert(),
            [
                {
                    "event_id": str(uuid.uuid4()),
                    "external_id": tr.external_id,
                    "at": now,
                    "run_id": run_id,
                    "from_state": tr.from_state,
                    "to_state": tr.to_state,
                    "code": tr.code,
                    "message": tr.message,
                    "netsuite_id": tr.netsuite_id,
                }
                for tr in written
            ],
        )
    return updated


def transition(
    engine: Engine, transitions: list[Transition], *, run_id: str | None, owner: str | None
) -> int:
    """:func:`apply_transitions` in its own committed transaction."""
    if not transitions:
        return 0
    with engine.begin() as conn:
        return apply_transitions(conn, transitions, run_id=run_id, owner=owner)


def release(engine: Engine, external_ids: list[str], owner: str) -> None:
    """Give back leases without changing state (e.g. a record left for a later pass)."""
    t = schema.ledger
    with engine.begin() as conn:
        for start in range(0, len(external_ids), CHUNK):
            conn.execute(
                t.update()
                .where(t.c.external_id.in_(external_ids[start : start + CHUNK]), t.c.lease_owner == owner)
                .values(lease_owner=None, lease_expires_at=None)
            )


def netsuite_ids(engine: Engine, external_ids: list[str]) -> dict[str, tuple[str, str | None]]:
    """``{external_id: (state, netsuite_id)}`` for the ledger rows among ``external_ids``."""
    t = schema.ledger
    with engine.connect() as conn:
        rows = select_in(conn, [t.c.external_id, t.c.state, t.c.netsuite_id], t.c.external_id, external_ids)
        return {r.external_id: (r.state, r.netsuite_id) for r in rows}

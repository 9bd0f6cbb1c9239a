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
from lago_netsuite.ledger.upsert import CHUNK, utcnow

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
    t = schema.ledger
    now = utcnow()
    updated = 0
    written: list[Transition] = []
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
        stmt = t.update().where(t.c.external_id == tr.external_id)
        if owner is not None:
            stmt = stmt.where(t.c.lease_owner == owner)
        else:
            stmt = stmt.where(sa.or_(t.c.lease_owner.is_(None), t.c.lease_expires_at < now))
        result = conn.execute(stmt.values(**values))
        if result.rowcount == 0:
            log.warning("ledger: %s was not updated to %s (leased elsewhere or missing)", tr.external_id, tr.to_state)
            continue
        updated += 1
        written.append(tr)
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
    out: dict[str, tuple[str, str | None]] = {}
    ids = list(dict.fromkeys(external_ids))
    with engine.connect() as conn:
        for start in range(0, len(ids), CHUNK):
            query = sa.select(t.c.external_id, t.c.state, t.c.netsuite_id).where(
                t.c.external_id.in_(ids[start : start + CHUNK])
            )
            out.update({r.external_id: (r.state, r.netsuite_id) for r in conn.execute(query)})
    return out

"""Ledger rows from transform output: what to send, what is held back, what changed after sync.

The rules, per existing state of a record (see docs/ledger.md):

- none → ``pending`` (a record), ``quarantined`` (failed validation) or ``skipped`` (not for NetSuite);
- ``pending``/``waiting``/``quarantined``/``skipped`` → rebuilt from the latest document;
- ``failed`` → ``pending`` again only if the record changed or a retry of failed documents was asked;
- ``sent`` → untouched: its outcome is resolved by a look-up before anything else happens;
- ``synced`` → a void in Lago becomes a pending ``void`` action; any other change to the record is
  flagged (``changed_after_sync``) and never sent as a second record;
- ``voided`` → final.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from lago_netsuite.ledger import schema
from lago_netsuite.ledger.billing_entities import refresh_rows
from lago_netsuite.ledger.claims import (
    FAILED,
    PENDING,
    QUARANTINED,
    SENT,
    SKIPPED,
    SYNCED,
    VOIDED,
    WAITING,
    Transition,
    apply_transitions,
)
from lago_netsuite.ledger.store import canonical_json, lookup_text
from lago_netsuite.ledger.upsert import CHUNK, payload_hash, select_in, utcnow

REBUILDABLE = (PENDING, WAITING, QUARANTINED, SKIPPED)


@dataclass
class Outcome:
    """One document's transform outcome, ready for the ledger."""

    external_id: str
    kind: str
    record_type: str
    lago_id: str
    number: str | None
    source_hash: str | None
    state: str  # PENDING (a record to send), QUARANTINED or SKIPPED
    action: str = "create"
    body: dict[str, Any] | None = None
    depends_on: list[str] = field(default_factory=list)
    currency: str | None = None
    total_minor: int | None = None
    reason: str | None = None
    code: str | None = None


@dataclass
class ApplyCounts:
    """What :func:`apply_outcomes` did."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    skipped: int = 0
    voids: int = 0
    changed_after_sync: int = 0
    held_sent: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def _existing(conn: sa.Connection, external_ids: list[str]) -> dict[str, Any]:
    t = schema.ledger
    out: dict[str, Any] = {}
    for start in range(0, len(external_ids), CHUNK):
        query = sa.select(t).where(t.c.external_id.in_(external_ids[start : start + CHUNK]))
        out.update({r.external_id: r for r in conn.execute(query)})
    return out


def apply_outcomes(
    engine: Engine,
    outcomes: Iterable[Outcome],
    *,
    mapping_hash: str,
    run_id: str | None,
    retry_failed: bool = False,
) -> ApplyCounts:
    """Write transform outcomes into the ledger following the rules in the module docstring."""
    t = schema.ledger
    # A number or reason made from what Lago sent must fit its column (see ``store.lookup_text``).
    outcomes = [replace(o, number=lookup_text(o.number, t.c.number),
                        reason=lookup_text(o.reason, t.c.last_error_message))
                for o in {o.external_id: o for o in outcomes}.values()]
    counts = ApplyCounts()
    if not outcomes:
        return counts
    now = utcnow()
    with engine.begin() as conn:
        existing = _existing(conn, [o.external_id for o in outcomes])
        inserts: list[dict[str, Any]] = []
        transitions: list[Transition] = []
        for o in outcomes:
            body_json = canonical_json(o.body) if o.body is not None else None
            body_hash = payload_hash(o.body) if o.body is not None else None
            columns = {
                "kind": o.kind, "record_type": o.record_type, "lago_id": o.lago_id, "number": o.number,
                "currency": o.currency, "total_minor": o.total_minor, "action": o.action,
                "payload": body_json, "payload_hash": body_hash,
                "depends_on": json.dumps(o.depends_on) if o.depends_on else None,
                "source_hash": o.source_hash, "mapping_hash": mapping_hash,
            }
            row = existing.get(o.external_id)
            if row is None:
                inserts.append(
                    {**columns, "external_id": o.external_id, "state": o.state, "attempts": 0,
                     "changed_after_sync": 0, "created_at": now, "updated_at": now, "last_run_id": run_id,
                     "last_error_code": o.code, "last_error_message": o.reason}
                )
                transitions.append(Transition(o.external_id, None, o.state, o.code, o.reason))
                counts.new += 1
                counts.quarantined += o.state == QUARANTINED
                counts.skipped += o.state == SKIPPED
                continue
            tr = _transition_for(row, o, columns, body_hash, retry_failed, counts)
            if tr is not None:
                transitions.append(tr)
            else:
                conn.execute(
                    t.update().where(t.c.external_id == o.external_id)
                    .values(source_hash=o.source_hash, mapping_hash=mapping_hash)
                )
        if inserts:
            conn.execute(t.insert(), inserts)
        new_ids = {i["external_id"] for i in inserts}
        apply_transitions(conn, [tr for tr in transitions if tr.external_id not in new_ids], run_id=run_id, owner=None)
        if new_ids:  # events of the inserts (their rows are already in the state)
            conn.execute(
                schema.event.insert(),
                [
                    {"event_id": _uuid(), "external_id": tr.external_id, "at": now, "run_id": run_id,
                     "from_state": None, "to_state": tr.to_state, "code": tr.code, "message": tr.message,
                     "netsuite_id": None}
                    for tr in transitions if tr.external_id in new_ids
                ],
            )
        refresh_rows(conn, [o.external_id for o in outcomes])
    return counts


def _uuid() -> str:
    import uuid

    return str(uuid.uuid4())


def _transition_for(
    row: Any, o: Outcome, columns: dict[str, Any], body_hash: str | None, retry_failed: bool, counts: ApplyCounts
) -> Transition | None:
    """The transition an outcome causes on an existing row, or None (only the hashes move)."""
    state = row.state
    if state == SENT:
        counts.held_sent += 1
        return None
    if state in (SYNCED, VOIDED):
        if state == SYNCED and o.action == "void":
            counts.voids += 1
            return Transition(
                o.external_id, state, PENDING, "VOID_REQUESTED", "voided in Lago; the NetSuite record will be voided",
                values={**columns, "attempts": 0, "next_attempt_at": None},
            )
        if o.state == PENDING and body_hash != row.payload_hash and not row.changed_after_sync and o.action == "create":
            counts.changed_after_sync += 1
            return Transition(
                o.external_id, state, state, "CHANGED_AFTER_SYNC",
                "the Lago document changed after it was synced; it is not sent again (review it in NetSuite)",
                values={"changed_after_sync": 1, "source_hash": o.source_hash, "mapping_hash": columns["mapping_hash"]},
            )
        counts.unchanged += 1
        return None
    if state == FAILED and not retry_failed and body_hash == row.payload_hash and o.state == PENDING:
        counts.unchanged += 1
        return None
    if state in (*REBUILDABLE, FAILED):
        same = body_hash == row.payload_hash and o.state == state and (o.reason or None) == row.last_error_message
        if same:
            counts.unchanged += 1
            return None
        counts.updated += 1
        counts.quarantined += o.state == QUARANTINED
        counts.skipped += o.state == SKIPPED
        values = {**columns}
        if body_hash != row.payload_hash or state == FAILED:
            values.update(attempts=0, next_attempt_at=None)
        return Transition(o.external_id, state, o.state, o.code, o.reason, values=values)
    raise ValueError(f"ledger row {o.external_id} is in unknown state {state!r}")


def states(engine: Engine, external_ids: Iterable[str]) -> dict[str, str]:
    """``{external_id: state}`` for the given rows."""
    t = schema.ledger
    with engine.connect() as conn:
        return dict(select_in(conn, [t.c.external_id, t.c.state], t.c.external_id, external_ids))


def state_counts(engine: Engine) -> dict[str, dict[str, int]]:
    """``{kind: {state: count}}`` over the whole ledger."""
    t = schema.ledger
    out: dict[str, dict[str, int]] = {}
    with engine.connect() as conn:
        for kind, state, count in conn.execute(
            sa.select(t.c.kind, t.c.state, sa.func.count()).group_by(t.c.kind, t.c.state)
        ):
            out.setdefault(kind, {})[state] = count
    return out


def rows_by(engine: Engine, *, lago_id: str | None = None, number: str | None = None) -> list[Mapping[str, Any]]:
    """Ledger rows of a document found by Lago id or number (for the retry DAG and support)."""
    t = schema.ledger
    cond = t.c.lago_id == lago_id if lago_id else t.c.number == number
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(t).where(cond))]

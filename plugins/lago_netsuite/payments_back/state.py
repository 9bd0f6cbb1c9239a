"""The payments-back ledger (``include/sql/migrations/0011_payments_back.sql``).

One row per NetSuite application of a payment to an invoice that carries a Lago id, keyed by the
reference the Lago payment carries (:func:`reference_for`). States mirror the forward ledger:

- ``pending``: to send (``next_attempt_at`` set after a transient failure);
- ``sent``: a POST whose outcome is unknown — looked up in Lago by its reference before anything else;
- ``synced``: in Lago as ``lago_payment_id``; a later void or amount change in NetSuite only flags it;
- ``failed``: Lago refused it, or transient failures ran out of attempts (``last_error_*`` say why);
- ``skipped``: nothing to send (voided in NetSuite before it reached Lago).

Every transition is appended to ``payment_back_event``.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import sqlalchemy as sa

from lago_netsuite.ledger.schema import metadata
from lago_netsuite.ledger.upsert import utcnow

PENDING, SENT, SYNCED, FAILED, SKIPPED = "pending", "sent", "synced", "failed", "skipped"
WATERMARK_STREAM = "netsuite_payments"
_PREFIX = {"customerpayment": "pay", "creditmemo": "cm"}
REFERENCE_RE = re.compile(r"^ns-(pay|cm)-([0-9A-Za-z]+)-inv-([0-9A-Za-z]+)$")

table = sa.Table(
    "payment_back",
    metadata,
    sa.Column("reference", sa.String(64), primary_key=True),
    sa.Column("netsuite_type", sa.String(32), nullable=False),
    sa.Column("netsuite_payment_id", sa.String(64), nullable=False),
    sa.Column("netsuite_tranid", sa.String(255)),
    sa.Column("netsuite_invoice_id", sa.String(64), nullable=False),
    sa.Column("invoice_external_id", sa.String(300), nullable=False),
    sa.Column("invoice_lago_id", sa.String(64), nullable=False),
    sa.Column("amount", sa.String(40), nullable=False),
    sa.Column("currency", sa.String(3)),
    sa.Column("amount_minor", sa.BigInteger),
    sa.Column("paid_at", sa.String(10)),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", sa.DateTime),
    sa.Column("lago_payment_id", sa.String(64)),
    sa.Column("last_error_code", sa.String(64)),
    sa.Column("last_error_message", sa.Text),
    sa.Column("voided_in_netsuite", sa.Integer, nullable=False),
    sa.Column("changed_in_netsuite", sa.Integer, nullable=False),
    sa.Column("netsuite_last_modified", sa.String(40)),
    sa.Column("last_run_id", sa.String(250)),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("synced_at", sa.DateTime),
)

event = sa.Table(
    "payment_back_event",
    metadata,
    sa.Column("event_id", sa.String(36), primary_key=True),
    sa.Column("reference", sa.String(64), nullable=False),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("run_id", sa.String(250)),
    sa.Column("from_state", sa.String(16)),
    sa.Column("to_state", sa.String(16), nullable=False),
    sa.Column("code", sa.String(64)),
    sa.Column("message", sa.Text),
    sa.Column("lago_payment_id", sa.String(64)),
)


def reference_for(netsuite_type: str, payment_id: str, invoice_id: str) -> str:
    """The stable Lago payment reference of one application: ``ns-pay-7001-inv-9812`` (at most 40 chars)."""
    ref = f"ns-{_PREFIX[netsuite_type]}-{payment_id}-inv-{invoice_id}"
    if len(ref) > 40 or not REFERENCE_RE.match(ref):
        raise ValueError(f"NetSuite ids {payment_id!r}/{invoice_id!r} make no Lago reference of at most 40 chars")
    return ref


def parse_reference(reference: Any) -> tuple[str, str, str] | None:
    """``(netsuite_type, payment id, invoice id)`` of a reference this project wrote, else None."""
    match = REFERENCE_RE.match(reference) if isinstance(reference, str) else None
    if match is None:
        return None
    kind = {"pay": "customerpayment", "cm": "creditmemo"}[match.group(1)]
    return kind, match.group(2), match.group(3)


def rows(conn: sa.Connection, references: list[str]) -> dict[str, Any]:
    """Existing rows by reference."""
    out: dict[str, Any] = {}
    for start in range(0, len(references), 500):
        chunk = references[start:start + 500]
        out.update({r.reference: r for r in conn.execute(sa.select(table).where(table.c.reference.in_(chunk)))})
    return out


def insert(conn: sa.Connection, values: dict[str, Any], *, run_id: str | None, code: str | None = None,
           message: str | None = None) -> None:
    """A new row and its first event."""
    now = utcnow()
    conn.execute(table.insert().values({
        "attempts": 0, "voided_in_netsuite": 0, "changed_in_netsuite": 0, "created_at": now, "updated_at": now,
        "last_run_id": run_id, "last_error_code": code, "last_error_message": message, **values}))
    _event(conn, values["reference"], None, values["state"], run_id, code, message, None, now)


def update(conn: sa.Connection, row: Any, *, run_id: str | None, code: str | None = None,
           message: str | None = None, event: bool = True, from_state: str | None = None, **values: Any) -> None:
    """Change a row; a state change (or ``event=True`` with a code) is logged with Lago's answer."""
    now = utcnow()
    changes = {"updated_at": now, "last_run_id": run_id, **values}
    if code is not None or message is not None:
        changes.update(last_error_code=code, last_error_message=message)
    if values.get("state") == SYNCED:
        changes["synced_at"] = now
    conn.execute(table.update().where(table.c.reference == row.reference).values(**changes))
    if event:
        before = from_state or row.state
        _event(conn, row.reference, before, values.get("state", before), run_id, code, message,
               values.get("lago_payment_id", row.lago_payment_id), now)


def _event(conn: sa.Connection, reference: str, from_state: str | None, to_state: str, run_id: str | None,
           code: str | None, message: str | None, lago_payment_id: str | None, at: Any) -> None:
    conn.execute(event.insert().values(
        event_id=str(uuid.uuid4()), reference=reference, at=at, run_id=run_id, from_state=from_state,
        to_state=to_state, code=code, message=message, lago_payment_id=lago_payment_id))


def due(conn: sa.Connection, now: Any) -> list[Any]:
    """Rows to work on now: pending or sent, whose wait (if any) is over."""
    query = (sa.select(table).where(table.c.state.in_((PENDING, SENT)))
             .where(sa.or_(table.c.next_attempt_at.is_(None), table.c.next_attempt_at <= now))
             .order_by(table.c.netsuite_last_modified, table.c.reference))
    return list(conn.execute(query))


def run_events(conn: sa.Connection, run_id: str) -> list[Any]:
    """This run's events, oldest first."""
    return list(conn.execute(sa.select(event).where(event.c.run_id == run_id).order_by(event.c.at)))

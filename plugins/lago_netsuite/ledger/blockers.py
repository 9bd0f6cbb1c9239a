"""What holds a waiting record back, said plainly: the blocking record and its own reason.

A record waits while a record it references (its customer, the invoice it applies to) is not in
NetSuite yet. The ledger row and the run report then read, for example, ``waiting on customer
cust-00007 (lago-customer-…), quarantined: customer cust-00007: billing entity 'acme_mx' has no
NetSuite subsidiary mapping`` — so the accountant fixes the customer, not the invoice. Fixing the
blocker releases its dependents: every run retries waiting records.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.engine import Engine

from lago_netsuite.ledger import schema
from lago_netsuite.ledger.claims import FAILED, QUARANTINED, SKIPPED, VOIDED
from lago_netsuite.ledger.upsert import select_in

REASON_CHARS = 300  # of the blocker's own reason, in the dependent's message
_LABELS = {"creditnote": "credit note", "salesorder": "sales order"}
_STUCK = {QUARANTINED: "quarantined", FAILED: "failed", SKIPPED: "skipped", VOIDED: "voided"}


def describe(engine: Engine, external_ids: Iterable[str]) -> dict[str, str]:
    """``{external_id: "customer cust-00007 (lago-customer-…), quarantined: <its reason>"}``.

    A record the ledger does not hold is described as not extracted from Lago yet.
    """
    ids = sorted(set(external_ids))
    t = schema.ledger
    with engine.connect() as conn:
        rows = {r.external_id: r for r in select_in(
            conn, [t.c.external_id, t.c.kind, t.c.number, t.c.lago_id, t.c.state, t.c.last_error_message],
            t.c.external_id, ids)}
    out: dict[str, str] = {}
    for ext in ids:
        row = rows.get(ext)
        if row is None:
            out[ext] = f"{ext}, not extracted from Lago yet"
            continue
        what = f"{_LABELS.get(row.kind, row.kind)} {row.number or row.lago_id} ({ext})"
        if row.state in _STUCK:
            reason = (row.last_error_message or "no reason recorded").strip()
            if len(reason) > REASON_CHARS:
                reason = reason[: REASON_CHARS - 1] + "…"
            out[ext] = f"{what}, {_STUCK[row.state]}: {reason}"
        else:
            out[ext] = f"{what}, not in NetSuite yet ({row.state})"
    return out


def waiting_message(waiting_on: list[str], described: dict[str, str]) -> str:
    """The ledger message of a record waiting on ``waiting_on`` (external ids)."""
    return "waiting on " + "; ".join(described.get(ext, ext) for ext in dict.fromkeys(waiting_on))


def current_messages(engine: Engine, external_ids: list[str]) -> dict[str, str | None]:
    """``{external_id: last_error_message}`` of ledger rows (to tell whether a waiting message changed)."""
    t = schema.ledger
    with engine.connect() as conn:
        return {r.external_id: r.last_error_message for r in select_in(
            conn, [t.c.external_id, t.c.last_error_message], t.c.external_id, external_ids)}

"""Split the sendable ledger rows into the groups a run's mapped load tasks carry.

Stage 1 holds customers, stage 2 invoices and sales orders, stage 3 what depends on them (credit
memos, payments, voids), stage 4 what needs a credit memo in NetSuite (its applications to later
invoices, customer refunds), so NetSuite sees a customer before its first document and an invoice
before its payment and its credit memo. Each group is a few hundred records — several RESTlet
batches — because a task instance costs seconds of scheduling; the number of groups of a stage is
a multiple of the pool's slots, so no wave of load tasks runs half empty, and stays under
Airflow's ``max_map_length``. Groups are written to the store and only their labels travel in XCom.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from lago_netsuite.ledger import schema
from lago_netsuite.ledger.claims import SENDABLE
from lago_netsuite.ledger.upsert import utcnow

STAGES = {1: "customers", 2: "invoices", 3: "credit notes, payments and voids",
          4: "credit memo applications and customer refunds"}
#: Records that need a credit memo (and an invoice) already in NetSuite: they load last.
STAGE_4_KINDS = frozenset({"creditapply", "refund"})
MAX_GROUPS_PER_STAGE = 250  # four stages stay under [core] max_map_length (1024)
_KIND_WORDS = {"customer": "customers", "invoice": "invoices", "salesorder": "sales orders",
               "creditnote": "credit notes", "payment": "payments", "creditapply": "credit applications",
               "refund": "refunds"}


def stage_of(kind: str, action: str) -> int:
    """The stage a record loads in."""
    if kind == "customer":
        return 1
    if kind in STAGE_4_KINDS:
        return 4
    if kind in ("invoice", "salesorder") and action != "void":
        return 2
    return 3


@dataclass(frozen=True)
class GroupRef:
    """What a mapped load task receives: where its records are, and a name for the Grid view."""

    run_id: str
    stage: int
    group_no: int
    label: str

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "stage": self.stage, "group_no": self.group_no, "label": self.label}


def _name(row: Any) -> str:
    """How a record is named in a task label: its number (a payment: its reference), else its customer
    and date (a payment from a provider has no reference), never a bare Lago UUID when avoidable."""
    if row.number:
        return str(row.number)
    customer, day = getattr(row, "customer", None), getattr(row, "day", None)
    if customer:
        return f"{customer} {day or ''}".strip()
    return str(row.lago_id)[:8]


def _label(rows: list[Any]) -> str:
    kinds: dict[str, int] = {}
    for r in rows:
        word = "voids" if r.action == "void" else _KIND_WORDS.get(r.kind, r.kind)
        kinds[word] = kinds.get(word, 0) + 1
    names = [_name(r) for r in rows]
    what = ", ".join(f"{n} {w}" for w, n in kinds.items())
    span = names[0] if len(names) == 1 else f"{names[0]} … {names[-1]}"
    return f"{what}: {span}"[:250]


def group_count(records: int, per_group: int, *, lanes: int = 1, batch_size: int = 1) -> int:
    """How many load groups a stage of ``records`` is split into.

    Load tasks run in waves of ``lanes`` (the pool's slots), and a stage ends with its slowest
    wave: 11 groups on 5 slots take three waves, the last one running a single task while the
    account could take five. So the count is the multiple of ``lanes`` nearest to
    ``records / per_group``; a stage smaller than one wave is spread over up to ``lanes`` groups
    of at least one RESTlet batch each. Never more than ``MAX_GROUPS_PER_STAGE``.
    """
    if records <= 0:
        return 0
    lanes = max(1, lanes)
    wanted = -(-records // max(1, per_group))
    if wanted <= lanes:
        count = min(lanes, -(-records // max(1, batch_size)))
    else:
        count = lanes * math.floor(wanted / lanes + 0.5)
    if count > MAX_GROUPS_PER_STAGE:
        count = MAX_GROUPS_PER_STAGE // lanes * lanes or MAX_GROUPS_PER_STAGE
    return max(1, count)


def plan_groups(
    engine: Engine,
    run_id: str,
    *,
    kinds: tuple[str, ...],
    per_group: int,
    only: list[str] | None = None,
    now: datetime | None = None,
    lanes: int = 1,
    batch_size: int = 1,
) -> dict[int, list[GroupRef]]:
    """Write this run's load groups and return them by stage.

    Args:
        kinds: document kinds in scope (``customer``, ``invoice``, ``creditnote``, ``payment``);
            ``invoice`` covers sales orders.
        per_group: records per group, roughly (see :func:`group_count`).
        only: restrict to these externalIds (the single-document retry).
        lanes: load tasks that run at once (the ``netsuite_restlet`` pool's slots).
        batch_size: records per RESTlet call.
    """
    t = schema.ledger
    now = now or utcnow()
    scope = set(kinds) | ({"salesorder"} if "invoice" in kinds else set())
    if "invoice" in kinds or "creditnote" in kinds:
        scope |= STAGE_4_KINDS
    d = schema.document
    query = (
        sa.select(t.c.external_id, t.c.kind, t.c.action, t.c.number, t.c.lago_id,
                  d.c.customer_external_id.label("customer"), d.c.issuing_date.label("day"))
        .select_from(t.outerjoin(d, sa.and_(d.c.kind == t.c.kind, d.c.lago_id == t.c.lago_id)))
        .where(t.c.state.in_(SENDABLE), t.c.kind.in_(scope),
               sa.or_(t.c.next_attempt_at.is_(None), t.c.next_attempt_at <= now))
        .order_by(t.c.kind, t.c.number, t.c.external_id)
    )
    with engine.connect() as conn:
        rows = list(conn.execute(query))
    if only is not None:
        wanted = set(only)
        rows = [r for r in rows if r.external_id in wanted]
    by_stage: dict[int, list[Any]] = {1: [], 2: [], 3: [], 4: []}
    for r in rows:
        by_stage[stage_of(r.kind, r.action)].append(r)
    plan: dict[int, list[GroupRef]] = {1: [], 2: [], 3: [], 4: []}
    inserts: list[dict[str, Any]] = []
    for stage, stage_rows in by_stage.items():
        count = group_count(len(stage_rows), per_group, lanes=lanes, batch_size=batch_size)
        for group_no in range(count):  # contiguous chunks whose sizes differ by one at most
            chunk = stage_rows[group_no * len(stage_rows) // count : (group_no + 1) * len(stage_rows) // count]
            ref = GroupRef(run_id, stage, group_no, _label(chunk))
            plan[stage].append(ref)
            inserts.append({**ref.as_dict(), "external_ids": json.dumps([r.external_id for r in chunk]),
                            "created_at": now})
    with engine.begin() as conn:
        conn.execute(schema.load_group.delete().where(schema.load_group.c.run_id == run_id))
        if inserts:
            conn.execute(schema.load_group.insert(), inserts)
    return plan


def group_ids(engine: Engine, ref: dict[str, Any]) -> list[str]:
    """The externalIds of one group written by :func:`plan_groups`."""
    t = schema.load_group
    with engine.connect() as conn:
        raw = conn.execute(
            sa.select(t.c.external_ids).where(
                t.c.run_id == ref["run_id"], t.c.stage == ref["stage"], t.c.group_no == ref["group_no"]
            )
        ).scalar_one()
    return json.loads(raw)

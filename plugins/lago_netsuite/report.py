"""The run report: per-kind outcomes of one run and every document that failed or was held back.

Built from the ledger and its event log (not from XCom), so it is the same whether read by the
report task, the demo, or an accountant querying the store afterwards. It carries ids, numbers,
codes and NetSuite's messages — never payloads or credentials.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from lago_netsuite.ledger import schema
from lago_netsuite.ledger.claims import FAILED, PENDING, QUARANTINED, SENT, SKIPPED, SYNCED, VOIDED, WAITING
from lago_netsuite.ledger.records import state_counts

OUTCOMES = ("synced", "already_there", "voided", "waiting", "retry_later", "failed", "quarantined", "skipped")
MAX_LISTED = 200


def _outcome(state: str, last_synced_code: str | None) -> str:
    if state == SYNCED:
        return "synced" if last_synced_code == "created" else "already_there"
    return {VOIDED: "voided", WAITING: "waiting", PENDING: "retry_later", SENT: "retry_later",
            FAILED: "failed", QUARANTINED: "quarantined", SKIPPED: "skipped"}.get(state, state)


def build_report(engine: Engine, run_id: str) -> dict[str, Any]:
    """Counts per kind and outcome for rows this run touched, plus the problem documents."""
    t, e = schema.ledger, schema.event
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(t.c.external_id, t.c.kind, t.c.number, t.c.lago_id, t.c.state, t.c.last_error_code,
                      t.c.last_error_message, t.c.netsuite_id, t.c.changed_after_sync)
            .where(t.c.last_run_id == run_id)
            .order_by(t.c.kind, t.c.number)
        ).all()
        # Waiting documents are retried by every run whether it touched them or not: list them all.
        waiting_rows = conn.execute(
            sa.select(t.c.external_id, t.c.kind, t.c.number, t.c.lago_id, t.c.state, t.c.last_error_code,
                      t.c.last_error_message, t.c.netsuite_id, t.c.changed_after_sync)
            .where(t.c.state == WAITING, sa.or_(t.c.last_run_id.is_(None), t.c.last_run_id != run_id))
            .order_by(t.c.kind, t.c.number)
        ).all()
        # Credit memos voided in Lago after part of them was used: the accountant reverses the rest.
        flagged = conn.execute(
            sa.select(e.c.external_id, e.c.message).where(e.c.run_id == run_id, e.c.code == "WARNING",
                                                          e.c.message.like("ACCOUNTANT:%"))
        ).all()
        synced_codes = {
            ext: code
            for ext, code in conn.execute(
                sa.select(e.c.external_id, e.c.code).where(e.c.run_id == run_id, e.c.to_state == SYNCED)
                .order_by(e.c.at)
            ).tuples()
        }
    by_kind: dict[str, Counter[str]] = {}
    sections = ("failed", "quarantined", "waiting", "changed_after_sync")
    problems: dict[str, list[dict[str, Any]]] = {k: [] for k in sections}
    for r in [*rows, *waiting_rows]:
        outcome = _outcome(r.state, synced_codes.get(r.external_id))
        by_kind.setdefault(r.kind, Counter())[outcome] += 1
        entry = {"external_id": r.external_id, "kind": r.kind, "number": r.number, "lago_id": r.lago_id,
                 "code": r.last_error_code, "reason": r.last_error_message}
        if outcome in ("failed", "quarantined", "waiting") and len(problems[outcome]) < MAX_LISTED:
            problems[outcome].append(entry)
        if r.changed_after_sync and r.last_error_code == "CHANGED_AFTER_SYNC":
            problems["changed_after_sync"].append({**entry, "netsuite_id": r.netsuite_id})
    totals: Counter[str] = Counter()
    for counter in by_kind.values():
        totals.update(counter)
    return {
        "run_id": run_id,
        "by_kind": {k: {o: c[o] for o in OUTCOMES if c[o]} for k, c in sorted(by_kind.items())},
        "totals": {o: totals[o] for o in OUTCOMES},
        **problems,
        "for_accountant": [{"external_id": f.external_id, "message": f.message} for f in flagged[:MAX_LISTED]],
        "ledger": state_counts(engine),
    }


def render_text(report: dict[str, Any]) -> str:
    """The report as lines a person reads in a task log or a terminal."""
    lines = [f"Run {report['run_id']}"]
    totals = report.get("totals", {})
    lines.append("  " + ", ".join(f"{o.replace('_', ' ')}: {totals.get(o, 0)}" for o in OUTCOMES))
    before = (report.get("extract") or {}).get("before_sync_start")
    if before:
        lines.append(f"  NOTHING SYNCED: {before}")
    late = (report.get("extract") or {}).get("late_changed") or []
    if late:
        lines.append(f"  changed late in Lago (found by the status lists): {len(late)}")
    for kind, counts in report.get("by_kind", {}).items():
        lines.append(f"  {kind:<12} " + ", ".join(f"{o.replace('_', ' ')} {n}" for o, n in counts.items()))
    for section, title in (("failed", "FAILED"), ("quarantined", "QUARANTINED (not sent)"),
                           ("waiting", "WAITING (retried automatically)"),
                           ("changed_after_sync", "CHANGED IN LAGO AFTER SYNC (not sent again)")):
        items = report.get(section) or []
        if not items:
            continue
        lines.append(f"  {title}: {len(items)}")
        for item in items[:25]:
            what = item.get("number") or item.get("lago_id")
            lines.append(f"    - {item['kind']} {what} ({item['external_id']}): "
                         f"[{item.get('code')}] {item.get('reason')}")
        if len(items) > 25:
            lines.append(f"    … and {len(items) - 25} more (see the sync_ledger table)")
    flagged = report.get("for_accountant") or []
    if flagged:
        lines.append(f"  FOR THE ACCOUNTANT: {len(flagged)}")
        lines += [f"    - {f['external_id']}: {f['message']}" for f in flagged[:25]]
    return "\n".join(lines)


def newly_failed(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Documents this run left failed or quarantined: the run must show red for them."""
    return [*report.get("failed", []), *report.get("quarantined", [])]

"""The run report: per-kind outcomes of one run and every document that failed or was held back.

Built from the ledger and its event log (not from XCom), so it is the same whether read by the
report task, the demo, or an accountant querying the store afterwards. It carries ids, numbers,
codes and NetSuite's messages — never payloads or credentials.
"""

from __future__ import annotations

import datetime as dt
import re
import textwrap
from collections import Counter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from lago_netsuite.ledger import schema
from lago_netsuite.ledger.claims import FAILED, PENDING, QUARANTINED, SENT, SKIPPED, SYNCED, VOIDED, WAITING
from lago_netsuite.ledger.records import state_counts
from lago_netsuite.ledger.upsert import CHUNK, select_in, utcnow

OUTCOMES = ("synced", "already_there", "voided", "waiting", "retry_later", "failed", "quarantined", "skipped")
MAX_LISTED = 200


def _outcome(state: str, last_synced_code: str | None) -> str:
    if state == SYNCED:
        return "synced" if last_synced_code in ("created", "applied") else "already_there"
    return {VOIDED: "voided", WAITING: "waiting", PENDING: "retry_later", SENT: "retry_later",
            FAILED: "failed", QUARANTINED: "quarantined", SKIPPED: "skipped"}.get(state, state)


def build_report(engine: Engine, run_id: str, *, long_waiting_hours: int = 24,
                 now: dt.datetime | None = None, window: list[str] | None = None) -> dict[str, Any]:
    """Counts per kind and outcome for rows this run touched, plus the problem documents.

    Also what the run saw that NetSuite already had (``already_there``: a backfill over synced
    documents is not "nothing in the range") and everything still unresolved from earlier runs.
    """
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
    touched = {r.external_id for r in rows}
    seen, already = _seen_in_run(engine, run_id, touched, window)
    for kind, n in already.items():
        by_kind.setdefault(kind, Counter())["already_there"] += n
    totals: Counter[str] = Counter()
    for counter in by_kind.values():
        totals.update(counter)
    customers = _customers(engine, [*problems["failed"], *problems["quarantined"], *problems["waiting"]])
    for entry in [*problems["failed"], *problems["quarantined"], *problems["waiting"]]:
        entry["customer"] = customers.get(entry["external_id"])
    old = unresolved(engine, run_id, long_waiting_hours=long_waiting_hours, now=now)
    long_waiting = {u["external_id"] for u in old}
    problems["waiting"] = [w for w in problems["waiting"] if w["external_id"] not in long_waiting]
    return {
        "run_id": run_id,
        "by_kind": {k: {o: c[o] for o in OUTCOMES if c[o]} for k, c in sorted(by_kind.items())},
        "totals": {o: totals[o] for o in OUTCOMES},
        "seen": seen,
        "touched": len(touched),
        **problems,
        "for_accountant": [{"external_id": f.external_id, "message": f.message} for f in flagged[:MAX_LISTED]],
        "unresolved": old,
        "ledger": state_counts(engine),
    }


def _seen_in_run(engine: Engine, run_id: str, touched: set[str],
                 window: list[str] | None = None) -> tuple[int, dict[str, int]]:
    """Documents of this run's range (issued in its window, or read by it), and per kind those NetSuite
    already had (synced by an earlier run, untouched by this one)."""
    d, t = schema.document, schema.ledger
    in_run = d.c.last_run_id == run_id
    if window:
        in_run = sa.or_(in_run, d.c.issuing_date.between(window[0], window[1] + "T99"))
    with engine.connect() as conn:
        seen = conn.execute(sa.select(sa.func.count()).select_from(d).where(in_run)).scalar_one()
        pairs = conn.execute(
            sa.select(t.c.external_id, t.c.kind)
            .join(d, sa.and_(d.c.kind == t.c.kind, d.c.lago_id == t.c.lago_id))
            .where(in_run, t.c.state.in_((SYNCED, VOIDED)))
        ).tuples().all()
    already: Counter[str] = Counter(kind for ext, kind in pairs if ext not in touched)
    return int(seen), dict(already)


def _customers(engine: Engine, entries: list[dict[str, Any]]) -> dict[str, str]:
    """``{external_id: Lago customer external id}`` of the listed documents (customers: themselves)."""
    d = schema.document
    out: dict[str, str] = {}
    wanted: dict[tuple[str, str], str] = {}
    for e in entries:
        if e["kind"] == "customer":
            out[e["external_id"]] = e.get("number") or e["lago_id"]
        else:
            wanted[(e["kind"], e["lago_id"])] = e["external_id"]
    if wanted:
        with engine.connect() as conn:
            for kind, lago_id, customer in select_in(
                conn, [d.c.kind, d.c.lago_id, d.c.customer_external_id], d.c.lago_id, {k[1] for k in wanted}
            ):
                ext = wanted.get((kind, lago_id))
                if ext and customer:
                    out[ext] = customer
    return out


def unresolved(engine: Engine, run_id: str, *, long_waiting_hours: int = 24,
               now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Documents any EARLIER run left failed or quarantined, or waiting longer than ``long_waiting_hours``.

    Each with its reason and since when it has been in that state (the first event into it), so a
    run that finds nothing new still says what is not in NetSuite.
    """
    t, e = schema.ledger, schema.event
    now = now or utcnow()
    limit = now - dt.timedelta(hours=long_waiting_hours)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(t.c.external_id, t.c.kind, t.c.number, t.c.lago_id, t.c.state, t.c.last_error_code,
                      t.c.last_error_message, t.c.last_run_id, t.c.created_at)
            .where(t.c.state.in_((FAILED, QUARANTINED, WAITING)),
                   sa.or_(t.c.last_run_id.is_(None), t.c.last_run_id != run_id))
            .order_by(t.c.kind, t.c.number)
        ).all()
        since: dict[str, dt.datetime] = {}
        ids = [r.external_id for r in rows]
        for offset in range(0, len(ids), CHUNK):
            for ext, state, at in conn.execute(
                sa.select(e.c.external_id, e.c.to_state, sa.func.min(e.c.at))
                .where(e.c.external_id.in_(ids[offset : offset + CHUNK]))
                .group_by(e.c.external_id, e.c.to_state)
            ).tuples():
                since[f"{ext}\0{state}"] = at
    out: list[dict[str, Any]] = []
    for r in rows:
        start = since.get(f"{r.external_id}\0{r.state}") or r.created_at
        if r.state == WAITING and start > limit:
            continue
        out.append({"external_id": r.external_id, "kind": r.kind, "number": r.number, "lago_id": r.lago_id,
                    "state": r.state, "code": r.last_error_code, "reason": r.last_error_message,
                    "since": start.isoformat(timespec="seconds"), "age_hours": round((now - start).total_seconds()
                                                                                       / 3600, 1),
                    "last_run_id": r.last_run_id})
    customers = _customers(engine, out)
    for entry in out:
        entry["customer"] = customers.get(entry["external_id"])
    return out


WIDTH = 100
_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE)
_LABELS = {"customer": "customer", "invoice": "invoice", "salesorder": "sales order", "creditnote": "credit note",
           "payment": "payment", "creditapply": "credit application", "refund": "refund"}
MAPPING_FILE = ("the mapping file (include/mappings/netsuite_mapping.yaml, or mapping_file in the "
                "lago_netsuite_settings Variable)")
RETRY = "then run lago_netsuite_retry_document with its number (or wait for the next run)"

#: What to fix, and where, per NetSuite or sync code (the message's own words are kept as well).
_FIXES: dict[str, str] = {
    "INVALID_FLD_VALUE": "correct the value in NetSuite (the referenced record must exist and be active) "
                         f"or in {MAPPING_FILE}; {RETRY}",
    "INVALID_KEY_OR_REF": f"the NetSuite id it refers to does not exist: fix the id in {MAPPING_FILE}; {RETRY}",
    "INSUFFICIENT_PERMISSION": "in NetSuite, open the accounting period or give the integration role the "
                               f"permission; {RETRY}",
    "USER_ERROR": f"NetSuite refused the record as it stands: fix what its message names in NetSuite or Lago; {RETRY}",
    "DEPENDENCY_NEVER_SYNCED": "fix the record it depends on first (its own line says why); this one follows by itself",
    "WAITING": "nothing to do unless it waits long: it is sent as soon as what it waits for is in NetSuite",
    "CHANGED_AFTER_SYNC": "Lago changed it after it reached NetSuite: adjust the NetSuite record by hand",
    "QUARANTINED": f"fix the document in Lago or the mapping in {MAPPING_FILE}; the next run checks it again",
}


def plain_reason(code: str | None, message: str | None) -> str:
    """NetSuite's or the validation's message in plain words: no UUIDs, each distinct point once."""
    if not message:
        return {"WAITING": "waits for another record"}.get(code or "", f"failed with code {code or 'unknown'}")
    parts: list[str] = []
    seen: Counter[str] = Counter()
    for part in str(message).split("; "):
        text = _UUID.sub("", part)
        # "invoice ACME-0042: fee  (billable metric 'x') ..." → "a fee (billable metric 'x') ..."
        text = re.sub(r"^(?:customer|invoice|credit ?note|payment)\s+\S+:\s*", "", text.strip())
        text = re.sub(r"\b(fee|line|charge)\s+\(", r"a \1 (", re.sub(r"\s{2,}", " ", text)).strip()
        if text not in seen:
            parts.append(text)
        seen[text] += 1
    return "; ".join(p + (f" (×{seen[p]})" if seen[p] > 1 else "") for p in parts)


def fix_hint(code: str | None, message: str | None) -> str:
    """What to fix and where, for an accountant."""
    text = message or ""
    if "no NetSuite item mapping" in text or "has no item mapping" in text:
        return f"add the item to the items section of {MAPPING_FILE}; the next run sends it"
    if "currency" in text and "mapping" in text or "billing entity" in text and "subsidiar" in text:
        return f"add the missing currency/subsidiary to {MAPPING_FILE}; the next run sends it"
    if code in _FIXES:
        return _FIXES[code]
    if code and code.isupper() and code not in ("FAILED", "REQUEST_REJECTED"):
        return f"NetSuite error {code}: fix what the message names in NetSuite or Lago; {RETRY}"
    return f"fix what the message names in Lago, NetSuite or {MAPPING_FILE}; {RETRY}"


def document_line(item: dict[str, Any]) -> list[str]:
    """One document: ``invoice ACME-0042 (customer acme-1): reason. Fix: …`` wrapped to the report width."""
    what = f"{_LABELS.get(item['kind'], item['kind'])} {item.get('number') or item.get('lago_id')}"
    who = f" (customer {item['customer']})" if item.get("customer") and item["kind"] != "customer" else ""
    age = ""
    if item.get("age_hours") is not None:
        hours = float(item["age_hours"])
        age = f" [open {hours / 24:.1f} days, since {item['since']}]" if hours >= 48 else \
              f" [open {hours:.1f} h, since {item['since']}]"
    head = f"{what}{who}{age}: {plain_reason(item.get('code'), item.get('reason'))}"
    lines = textwrap.wrap(head, WIDTH, initial_indent="    - ", subsequent_indent="      ")
    lines += textwrap.wrap("Fix: " + fix_hint(item.get("code"), item.get("reason")), WIDTH,
                           initial_indent="      ", subsequent_indent="        ")
    return lines


def headline(report: dict[str, Any]) -> str:
    """One sentence on what the run found: never the same words for "all there" and "nothing there"."""
    totals = report.get("totals", {})
    acted = sum(totals.get(o, 0) for o in OUTCOMES if o != "already_there")
    window = (report.get("extract") or {}).get("window")
    where = f" issued {window[0]} – {window[1]}" if window else ""
    if not acted and not totals.get("already_there") and not report.get("seen"):
        return f"Nothing in the range: Lago has no documents{where} to sync."
    if not acted and totals.get("already_there"):
        return f"Everything{where} was already in NetSuite: {totals['already_there']} document(s); nothing sent."
    return f"{report.get('seen', 0)} document(s) read from Lago{where}."


def render_text(report: dict[str, Any]) -> str:
    """The report as lines a person reads in a task log or a terminal (at most ``WIDTH`` wide)."""
    lines = [f"Run {report['run_id']}", "  " + headline(report)]
    totals = report.get("totals", {})
    names = {"already_there": "already in NetSuite", "retry_later": "retry later"}
    lines += textwrap.wrap(", ".join(f"{names.get(o, o)}: {totals.get(o, 0)}" for o in OUTCOMES), WIDTH,
                           initial_indent="  ", subsequent_indent="  ")
    before = (report.get("extract") or {}).get("before_sync_start")
    if before:
        lines.append(f"  NOTHING SYNCED: {before}")
    late = (report.get("extract") or {}).get("late_changed") or []
    if late:
        lines.append(f"  changed late in Lago (found by the status lists): {len(late)}")
    for kind, counts in report.get("by_kind", {}).items():
        lines += textwrap.wrap(f"{_LABELS.get(kind, kind) + 's':<13} "
                               + ", ".join(f"{names.get(o, o)} {n}" for o, n in counts.items()), WIDTH,
                               initial_indent="  ", subsequent_indent=" " * 16)
    unresolved_items = report.get("unresolved") or []
    for title, items in (
        ("FAILED in this run (not in NetSuite)", report.get("failed") or []),
        ("HELD BACK in this run (failed validation, not sent)", report.get("quarantined") or []),
        ("WAITING (retried automatically by every run)", report.get("waiting") or []),
        ("STILL UNRESOLVED from earlier runs (not in NetSuite)", unresolved_items),
        ("CHANGED IN LAGO AFTER SYNC (not sent again)", report.get("changed_after_sync") or []),
    ):
        if not items:
            continue
        lines.append(f"  {title}: {len(items)}")
        for item in items[:25]:
            lines += document_line(item)
        if len(items) > 25:
            lines.append(f"    … and {len(items) - 25} more (see the sync_ledger table: ./dev sql)")
    flagged = report.get("for_accountant") or []
    if flagged:
        lines.append(f"  FOR THE ACCOUNTANT: {len(flagged)}")
        lines += [f"    - {f['external_id']}: {f['message']}" for f in flagged[:25]]
    return "\n".join(lines)


def newly_failed(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Documents this run left failed or quarantined: the run must show red for them."""
    return [*report.get("failed", []), *report.get("quarantined", [])]


def outcome(report: dict[str, Any], *, policy: str = "fail") -> dict[str, Any]:
    """The run's verdict and its note: ``failed`` / ``warning`` / ``success``.

    A run is green only when nothing is left behind: a document this run failed or held back fails
    it; one still unresolved from an earlier run fails it too, or (``policy="warn"``) leaves it
    green with a warning note.
    """
    totals = report.get("totals", {})
    new_bad = newly_failed(report)
    old_bad = report.get("unresolved") or []
    held_back = totals.get("quarantined", 0) + totals.get("waiting", 0)
    parts = [f"synced {totals.get('synced', 0)}", f"already in NetSuite {totals.get('already_there', 0)}",
             f"failed {totals.get('failed', 0)}", f"held back {held_back}",
             f"still unresolved from earlier runs {len(old_bad)}"]
    if new_bad:
        state = "failed"
    elif old_bad:
        state = "failed" if policy == "fail" else "warning"
    else:
        state = "success"
    prefix = {"failed": "FAILED", "warning": "WARNING", "success": "OK"}[state]
    note = f"{prefix}: {headline(report)}\n\n" + " · ".join(parts)
    listed = [*new_bad, *old_bad][:10]
    if listed:
        note += "\n\nNot in NetSuite:\n" + "\n".join(
            f"- {_LABELS.get(i['kind'], i['kind'])} {i.get('number') or i.get('lago_id')}: "
            f"{plain_reason(i.get('code'), i.get('reason'))[:200]}" for i in listed)
        more = len(new_bad) + len(old_bad) - len(listed)
        if more > 0:
            note += f"\n- … and {more} more (see the report task's log)"
    return {"state": state, "note": note, "failed_now": len(new_bad), "unresolved": len(old_bad)}


def refused_lines(engine: Engine, external_ids: list[str]) -> list[str]:
    """One wrapped entry per record NetSuite refused (or the loader could not send), with the message."""
    t = schema.ledger
    with engine.connect() as conn:
        rows = list(select_in(conn, [t.c.external_id, t.c.kind, t.c.number, t.c.lago_id, t.c.last_error_code,
                                     t.c.last_error_message], t.c.external_id, external_ids))
    entries = [{"external_id": r.external_id, "kind": r.kind, "number": r.number, "lago_id": r.lago_id,
                "code": r.last_error_code, "reason": r.last_error_message} for r in rows]
    customers = _customers(engine, entries)
    lines: list[str] = []
    for e in entries:
        e["customer"] = customers.get(e["external_id"])
        lines += document_line(e)
        lines.append(f"      NetSuite said: [{e['code']}] {e['reason']}  (externalId {e['external_id']})")
    return lines

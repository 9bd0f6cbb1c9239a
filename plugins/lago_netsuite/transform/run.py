"""The transform step of a run: pick the documents that need work, transform, validate, record.

Only documents that are new, whose Lago payload changed, or that are still unsent while the mapping
changed are transformed — an hourly run's work grows with new documents, not with history.
Documents are processed in chunks so a backfill of a year stays within memory. Every outcome lands
in the ledger: a record to send, a quarantine with the failed expectations, or a skip with a reason.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from lago_netsuite.ledger import catalog, schema
from lago_netsuite.ledger.claims import FAILED, PENDING, QUARANTINED, SKIPPED, SYNCED, VOIDED, WAITING
from lago_netsuite.ledger.documents import MISSING_ID_PREFIX, invoice_refs
from lago_netsuite.ledger.records import Outcome, apply_outcomes
from lago_netsuite.ledger.store import lookup_text, refresh_statistics
from lago_netsuite.ledger.upsert import CHUNK, select_in, utcnow
from lago_netsuite.payments_back.flow import link_returned, returned_payment_outcome

if TYPE_CHECKING:
    from lago_netsuite.context import RunContext

log = logging.getLogger(__name__)

CHUNK_DOCUMENTS = 5_000
_RECORD_TYPE = {"customer": "customer", "invoice": "invoice", "salesorder": "salesorder",
                "creditnote": "creditmemo", "payment": "customerpayment"}
_REBUILD_ON_MAPPING_CHANGE = (PENDING, WAITING, QUARANTINED, SKIPPED, FAILED)


def mapping_fingerprint(path: str, extra: dict[str, Any] | None = None) -> str:
    """Hash of the mapping file's bytes and the transform options: a change re-transforms held documents."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        digest.update(fh.read())
    digest.update(json.dumps(extra or {}, sort_keys=True).encode())
    return digest.hexdigest()


def _candidates(engine: sa.Engine, kinds: tuple[str, ...], mapping_hash: str, retry_failed: bool,
                only_lago_ids: list[str] | None, retry_window: tuple[str, str] | None = None,
                changed_before: datetime | None = None) -> list[tuple[str, str, str]]:
    """``(kind, lago_id, payload_hash)`` of documents to transform, oldest issuing date first."""
    d, led = schema.document, schema.ledger
    join = sa.and_(led.c.lago_id == d.c.lago_id,
                   sa.or_(led.c.kind == d.c.kind, sa.and_(d.c.kind == "invoice", led.c.kind == "salesorder")))
    needs = sa.or_(
        led.c.external_id.is_(None),
        led.c.source_hash.is_(None),
        led.c.source_hash != d.c.payload_hash,
        sa.and_(led.c.state.in_(_REBUILD_ON_MAPPING_CHANGE),
                sa.or_(led.c.mapping_hash.is_(None), led.c.mapping_hash != mapping_hash)),
    )
    if retry_failed:
        failed = led.c.state == FAILED
        if retry_window:
            failed = sa.and_(failed, d.c.issuing_date.between(retry_window[0], retry_window[1]))
        needs = sa.or_(needs, failed)
    query = (
        sa.select(d.c.kind, d.c.lago_id, d.c.payload_hash)
        .select_from(d.outerjoin(led, join))
        .where(d.c.kind.in_([k for k in kinds if k != "customer"]))
        .order_by(d.c.issuing_date, d.c.kind, d.c.lago_id)
    )
    if only_lago_ids is not None:
        query = query.where(d.c.lago_id.in_(only_lago_ids))
        if retry_failed:  # a single-document retry rebuilds it whatever its state
            needs = sa.true()
    query = query.where(needs)
    if changed_before is not None:  # what the extraction has finished with (customers stored too)
        query = query.where(d.c.changed_at <= changed_before)
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(query)]


def _payloads(engine: sa.Engine, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    d = schema.document
    out: dict[tuple[str, str], dict[str, Any]] = {}
    with engine.connect() as conn:
        for start in range(0, len(keys), CHUNK):
            cond = sa.tuple_(d.c.kind, d.c.lago_id).in_(keys[start : start + CHUNK])
            for kind, lago_id, payload in conn.execute(sa.select(d.c.kind, d.c.lago_id, d.c.payload).where(cond)):
                out[(kind, lago_id)] = json.loads(payload)
    return out


def _ledger_states(engine: sa.Engine, lago_ids: list[str]) -> dict[str, tuple[str, str]]:
    """``{lago_id: (external_id, state)}`` of the ledger rows of these documents."""
    t = schema.ledger
    with engine.connect() as conn:
        rows = select_in(conn, [t.c.lago_id, t.c.external_id, t.c.state], t.c.lago_id, lago_ids)
        return {r.lago_id: (r.external_id, r.state) for r in rows}


def _invoice_dates(engine: sa.Engine, lago_ids: set[str]) -> dict[str, str | None]:
    d = schema.document
    with engine.connect() as conn:
        return dict(select_in(conn, [d.c.lago_id, d.c.issuing_date], d.c.lago_id, sorted(lago_ids),
                              d.c.kind == "invoice"))


def _before_start(
    kind: str, doc: dict[str, Any], start: str | None, invoice_dates: dict[str, str | None]
) -> str | None:
    """Why a document is out of the sync's range (issued, or applied to an invoice issued, before the start)."""
    if not start:
        return None
    if kind in ("invoice", "creditnote"):
        issued = str(doc.get("issuing_date") or "")[:10]
        if issued and issued < start:
            return f"issued {issued}, before the sync start date {start}"
    for inv in invoice_refs(kind, doc):
        invoice_issued = invoice_dates.get(inv)
        if invoice_issued and invoice_issued < start:
            return f"applies to invoice {inv} issued {invoice_issued}, before the sync start date {start}"
    return None


def transform_pending(
    ctx: RunContext, *, kinds: tuple[str, ...], retry_failed: bool = False, only_lago_ids: list[str] | None = None,
    retry_window: tuple[str, str] | None = None, changed_before: datetime | None = None,
) -> dict[str, Any]:
    """Transform and validate the documents that need it; write the outcomes to the ledger.

    ``changed_before`` leaves out documents stored after that moment (the extraction may still be
    fetching their customers); a later call takes them.
    """
    from lago_netsuite.transform import TransformSettings, load_mappings, transform_documents
    from lago_netsuite.validate import run_gate

    s = ctx.settings
    mappings = load_mappings(s.mapping_path())  # a bad file stops the run here, before anything is sent
    settings = TransformSettings.from_mappings(mappings)
    mapping_hash = mapping_fingerprint(s.mapping_path(), {"transform": repr(settings)})
    engine = ctx.engine
    # The store grows fast in a first sync: fresh planner statistics keep this look-up a join, not a loop.
    refresh_statistics(engine, (schema.document.name, schema.ledger.name, schema.customer.name))
    candidates = _candidates(engine, kinds, mapping_hash, retry_failed, only_lago_ids, retry_window, changed_before)
    summary: dict[str, Any] = {"documents": len(candidates), "records": 0, "quarantined": 0, "skipped": 0,
                               "warnings": 0, "customer_external_ids": []}
    for start in range(0, len(candidates), CHUNK_DOCUMENTS):
        chunk = candidates[start : start + CHUNK_DOCUMENTS]
        payloads = _payloads(engine, [(k, lid) for k, lid, _ in chunk])
        source = {lid: h for _, lid, h in chunk}
        docs: dict[str, list[dict[str, Any]]] = {"invoice": [], "creditnote": [], "payment": []}
        outcomes: list[Outcome] = []
        referenced_invoices = {i for (k, _), doc in payloads.items() if k != "invoice" for i in invoice_refs(k, doc)}
        dates = _invoice_dates(engine, referenced_invoices) if s.sync_start_date else {}
        for (kind, lago_id), doc in payloads.items():
            if lago_id.startswith(MISSING_ID_PREFIX):  # kept as received, never sent
                ext_kind = settings.invoice_record_type if kind == "invoice" else kind
                number = doc.get("number") if isinstance(doc, dict) else None
                outcomes.append(Outcome(
                    f"lago-{ext_kind}-{lago_id}", ext_kind, _RECORD_TYPE[ext_kind], lago_id, number,
                    source[lago_id], QUARANTINED, code="QUARANTINED",
                    reason=f"Lago sent this {kind} (number {number!r}) without a usable lago_id: it cannot be "
                           "tracked or sent; fix it in Lago (the document as received is kept in lago_document)"))
                continue
            returned = returned_payment_outcome(kind, lago_id, doc, source[lago_id])
            if returned is not None:  # written to Lago by lago_netsuite_payments_back: link, never resend
                outcomes.append(returned)
                continue
            reason = _before_start(kind, doc, s.sync_start_date, dates)
            if reason:
                ext_kind = settings.invoice_record_type if kind == "invoice" else kind
                outcomes.append(Outcome(f"lago-{ext_kind}-{lago_id}", ext_kind, _RECORD_TYPE[ext_kind], lago_id,
                                        doc.get("number"), source[lago_id], SKIPPED, reason=reason,
                                        code="BEFORE_SYNC_START"))
            else:
                docs[kind].append(doc)
        customer_ids = {str(c) for k in docs for d in docs[k] for c in [_customer_external_id(k, d)] if c}
        customers = catalog.customers_by_external_id(engine, customer_ids)
        customer_source = _customer_hashes(engine, customer_ids)
        invoice_states = _ledger_states(engine, [d["lago_id"] for d in docs["invoice"] if d.get("lago_id")])
        synced = [lid for lid, (_, state) in invoice_states.items() if state in (SYNCED, VOIDED)]
        notes = _credit_note_state(engine, docs, s.sync_start_date)
        result = transform_documents(invoices=docs["invoice"], credit_notes=docs["creditnote"],
                                     payments=docs["payment"], customers=customers, mappings=mappings,
                                     settings=settings, synced_invoices=synced, credit_note_state=notes)
        gate = run_gate(result, data_docs_dir=s.data_docs_path(), run_id=ctx.run_id)
        outcomes += _outcomes(gate, result, {**source, **customer_source})
        duplicates = _hold_duplicate_numbers(engine, outcomes)
        counts = apply_outcomes(engine, outcomes, mapping_hash=mapping_hash, run_id=ctx.run_id,
                                retry_failed=retry_failed)
        link_returned(engine, outcomes)
        _record_warnings(engine, result, ctx.run_id)
        summary["records"] += len(gate.records) - duplicates
        summary["quarantined"] += len(gate.quarantined) + duplicates
        summary["skipped"] += sum(1 for o in outcomes if o.state == SKIPPED)
        summary["warnings"] += len(result.warnings)
        summary["customer_external_ids"] += [f"lago-customer-{c['lago_id']}" for c in customers if c.get("lago_id")]
        log.info("transformed %d documents: %s; ledger %s", len(chunk), result.counts(), counts.as_dict())
    return summary


def _consumed_notes(invoices: list[dict[str, Any]]) -> set[str]:
    """Lago ids of the credit notes whose credit these invoices consume (``credits`` of type credit_note)."""
    out: set[str] = set()
    for inv in invoices:
        for credit in inv.get("credits") or []:
            item = credit.get("item") if isinstance(credit, dict) else None
            note = item.get("lago_item_id") if isinstance(item, dict) else None
            if isinstance(item, dict) and item.get("type") == "credit_note" and isinstance(note, str):
                out.add(item["lago_item_id"])
    return out


def _credit_note_state(engine: sa.Engine, docs: dict[str, list[dict[str, Any]]], start: str | None) -> Any:
    """What the ledger and the store know of the credit notes this chunk consumes or carries."""
    from lago_netsuite.transform.batch import CreditNoteState

    consumed = _consumed_notes(docs["invoice"])
    own = {d["lago_id"] for d in docs["creditnote"] if isinstance(d.get("lago_id"), str)}
    d, t = schema.document, schema.ledger
    line_booked: set[str] = set()
    with engine.connect() as conn:
        if start and consumed:
            for lago_id, issued in select_in(conn, [d.c.lago_id, d.c.issuing_date], d.c.lago_id, sorted(consumed),
                                             d.c.kind == "creditnote"):
                if issued and str(issued)[:10] < start:
                    line_booked.add(lago_id)
        synced = {lid for lid, state in select_in(conn, [t.c.lago_id, t.c.state], t.c.lago_id, sorted(own),
                                                  t.c.kind == "creditnote") if state in (SYNCED, VOIDED)}
        voided = any(doc.get("credit_status") == "voided" for doc in docs["creditnote"])
        applied: set[str] = set()
        if voided:  # which of them already have applications booked (a voided one is then flagged)
            rows = select_in(conn, [t.c.depends_on], t.c.kind, ["creditapply"],
                             t.c.state.not_in((SKIPPED, QUARANTINED)))
            applied = {str(dep) for (deps,) in rows for dep in json.loads(deps or "[]")
                       if str(dep).startswith("lago-creditnote-")}
    applied = {a.removeprefix("lago-creditnote-") for a in applied} & own
    return CreditNoteState(line_booked=frozenset(line_booked), synced=frozenset(synced), applied=frozenset(applied))


def _customer_external_id(kind: str, doc: dict[str, Any]) -> str | None:
    if kind == "payment":
        return doc.get("external_customer_id")
    customer = doc.get("customer")
    return customer.get("external_id") if isinstance(customer, dict) else None


def _customer_hashes(engine: sa.Engine, external_ids: set[str]) -> dict[str, str]:
    c = schema.customer
    with engine.connect() as conn:
        return dict(select_in(conn, [c.c.lago_id, c.c.payload_hash], c.c.external_id, sorted(external_ids)))


def _outcomes(gate: Any, result: Any, source: dict[str, str]) -> list[Outcome]:
    """Ledger outcomes from the gate's passed records, its quarantine, and the transform's skips."""
    outcomes: list[Outcome] = []
    for rec in gate.records.to_dict("records"):
        outcomes.append(Outcome(
            external_id=rec["external_id"], kind=rec["kind"], record_type=rec["record_type"], lago_id=rec["lago_id"],
            number=rec.get("number"), source_hash=source.get(rec["lago_id"]), state=PENDING,
            action=rec.get("action") or "create", body=rec["body"], depends_on=list(rec.get("depends_on") or []),
            currency=rec.get("currency"), total_minor=_int_or_none(rec.get("total_minor")),
        ))
    for rec in gate.quarantined.to_dict("records"):
        if not rec.get("external_id") or not rec.get("lago_id"):
            log.error("transform quarantined a document it could not identify: %s", rec.get("reasons"))
            continue
        reasons = rec.get("reasons") or []
        outcomes.append(Outcome(
            external_id=rec["external_id"], kind=rec["kind"], record_type=_RECORD_TYPE.get(rec["kind"], rec["kind"]),
            lago_id=rec["lago_id"], number=rec.get("number"), source_hash=source.get(rec["lago_id"]),
            state=QUARANTINED, reason="; ".join(map(str, reasons)) or "failed validation", code="QUARANTINED",
        ))
    for rec in result.skipped.to_dict("records"):
        outcomes.append(Outcome(
            external_id=rec["external_id"], kind=rec["kind"], record_type=_RECORD_TYPE.get(rec["kind"], rec["kind"]),
            lago_id=rec["lago_id"], number=rec.get("number"), source_hash=source.get(rec["lago_id"]),
            state=SKIPPED, reason=str(rec.get("reason") or "not for NetSuite"), code="SKIPPED",
        ))
    return outcomes


_NUMBERED = ("invoice", "salesorder", "creditnote")  # their number is the NetSuite tranid
_LABEL = {"invoice": "invoice", "salesorder": "invoice", "creditnote": "credit note"}


def _hold_duplicate_numbers(engine: sa.Engine, outcomes: list[Outcome]) -> int:
    """Quarantine (in place) each new record whose number another Lago document already carries.

    The number becomes the NetSuite ``tranid``, which NetSuite keeps unique per record type: the
    second document would be refused, or, where an account allows duplicates, booked under a number
    that already names another. The document seen first keeps the number — the one already in the
    ledger (and not held back itself), else the first of this batch (oldest issuing date first) —
    and the other is held back naming both, until the number is corrected in Lago.

    Returns:
        How many records were held back.
    """
    t = schema.ledger
    numbered = [i for i, o in enumerate(outcomes)
                if o.state == PENDING and o.action == "create" and o.kind in _NUMBERED and o.number]
    numbers = sorted({n for i in numbered if (n := lookup_text(outcomes[i].number, t.c.number))})
    taken: dict[tuple[str, str], tuple[str, str]] = {}
    with engine.connect() as conn:
        for record_type, number, lago_id, external_id in select_in(
                conn, [t.c.record_type, t.c.number, t.c.lago_id, t.c.external_id], t.c.number, numbers,
                t.c.kind.in_(_NUMBERED), t.c.state.not_in((QUARANTINED, SKIPPED))):
            taken.setdefault((record_type, number), (lago_id, external_id))
    held = 0
    for i in numbered:
        o = outcomes[i]
        key = (o.record_type, lookup_text(o.number, t.c.number) or "")
        holder = taken.setdefault(key, (o.lago_id, o.external_id))
        if holder[0] == o.lago_id:
            continue
        label = _LABEL[o.kind]
        outcomes[i] = Outcome(
            o.external_id, o.kind, o.record_type, o.lago_id, o.number, o.source_hash, QUARANTINED,
            code="QUARANTINED",
            reason=f"{label} {o.number} (Lago id {o.lago_id}): Lago {label} {holder[0]} ({holder[1]}) already has "
                   f"the number {o.number!r}, and NetSuite keeps one {label} per number; correct it in Lago")
        held += 1
    return held


def _int_or_none(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _record_warnings(engine: sa.Engine, result: Any, run_id: str) -> None:
    """Fallback items and similar notes go to the event log of their record, for the audit."""
    import uuid

    warnings = result.warnings.to_dict("records")
    if not warnings:
        return
    t = schema.ledger
    now = utcnow()
    with engine.begin() as conn:
        states = dict(select_in(conn, [t.c.external_id, t.c.state], t.c.external_id,
                                [w["external_id"] for w in warnings]))
        rows = [{"event_id": str(uuid.uuid4()), "external_id": w["external_id"], "at": now, "run_id": run_id,
                 "from_state": states.get(w["external_id"]), "to_state": states.get(w["external_id"], PENDING),
                 "code": "WARNING", "message": lookup_text(str(w.get("message")), schema.event.c.message),
                 "netsuite_id": None}
                for w in warnings if w["external_id"] in states]
        if rows:
            conn.execute(schema.event.insert(), rows)

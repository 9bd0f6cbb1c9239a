"""``transform_documents``: one batch of Lago documents -> contract records, quarantine, warnings.

Each record kind is transformed for the whole batch at once. A bad document is held back with its
reason and never stops the others; if the vectorised path itself fails on some input we did not
foresee, the batch of that kind is split in halves until the offending documents are isolated,
and those are quarantined with the error (logged with its traceback), so one document can never
take the batch down.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pandas as pd

from lago_netsuite.money import InexactAmountError
from lago_netsuite.transform import build
from lago_netsuite.transform.credit_notes import transform_credit_notes
from lago_netsuite.transform.customers import transform_customers
from lago_netsuite.transform.documents import KindOutput
from lago_netsuite.transform.fields import apply_fields
from lago_netsuite.transform.frames import customer_links, flatten
from lago_netsuite.transform.invoices import transform_invoices
from lago_netsuite.transform.mappings import Mappings
from lago_netsuite.transform.model import (
    QUARANTINE_COLUMNS,
    RECORD_COLUMNS,
    SKIP_COLUMNS,
    WARNING_COLUMNS,
    TransformResult,
    TransformSettings,
    empty_frame,
)
from lago_netsuite.transform.numbers import of_type
from lago_netsuite.transform.payments import transform_payments

log = logging.getLogger(__name__)

SUITETAX_CONSTANTS = {"taxdetailsoverride": True, "taxregoverride": True}
LEGACY_CONSTANTS = {"istaxable": True}


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch is transformed.

    A batch allocates millions of small acyclic containers (rows, dicts of the bodies) while the
    input documents — millions more — stay alive; every full collection would walk all of them.
    Reference counting still frees everything; the collector resumes afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _header_fields(kind: str, tax_mode: str) -> list[tuple[str, str]]:
    """Contract column -> header frame column, per record kind and tax mode."""
    if kind == "payment":
        return [("customer", "entity_value"), ("payment", "payment_json"), ("trandate", "trandate"),
                ("currency", "currency_id"), ("custbody_lago_id", "lago_id"), ("memo", "memo")]
    fields = [("tranid", "number"), ("entity", "entity_value"), ("trandate", "trandate")]
    if kind != "creditnote":
        fields.append(("duedate", "duedate"))
    fields += [("currency", "currency_id"), ("subsidiary", "subsidiary"), ("custbody_lago_id", "lago_id")]
    if kind != "creditnote":
        fields.append(("custbody_lago_invoice_link", "link"))
    if tax_mode == "suitetax":
        fields.append(("nexus", "nexus"))
    else:
        fields += [("taxitem", "tax_item"), ("taxamountoverride", "tax_total_json")]
    return fields


@dataclass(frozen=True)
class CreditNoteState:
    """What the ledger knows about credit notes, for credit applications and voided memos.

    Attributes:
        line_booked: Lago ids of credit notes that will never be in NetSuite (issued before the
            sync start): their credit stays a negative line on the invoice that consumes it.
        synced: Lago ids of credit notes already in NetSuite (a voided one becomes a void).
        applied: Lago ids of credit notes with credit applications in the ledger.
    """

    line_booked: frozenset[str] = frozenset()
    synced: frozenset[str] = frozenset()
    applied: frozenset[str] = frozenset()


MAX_ISOLATED = 20  # more single-document failures than this is a bug, not bad data: fail loudly


class SystematicTransformError(RuntimeError):
    """Too many documents fail the same way: a bug to fix, not documents to quarantine."""


def _isolate(name: str, docs: Sequence[Any], run: Callable[[Sequence[Any]], KindOutput],
             failures: list[int] | None = None) -> list[KindOutput]:
    """Run ``run`` on ``docs``; on an unexpected error, bisect to quarantine only the culprits.

    Raises:
        SystematicTransformError: more than ``MAX_ISOLATED`` documents failed on their own.
    """
    failures = [] if failures is None else failures
    try:
        return [run(docs)]
    except Exception as exc:  # noqa: BLE001 - quarantined below with the traceback logged, or re-raised
        if len(docs) > 1:
            mid = len(docs) // 2
            return _isolate(name, docs[:mid], run, failures) + _isolate(name, docs[mid:], run, failures)
        if not isinstance(exc, InexactAmountError):  # bad data however often it occurs, not a bug
            failures.append(1)
        if len(failures) > MAX_ISOLATED:
            raise SystematicTransformError(f"more than {MAX_ISOLATED} {name} documents failed to transform; "
                                           f"last error: {type(exc).__name__}: {exc}") from exc
        log.exception("transform of one %s failed; quarantining it", name)
        doc = docs[0] if docs else None
        lago_id = doc.get("lago_id") if isinstance(doc, dict) else None
        number = doc.get("number") if isinstance(doc, dict) else None
        ext = f"lago-{name}-{lago_id}" if isinstance(lago_id, str) else None
        who = number if isinstance(number, str) and number.strip() else lago_id
        q = pd.DataFrame([{"external_id": ext, "kind": name, "lago_id": lago_id, "number": number,
                           "reason": f"{name} {who}: could not be transformed "
                                     f"({type(exc).__name__}: {exc})"}], dtype=object)
        return [KindOutput(headers=pd.DataFrame(), quarantined=q)]


def _kind_run(kind: str, mappings: Mappings, settings: TransformSettings, synced: Collection[str],
              links: pd.DataFrame, notes: CreditNoteState | None = None) -> Callable[[Sequence[Any]], KindOutput]:
    """A function transforming a list of documents of one kind."""
    def run(docs: Sequence[Any]) -> KindOutput:
        args: dict[str, list[Any]] = {"invoices": [], "credit_notes": [], "payments": [], "customers": []}
        args[{"invoice": "invoices", "creditnote": "credit_notes", "payment": "payments",
              "customer": "customers"}[kind]] = list(docs)
        fr = flatten(**args)
        fr.customer_links = pd.concat([links, fr.customer_links]).drop_duplicates("customer_lago_id", keep="first")
        cn = notes or CreditNoteState()
        if kind == "invoice":
            out = transform_invoices(fr, mappings, settings, synced, cn.line_booked)
        elif kind == "creditnote":
            out = transform_credit_notes(fr, mappings, settings, cn.synced, cn.applied)
        elif kind == "payment":
            out = transform_payments(fr, mappings, settings)
        else:
            out = transform_customers(fr, mappings)
        if len(fr.problems):
            out.quarantined = pd.concat([out.quarantined, fr.problems], ignore_index=True)
        # The records are built here, inside the isolation: a value no contract number can carry
        # (an amount beyond NetSuite's 15 significant digits) holds back its document, not the batch.
        out.records = _records(kind, [out], settings)
        if out.extra_records is not None and len(out.extra_records):  # credit applications, refunds
            out.records = pd.concat([out.records, out.extra_records], ignore_index=True)
        _mapped_fields(kind, out, docs, mappings)  # a customer refund gets its mapped fields too
        return out
    return run


def _mapped_fields(kind: str, out: KindOutput, docs: Sequence[Any], mappings: Mappings) -> None:
    """Set the mapping file's extra fields on the built records; hold back documents that cannot have them."""
    h = out.headers
    entities = h.set_index("lago_id")["billing_entity_code"] \
        if {"lago_id", "billing_entity_code"} <= set(h.columns) else None
    out.records, held = apply_fields(out.records, docs, mappings, entities)
    if len(held):
        out.quarantined = pd.concat([out.quarantined, held.assign(kind=kind)], ignore_index=True)


def _records(kind: str, outs: list[KindOutput], settings: TransformSettings) -> pd.DataFrame:
    """Records of one kind from its (possibly bisected) outputs."""
    frames = []
    for out in outs:
        if out.headers.empty:
            frames.append(build.void_records(out.voids))
            continue
        if kind == "customer":
            frames.append(build.customer_records(out, settings))
            continue
        record_kind = settings.invoice_record_type if kind == "invoice" else kind
        record_type = {"invoice": settings.invoice_record_type, "creditnote": "creditmemo",
                       "payment": "customerpayment"}[kind]
        constants = {} if kind == "payment" else (
            SUITETAX_CONSTANTS if settings.tax_mode == "suitetax" else LEGACY_CONSTANTS)
        frames.append(build.transaction_records(
            out, kind=record_kind, record_type=record_type, settings=settings,
            header_fields=_header_fields(kind, settings.tax_mode), constants=constants,
            total_col="total_amount_cents" if kind != "payment" else "total_minor"))
        frames.append(build.void_records(out.voids))
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=RECORD_COLUMNS)


def _concat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    frames = [f for f in frames if f is not None and len(f)]
    return pd.concat(frames, ignore_index=True)[columns] if frames else empty_frame(columns)


def transform_documents(*, invoices: Sequence[dict[str, Any]], credit_notes: Sequence[dict[str, Any]],
                        payments: Sequence[dict[str, Any]], customers: Sequence[dict[str, Any]],
                        mappings: Mappings, settings: TransformSettings | None = None,
                        synced_invoices: Collection[str] = (),
                        credit_note_state: CreditNoteState | None = None) -> TransformResult:
    """Transform one batch of Lago documents into RESTlet contract records.

    Args:
        invoices: invoice show payloads (with ``fees`` and ``credits``), as Lago's API sends them.
        credit_notes: credit note payloads (with ``items`` and ``applied_taxes``).
        payments: payment payloads.
        customers: customer payloads (with ``integration_customers``).
        mappings: the validated mapping file.
        settings: overrides of the mapping file's options (default: the file's options).
        synced_invoices: Lago ids of invoices already in NetSuite (a voided one becomes a void).
        credit_note_state: what the ledger knows about credit notes (see ``CreditNoteState``).

    Returns:
        The records to send plus what was held back, skipped or worth a warning. Bad documents
        never raise; they are quarantined with a reason naming the Lago object.

    Raises:
        SystematicTransformError: many documents failed in the same unforeseen way (a bug).
    """
    with gc_paused():
        return _transform(invoices=invoices, credit_notes=credit_notes, payments=payments, customers=customers,
                          mappings=mappings, settings=settings or TransformSettings.from_mappings(mappings),
                          synced=frozenset(synced_invoices), notes=credit_note_state)


def _transform(*, invoices: Sequence[dict[str, Any]], credit_notes: Sequence[dict[str, Any]],
               payments: Sequence[dict[str, Any]], customers: Sequence[dict[str, Any]], mappings: Mappings,
               settings: TransformSettings, synced: frozenset[str],
               notes: CreditNoteState | None = None) -> TransformResult:
    """The body of :func:`transform_documents` (run with the garbage collector paused)."""
    links = customer_links(invoices=invoices, credit_notes=credit_notes, customers=customers)
    results: dict[str, list[KindOutput]] = {}
    for kind, docs in [("customer", customers), ("invoice", invoices), ("creditnote", credit_notes),
                       ("payment", payments)]:
        results[kind] = _isolate(kind, list(docs), _kind_run(kind, mappings, settings, synced, links, notes)) \
            if len(docs) else []
    parts = [o.records for outs in results.values() for o in outs if o.records is not None and len(o.records)]
    records = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=RECORD_COLUMNS)
    record_kind = {"invoice": settings.invoice_record_type}
    all_outs = [o for outs in results.values() for o in outs]
    quarantined = _concat([o.quarantined for o in all_outs], [*QUARANTINE_COLUMNS[:-1], "reason"])
    for col in QUARANTINE_COLUMNS[:-1]:  # a malformed document may carry anything as its number
        quarantined[col] = quarantined[col].where(of_type(quarantined[col], str), None)
    quarantined = (quarantined.groupby(["external_id", "kind", "lago_id", "number"], dropna=False, sort=False)
                   ["reason"].agg(list).reset_index().rename(columns={"reason": "reasons"}))
    quarantined = quarantined.astype(object).where(quarantined.notna(), None)
    result = TransformResult(
        records=records.reset_index(drop=True)[RECORD_COLUMNS],
        quarantined=quarantined[QUARANTINE_COLUMNS],
        warnings=_concat([o.warnings for o in all_outs], WARNING_COLUMNS),
        skipped=_concat([o.skipped for o in all_outs], SKIP_COLUMNS),
        settings=settings,
    )
    for kind, outs in results.items():
        if kind == "customer":
            result.headers[kind] = _concat([o.headers for o in outs], list(outs[0].headers.columns)) if outs else \
                pd.DataFrame()
            continue
        name = record_kind.get(kind, kind)
        heads = [o.headers for o in outs if len(o.headers)]
        result.headers[name] = pd.concat(heads, ignore_index=True) if heads else pd.DataFrame()
        result.lines[name] = pd.concat([o.lines for o in outs if len(o.lines)], ignore_index=True) \
            if any(len(o.lines) for o in outs) else pd.DataFrame()
        result.taxes[name] = pd.concat([o.taxes for o in outs if len(o.taxes)], ignore_index=True) \
            if any(len(o.taxes) for o in outs) else pd.DataFrame()
    log.info("transformed %s", result.counts())
    return result

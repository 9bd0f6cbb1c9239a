"""Payments recorded in NetSuite flow back to Lago (DAG ``lago_netsuite_payments_back``).

A run: read the RESTlet's payments listing since the watermark (``action=payments``, contract 2),
record each application of a payment to a Lago invoice in the ``payment_back`` ledger, then send
the applications that are due to Lago as manual payments (``POST /payments``) and report.

Exactly once, whatever happens:

- every application has a stable reference, ``ns-pay-<payment id>-inv-<invoice id>``, that the
  Lago payment carries; the ledger row is keyed by it;
- a POST whose outcome is unknown leaves the row ``sent``; before anything is sent again the
  payment is looked up in Lago by invoice and reference (``GET /payments?invoice_id=``);
- payments this project created in NetSuite from Lago (``externalId`` ``lago-...``) are never sent
  back, and the forward sync links a Lago payment carrying one of these references to its NetSuite
  payment instead of creating a second one (:func:`returned_payment_outcome`);
- a NetSuite payment voided (or changed) after it reached Lago is flagged for the accountant: Lago's
  API has no payment reversal, so the Lago side is corrected by hand.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from lago_netsuite.ledger.upsert import utcnow
from lago_netsuite.payments_back import state as pb

if TYPE_CHECKING:
    from lago_netsuite.context import RunContext
    from lago_netsuite.hooks.lago import LagoHook
    from lago_netsuite.hooks.netsuite import NetSuiteRestletHook
    from lago_netsuite.hooks.netsuite_payments import NetSuitePayment
    from lago_netsuite.ledger.records import Outcome

log = logging.getLogger(__name__)

OVERLAP = dt.timedelta(minutes=10)  # re-read this much before the watermark: late commits are not missed
EPOCH = "1970-01-01T00:00:00Z"
NO_REVERSAL = ("Lago's API has no payment reversal: the Lago payment stays recorded; correct the invoice in "
               "Lago by hand (for example with a credit note) and mark this row resolved")
_INVOICE_PREFIXES = ("lago-invoice-", "lago-salesorder-")


def enabled(settings: Any) -> bool:
    """The ``payments_back_enabled`` key of the ``lago_netsuite_settings`` Variable (off by default)."""
    value = settings.extra.get("payments_back_enabled", False)
    return value is True or str(value).lower() in ("true", "1", "yes")


def _iso_date(trandate: str | None) -> str | None:
    """NetSuite's ``M/D/YYYY`` as an ISO date (None when absent or not a date)."""
    try:
        month, day, year = (int(part) for part in str(trandate).split("/"))
        return dt.date(year, month, day).isoformat()
    except (TypeError, ValueError):
        return None


def _since(engine: sa.Engine, override: str | None) -> str:
    from lago_netsuite.ledger.documents import get_watermark

    if override:
        return override
    mark = get_watermark(engine, pb.WATERMARK_STREAM)
    if not mark:
        return EPOCH
    moment = dt.datetime.fromisoformat(mark.replace("Z", "+00:00")) - OVERLAP
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _in_range(payment: NetSuitePayment, until: str | None) -> bool:
    return until is None or payment.last_modified[:len(until)] <= until


# -- 1. the listing into the ledger ------------------------------------------------------------
def record_listing(engine: sa.Engine, payments: list[NetSuitePayment], run_id: str | None) -> dict[str, Any]:
    """Write each application of the listed payments to the ledger; flag voids/changes after sync."""
    counts = {"listed": len(payments), "from_lago": 0, "applications": 0, "new": 0, "updated": 0,
              "flagged": 0, "skipped_void": 0}
    with engine.begin() as conn:
        wanted: list[tuple[NetSuitePayment, Any, str]] = []
        for p in payments:
            if p.from_lago:  # created by the forward sync: never sent back
                counts["from_lago"] += 1
                continue
            for app in p.applications:
                if not app.doc_external_id.startswith(_INVOICE_PREFIXES):
                    continue
                wanted.append((p, app, pb.reference_for(p.type, p.id, app.doc)))
        existing = pb.rows(conn, [ref for _, _, ref in wanted])
        # NetSuite may drop a voided payment's applications: its rows are found by the payment id
        for p in payments:
            if p.voided and not p.from_lago:
                for old in conn.execute(sa.select(pb.table).where(pb.table.c.netsuite_type == p.type)
                                        .where(pb.table.c.netsuite_payment_id == p.id)):
                    if old.reference not in {ref for _, _, ref in wanted}:
                        counts["updated"] += 1
                        _changed(conn, old, p, Decimal(old.amount), run_id, counts)
        for p, app, ref in wanted:
            counts["applications"] += 1
            row = existing.get(ref)
            if row is None:
                state = pb.SKIPPED if p.voided else pb.PENDING
                invoice_lago_id = app.doc_external_id.split("-", 2)[2]
                pb.insert(conn, {
                    "reference": ref, "netsuite_type": p.type, "netsuite_payment_id": p.id,
                    "netsuite_tranid": p.tranid, "netsuite_invoice_id": app.doc,
                    "invoice_external_id": app.doc_external_id, "invoice_lago_id": invoice_lago_id,
                    "amount": str(app.amount), "paid_at": _iso_date(p.trandate), "state": state,
                    "netsuite_last_modified": p.last_modified, "voided_in_netsuite": int(p.voided),
                }, run_id=run_id, code="VOIDED_IN_NETSUITE" if p.voided else None,
                    message="voided in NetSuite before it was sent to Lago: nothing to send" if p.voided else None)
                counts["new"] += 1
                counts["skipped_void"] += p.voided
                continue
            if row.netsuite_last_modified == p.last_modified:
                continue
            counts["updated"] += 1
            _changed(conn, row, p, app.amount, run_id, counts)
    return counts


def _changed(conn: sa.Connection, row: Any, p: NetSuitePayment, amount: Decimal, run_id: str | None,
             counts: dict[str, int]) -> None:
    """A payment already in the ledger changed in NetSuite: follow it, or flag it once it reached Lago."""
    common: dict[str, Any] = {"netsuite_last_modified": p.last_modified}
    if p.voided and not row.voided_in_netsuite:
        if row.state in (pb.SYNCED, pb.SENT):
            counts["flagged"] += row.state == pb.SYNCED
            message = (f"NetSuite {p.type} {p.tranid or p.id} was voided after it reached Lago as payment "
                       f"{row.lago_payment_id}. {NO_REVERSAL}") if row.state == pb.SYNCED else None
            pb.update(conn, row, run_id=run_id, voided_in_netsuite=1, event=row.state == pb.SYNCED,
                      code="VOIDED_AFTER_SYNC" if message else None, message=message, **common)
        else:
            counts["skipped_void"] += 1
            pb.update(conn, row, run_id=run_id, state=pb.SKIPPED, voided_in_netsuite=1, code="VOIDED_IN_NETSUITE",
                      message="voided in NetSuite before it was sent to Lago: nothing to send", **common)
        return
    if Decimal(row.amount) != amount:
        if row.state in (pb.SYNCED, pb.SENT):
            counts["flagged"] += 1
            pb.update(conn, row, run_id=run_id, changed_in_netsuite=1, code="CHANGED_AFTER_SYNC",
                      message=f"the application of NetSuite {p.type} {p.tranid or p.id} changed from {row.amount} "
                              f"to {amount} after it reached Lago; {NO_REVERSAL}", **common)
        else:
            pb.update(conn, row, run_id=run_id, state=pb.PENDING, amount=str(amount), attempts=0,
                      next_attempt_at=None, amount_minor=None, code="CHANGED_IN_NETSUITE",
                      message=f"amount changed in NetSuite from {row.amount} to {amount} before it was sent", **common)
        return
    pb.update(conn, row, run_id=run_id, event=False, **common)


# -- 2. the ledger into Lago -------------------------------------------------------------------
def send_due(engine: sa.Engine, lago: LagoHook, run_id: str | None, *, max_attempts: int = 8,
             backoff_minutes: int = 5) -> dict[str, int]:
    """Send every due row to Lago once; a ``sent`` row is looked up before it is ever sent again."""
    from lago_netsuite.hooks.errors import (
        CredentialsError,
        NotFoundError,
        OutcomeUnknownError,
        RequestRejectedError,
        ThrottledError,
        TransientError,
    )

    counts = {"synced": 0, "failed": 0, "retry": 0, "unknown": 0, "found_after_unknown": 0}
    with engine.connect() as conn:
        rows = pb.due(conn, utcnow())
    invoices: dict[str, dict[str, Any]] = {}
    for row in rows:
        posting = False
        now_state = [row.state]  # the row's state as this loop last wrote it (events name the real transition)

        def save(**values: Any) -> None:
            with engine.begin() as conn:
                pb.update(conn, row, run_id=run_id, from_state=now_state[0], **values)  # noqa: B023
            now_state[0] = values.get("state", now_state[0])  # noqa: B023

        def later(code: str, message: str, state: str) -> None:
            attempts = row.attempts + 1  # noqa: B023
            if attempts >= max_attempts and state != pb.SENT:  # a 'sent' row is never given up unlooked
                counts["failed"] += 1
                save(state=pb.FAILED, attempts=attempts, next_attempt_at=None, code=code,
                     message=f"{message} (gave up after {attempts} attempts)")
            else:
                counts["retry"] += 1
                wait = dt.timedelta(minutes=backoff_minutes * 2 ** min(attempts - 1, 8))
                save(state=state, attempts=attempts, next_attempt_at=utcnow() + wait, code=code, message=message)

        try:
            if row.state == pb.SENT:  # the outcome of the last POST is unknown: look first
                found = lago.find_payment(invoice_id=row.invoice_lago_id, reference=row.reference)
                if found is not None:
                    counts["found_after_unknown"] += 1
                    counts["synced"] += 1
                    save(state=pb.SYNCED, lago_payment_id=found.get("lago_id"), code="FOUND_AFTER_UNKNOWN",
                         message="the earlier POST had reached Lago: found by its reference, not sent again")
                    continue
                if row.voided_in_netsuite:
                    save(state=pb.SKIPPED, code="VOIDED_IN_NETSUITE",
                         message="voided in NetSuite; the earlier POST never reached Lago: nothing to send")
                    continue
            invoice = invoices.get(row.invoice_lago_id) or lago.get_invoice(row.invoice_lago_id)
            invoices[row.invoice_lago_id] = invoice
            amount_minor = _minor(row, invoice)
            if isinstance(amount_minor, str):
                counts["failed"] += 1
                save(state=pb.FAILED, code="AMOUNT_INVALID", message=amount_minor)
                continue
            save(state=pb.SENT, currency=invoice.get("currency"), amount_minor=amount_minor, event=False)
            posting = True
            try:
                payment = lago.create_payment(invoice_id=row.invoice_lago_id, amount_cents=amount_minor,
                                              reference=row.reference, paid_at=row.paid_at)
            except OutcomeUnknownError as exc:
                counts["unknown"] += 1
                found = lago.find_payment(invoice_id=row.invoice_lago_id, reference=row.reference)
                if found is not None:
                    counts["found_after_unknown"] += 1
                    counts["synced"] += 1
                    save(state=pb.SYNCED, lago_payment_id=found.get("lago_id"), code="FOUND_AFTER_UNKNOWN",
                         message=f"{exc}; found in Lago by its reference, not sent again")
                else:
                    later("OUTCOME_UNKNOWN", f"{exc}; not found in Lago yet: looked up again before any resend",
                          pb.SENT)
                continue
            invoices.pop(row.invoice_lago_id, None)  # its due amount changed
            counts["synced"] += 1
            save(state=pb.SYNCED, lago_payment_id=payment.get("lago_id"), attempts=row.attempts + 1,
                 next_attempt_at=None, code=None, message=None)
        except CredentialsError:
            raise
        except (NotFoundError, RequestRejectedError) as exc:
            counts["failed"] += 1
            code = "LAGO_NOT_FOUND" if isinstance(exc, NotFoundError) else "LAGO_REJECTED"
            save(state=pb.FAILED, attempts=row.attempts + 1, code=code,
                 message=f"Lago refused payment {row.reference} on invoice {row.invoice_lago_id}: {exc}")
        except (ThrottledError, TransientError) as exc:
            # Before the POST, or a POST that never reached Lago: the row keeps (or regains) its state.
            later("LAGO_UNAVAILABLE", str(exc), pb.PENDING if posting else row.state)
    return counts


def _minor(row: Any, invoice: dict[str, Any]) -> int | str:
    """The application in the invoice's minor units, or why it cannot be sent."""
    from lago_netsuite.money import InexactAmountError, UnknownCurrencyError, to_minor

    currency = invoice.get("currency")
    try:
        minor = to_minor(Decimal(row.amount), str(currency))
    except (InexactAmountError, UnknownCurrencyError) as exc:
        return f"NetSuite amount {row.amount} cannot be paid on Lago invoice {invoice.get('number')}: {exc}"
    if minor <= 0:
        return f"NetSuite amount {row.amount} is not positive"
    return minor


# -- 3. the run ----------------------------------------------------------------------------------
def run(ctx: RunContext, *, netsuite: NetSuiteRestletHook, lago: LagoHook, since: str | None = None,
        until: str | None = None) -> dict[str, Any]:
    """One payments-back run; returns its report (also stored in ``sync_run``).

    ``since``/``until`` (ISO dates or timestamps, from the form) replay a range without moving the
    watermark; without them the run continues from the watermark and moves it forward.
    """
    from lago_netsuite.context import record_run
    from lago_netsuite.hooks.netsuite_payments import list_payments
    from lago_netsuite.ledger.documents import set_watermark

    engine = ctx.engine
    record_run(ctx, window_from=(since or "")[:10] or None, window_to=(until or "")[:10] or None)
    start = _since(engine, since)
    listed = [p for p in list_payments(netsuite, start) if _in_range(p, until)]
    listing = record_listing(engine, listed, ctx.run_id)
    if listed and since is None and until is None:
        set_watermark(engine, pb.WATERMARK_STREAM, max(p.last_modified for p in listed), run_id=ctx.run_id)
    s = ctx.settings
    sent = send_due(engine, lago, ctx.run_id, max_attempts=s.max_attempts, backoff_minutes=s.retry_backoff_minutes)
    report = build_report(engine, ctx.run_id, since=start, listing=listing, sending=sent)
    import json

    record_run(ctx, finished_at=utcnow(), summary=json.dumps(report, default=str))
    log.info("payments back: %s", render_text(report))
    return report


def build_report(engine: sa.Engine, run_id: str, *, since: str, listing: dict[str, Any],
                 sending: dict[str, int]) -> dict[str, Any]:
    """What went back to Lago in this run, what failed and why, what the accountant must look at."""
    t = pb.table
    with engine.connect() as conn:
        touched = list(conn.execute(sa.select(t).where(t.c.last_run_id == run_id).order_by(t.c.reference)))
        changed = sa.or_(t.c.voided_in_netsuite == 1, t.c.changed_in_netsuite == 1)
        flagged = list(conn.execute(sa.select(t).where(changed).where(t.c.state.in_((pb.SYNCED, pb.SENT)))
                                    .order_by(t.c.reference)))
        states: dict[str, int] = {str(state): int(n) for state, n in
                                  conn.execute(sa.select(t.c.state, sa.func.count()).group_by(t.c.state))}

    def item(r: Any) -> dict[str, Any]:
        return {"reference": r.reference, "netsuite": f"{r.netsuite_type} {r.netsuite_tranid or r.netsuite_payment_id}",
                "invoice_lago_id": r.invoice_lago_id, "amount": r.amount, "currency": r.currency,
                "amount_minor": r.amount_minor, "state": r.state, "lago_payment_id": r.lago_payment_id,
                "code": r.last_error_code, "reason": r.last_error_message}

    return {
        "kind": "payments_back", "run_id": run_id, "since": since, "listing": listing, "sending": sending,
        "went_back": [item(r) for r in touched if r.state == pb.SYNCED],
        "failed": [item(r) for r in touched if r.state == pb.FAILED],
        "waiting": [item(r) for r in touched if r.state in (pb.PENDING, pb.SENT)],
        "skipped": [item(r) for r in touched if r.state == pb.SKIPPED],
        "flagged_for_accountant": [item(r) for r in flagged],
        "ledger": states,
        "note": "A NetSuite payment voided or changed after it reached Lago is flagged, never reversed: " + NO_REVERSAL,
    }


def render_text(report: dict[str, Any]) -> str:
    """A few lines for the task log and the demo."""
    lines = [f"payments back (since {report['since']}): {len(report['went_back'])} went back to Lago, "
             f"{len(report['failed'])} failed, {len(report['waiting'])} waiting, "
             f"{len(report['flagged_for_accountant'])} flagged; {report['listing']['from_lago']} listed payments "
             "came from Lago and were not sent back"]
    lines += [f"  went back: {i['netsuite']} -> Lago payment {i['lago_payment_id']} on invoice {i['invoice_lago_id']}: "
              f"{i['amount']} {i['currency']} ({i['reference']})" for i in report["went_back"]]
    lines += [f"  FAILED: {i['reference']}: {i['reason']}" for i in report["failed"]]
    lines += [f"  FLAGGED: {i['reference']}: {i['reason']}" for i in report["flagged_for_accountant"]]
    return "\n".join(lines)


# -- 4. no loop: the forward sync meets a payment this DAG wrote ---------------------------------
def returned_payment_outcome(kind: str, lago_id: str, doc: Any, source_hash: str | None) -> Outcome | None:
    """The forward ledger outcome of a Lago payment that came from NetSuite (its reference is ours).

    It is linked to the NetSuite payment it came from (``netsuite_id``, see :func:`link_returned`)
    and skipped, never created in NetSuite a second time. None for any other document.
    """
    if kind != "payment" or not isinstance(doc, dict):
        return None
    parsed = pb.parse_reference(doc.get("reference"))
    if parsed is None:
        return None
    from lago_netsuite.ledger.claims import SKIPPED
    from lago_netsuite.ledger.records import Outcome

    ns_type, payment_id, _ = parsed
    return Outcome(
        external_id=f"lago-payment-{lago_id}", kind="payment", record_type="customerpayment", lago_id=lago_id,
        number=doc.get("reference"), source_hash=source_hash, state=SKIPPED, code="FROM_NETSUITE",
        reason=f"linked to NetSuite {ns_type} {payment_id}: recorded in NetSuite and written to Lago by "
               f"lago_netsuite_payments_back (reference {doc.get('reference')}); not created again",
    )


def link_returned(engine: sa.Engine, outcomes: list[Outcome]) -> None:
    """Set the NetSuite payment id on the forward ledger rows of returned payments."""
    from lago_netsuite.ledger import schema

    t = schema.ledger
    links = [(o.external_id, parsed[1]) for o in outcomes if o.code == "FROM_NETSUITE"
             for parsed in [pb.parse_reference(o.number)] if parsed]
    if not links:
        return
    with engine.begin() as conn:
        for external_id, payment_id in links:
            conn.execute(t.update().where(t.c.external_id == external_id).values(netsuite_id=payment_id))

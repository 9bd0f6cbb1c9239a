"""Changes to documents after generation, as they happen in Lago: a new invoice, a void, an edit.

The sandbox's admin endpoints use these to simulate activity during a sync (pages shifting while a
crawl runs, an invoice voided after it was synced, a document updated). Each returns a new
document and leaves its input untouched, so a dataset can always be served again from scratch.
"""

from __future__ import annotations

import copy
import random
from datetime import UTC, datetime, timedelta

from .common import iso_datetime, new_uuid, parse_datetime


def now_stamp() -> str:
    """The current UTC time in Lago's format."""
    return iso_datetime(datetime.now(UTC))


def later_stamp(previous: str | None) -> str:
    """Now, or one second after ``previous`` if the clock has not moved past it."""
    current = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    if previous:
        current = max(current, parse_datetime(previous) + timedelta(seconds=1))
    return iso_datetime(current)


def reissue_invoice(
    template: dict, rng: random.Random, sequence: int, issuing_date: str, after: str | None = None
) -> dict:
    """A new finalized, unpaid invoice shaped like ``template``: new ids, number, dates.

    ``created_at`` is now, and at least a second after ``after`` (the newest invoice's), so the new
    invoice lists first.

    The amounts and arithmetic are the template's (so it stays Lago-consistent); credit-note credits
    are not copied because a credit note balance can only be consumed once.
    """
    doc = copy.deepcopy(template)
    invoice_id = new_uuid(rng)
    created = later_stamp(max(filter(None, (template.get("created_at"), after))))
    doc.update(
        lago_id=invoice_id,
        issuing_date=issuing_date,
        created_at=created,
        updated_at=created,
        status="finalized",
        payment_status="pending",
        voided_at=None,
        payment_overdue=False,
        total_paid_amount_cents=0,
        sequential_id=sequence,
        number=f"{template['number'].rsplit('-', 1)[0]}-{sequence:05d}",
    )
    notes = sum(c["amount_cents"] for c in doc.get("credits", []) if c["item"]["type"] == "credit_note")
    if notes:
        doc["credits"] = [c for c in doc["credits"] if c["item"]["type"] != "credit_note"]
        doc["credit_notes_amount_cents"] -= notes
        doc["total_amount_cents"] += notes
    doc["total_due_amount_cents"] = doc["total_amount_cents"]
    for fee in doc.get("fees", []):
        fee.update(
            lago_id=new_uuid(rng),
            lago_invoice_id=invoice_id,
            created_at=created,
            payment_status="pending",
            succeeded_at=None,
            failed_at=None,
        )
    for credit in doc.get("credits", []):
        credit.update(lago_id=new_uuid(rng), invoice={"lago_id": invoice_id, "payment_status": "pending"})
    for tax in doc.get("applied_taxes", []):
        tax.update(lago_id=new_uuid(rng), lago_invoice_id=invoice_id, created_at=created)
    return doc


def void_invoice(invoice: dict) -> dict:
    """The invoice voided now (Lago keeps its number and amounts; ``voided_at`` is set)."""
    stamp = later_stamp(invoice.get("updated_at"))
    return {**invoice, "status": "voided", "voided_at": stamp, "updated_at": stamp, "payment_overdue": False}


def touched(document: dict, previous: dict | None) -> dict:
    """``document`` as stored: a replacement gets a new ``updated_at`` (payments have none)."""
    doc = dict(document)
    if previous is not None and ("updated_at" in doc or "updated_at" in previous):
        stamps = [s for s in (doc.get("updated_at"), previous.get("updated_at")) if s]
        doc["updated_at"] = later_stamp(max(stamps) if stamps else None)
    return doc

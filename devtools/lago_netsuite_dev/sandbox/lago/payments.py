"""Payment outcomes of an invoice: its payment status, payments, paid and due amounts, voiding.

Lago marks an invoice whose total is zero as paid; a finalized invoice is paid, pending (maybe
with a pending or processing provider payment) or failed; a voided invoice was finalized first
and voided later. Payments carry ``created_at`` only (no ``updated_at``) and always come after the
invoice they pay.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from .common import iso_datetime, new_uuid, parse_datetime
from .customers import CustomerProfile

_PROVIDER_STATUS = {
    "stripe": {
        "succeeded": "succeeded",
        "pending": "requires_action",
        "processing": "processing",
        "failed": "canceled",
    },
    "gocardless": {
        "succeeded": "paid_out",
        "pending": "pending_submission",
        "processing": "submitted",
        "failed": "failed",
    },
}


def payment_doc(
    rng: random.Random, invoice: dict, profile: CustomerProfile, amount: int, status: str, created: datetime
) -> dict:
    """One payment of ``amount`` towards ``invoice``; manual payments are always succeeded."""
    provider = profile.payment_provider
    customer = profile.doc
    return {
        "lago_id": new_uuid(rng),
        "lago_customer_id": customer["lago_id"],
        "external_customer_id": customer["external_id"],
        "invoice_ids": [invoice["lago_id"]],
        "invoice_numbers": [invoice["number"]],
        "lago_payable_id": invoice["lago_id"],
        "payable_type": "Invoice",
        "amount_cents": amount,
        "amount_currency": invoice["currency"],
        "status": _PROVIDER_STATUS[provider][status] if provider else status,
        "payment_status": status,
        "type": "provider" if provider else "manual",
        "reference": None if provider else f"WIRE-{rng.randrange(10**7, 10**8)}",
        "payment_provider_code": f"{provider}_prod" if provider else None,
        "payment_provider_type": provider,
        "external_payment_id": None,
        "provider_payment_id": (
            f"pi_{rng.getrandbits(64):016x}"
            if provider == "stripe"
            else f"PM{rng.getrandbits(40):010X}"
            if provider
            else None
        ),
        "provider_customer_id": customer["billing_configuration"]["provider_customer_id"],
        "next_action": {},
        "created_at": iso_datetime(created),
    }


def settle(
    rng: random.Random, invoice: dict, profile: CustomerProfile, as_of: date, *, cap: date | None = None
) -> list[dict]:
    """Decide ``invoice``'s payment outcome in place and return its payments (oldest first).

    With ``cap``, no payment or void is dated after that day (it is moved back to its last minutes).
    """
    status, total = invoice["status"], invoice["total_amount_cents"]
    created = parse_datetime(invoice["created_at"])
    later = created + timedelta(seconds=rng.randrange(3600, 15 * 86400))
    last = (datetime.combine(cap, datetime.max.time().replace(microsecond=0), tzinfo=later.tzinfo)
            if cap is not None else None)

    def capped(moment: datetime) -> datetime:
        return moment if last is None else max(created, min(moment, last - timedelta(minutes=30)))

    later = capped(later)
    payments: list[dict] = []
    outcome = "pending"
    if status == "finalized":
        roll = rng.random()
        if total == 0:
            outcome = "succeeded"
        elif roll < 0.65 or invoice["invoice_type"] == "credit" and roll < 0.9:
            outcome = "succeeded"
            if total > 1 and rng.random() < 0.1:
                first = rng.randint(1, total - 1)
                payments.append(payment_doc(rng, invoice, profile, first, "succeeded", later))
                later = capped(later + timedelta(seconds=rng.randrange(3600, 5 * 86400)))
                payments.append(payment_doc(rng, invoice, profile, total - first, "succeeded", later))
            else:
                payments.append(payment_doc(rng, invoice, profile, total, "succeeded", later))
        elif roll < 0.9:
            if profile.payment_provider and rng.random() < 0.5:
                kind = rng.choice(("pending", "processing"))
                payments.append(payment_doc(rng, invoice, profile, total, kind, later))
        else:
            outcome = "failed"
            if profile.payment_provider:
                payments.append(payment_doc(rng, invoice, profile, total, "failed", later))
    elif status == "voided":
        if profile.payment_provider and total and rng.random() < 0.3:
            outcome = "failed"
            payments.append(payment_doc(rng, invoice, profile, total, "failed", later))
        voided = capped(later + timedelta(seconds=rng.randrange(3600, 10 * 86400)))
        invoice["voided_at"] = iso_datetime(voided)
    paid = sum(p["amount_cents"] for p in payments if p["payment_status"] == "succeeded")
    invoice["payment_status"] = outcome
    invoice["total_paid_amount_cents"] = paid
    invoice["total_due_amount_cents"] = max(total - paid, 0)
    invoice["payment_overdue"] = (
        status == "finalized" and outcome != "succeeded" and invoice["payment_due_date"] < as_of.isoformat()
    )
    stamps = [invoice["created_at"]] + [p["created_at"] for p in payments]
    if invoice["voided_at"]:
        stamps.append(invoice["voided_at"])
    invoice["updated_at"] = max(stamps)
    succeeded_at = payments[-1]["created_at"] if outcome == "succeeded" and payments else None
    for fee in invoice["fees"]:
        fee["payment_status"] = outcome
        if outcome == "succeeded":
            fee["succeeded_at"] = succeeded_at or invoice["created_at"]
        elif outcome == "failed":
            fee["failed_at"] = payments[-1]["created_at"] if payments else invoice["updated_at"]
    for credit in invoice["credits"]:
        credit["invoice"]["payment_status"] = outcome
    return payments

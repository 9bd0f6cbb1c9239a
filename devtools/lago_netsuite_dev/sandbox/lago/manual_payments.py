"""``POST /api/v1/payments``: record a manual payment on an invoice, as Lago does.

Body ``{"payment": {"invoice_id", "amount_cents", "reference", "paid_at"?}}``. Lago answers 404
``invoice_not_found`` for an unknown invoice and 422 ``validation_errors`` when the amount is not a
positive integer, exceeds what is due, the reference is missing, or the invoice is not a finalized
invoice with something left to pay. The payment is stored (``GET /payments`` lists it, filterable by
``invoice_id`` and ``external_customer_id``) and the invoice's ``total_paid_amount_cents``,
``total_due_amount_cents``, ``payment_status`` (``succeeded`` once fully paid; partial payments
leave it ``pending``), ``payment_overdue`` and ``updated_at`` change. Lago keeps no idempotency on
the reference: posting the same payment twice records two payments — the client must look first.
"""

from __future__ import annotations

from typing import Any

from .common import iso_datetime, new_uuid
from .mutations import later_stamp
from .store import ApiError


def _invalid(field: str, code: str) -> ApiError:
    return ApiError(422, "Unprocessable Entity", "validation_errors", {field: [code]})


def create_manual_payment(state: Any, body: Any) -> dict[str, Any]:
    """Validate, store the payment and settle the invoice; returns ``{"payment": {...}}``."""
    from datetime import UTC, datetime

    payment = body.get("payment") if isinstance(body, dict) else None
    if not isinstance(payment, dict):
        raise ApiError(400, "BadRequest: param is missing or the value is empty: payment")
    invoices = state.collections["invoices"]
    invoice = invoices.by_id(str(payment.get("invoice_id")))
    if invoice is None:
        raise ApiError(404, "Not Found", "invoice_not_found")
    amount = payment.get("amount_cents")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise _invalid("amount_cents", "invalid_value")
    reference = payment.get("reference")
    if not isinstance(reference, str) or not reference.strip():
        raise _invalid("reference", "value_is_mandatory")
    if len(reference) > 40:
        raise _invalid("reference", "value_is_too_long")
    if invoice["status"] != "finalized" or invoice["payment_status"] == "succeeded":
        raise _invalid("invoice_id", "invalid_status" if invoice["status"] != "finalized" else "already_paid")
    due = invoice["total_due_amount_cents"]
    if amount > due:
        raise _invalid("amount_cents", "greater_than_remaining_invoice_amount")
    created = iso_datetime(datetime.now(UTC))
    customer = invoice["customer"]
    doc = {
        "lago_id": new_uuid(state.rng), "lago_customer_id": customer["lago_id"],
        "external_customer_id": customer["external_id"], "invoice_ids": [invoice["lago_id"]],
        "invoice_numbers": [invoice["number"]], "lago_payable_id": invoice["lago_id"], "payable_type": "Invoice",
        "amount_cents": amount, "amount_currency": invoice["currency"], "status": "succeeded",
        "payment_status": "succeeded", "type": "manual", "reference": reference,
        "payment_provider_code": None, "payment_provider_type": None, "external_payment_id": None,
        "provider_payment_id": None, "provider_customer_id": None, "next_action": {},
        "created_at": created,
    }
    state.collections["payments"].upsert(doc)
    paid = invoice["total_paid_amount_cents"] + amount
    settled = paid >= invoice["total_amount_cents"]
    status = "succeeded" if settled else invoice["payment_status"]
    updated = {**invoice, "total_paid_amount_cents": paid, "total_due_amount_cents": due - amount,
               "payment_status": status, "payment_overdue": invoice.get("payment_overdue", False) and not settled,
               "updated_at": later_stamp(invoice.get("updated_at"))}
    if settled:
        updated["fees"] = [{**f, "payment_status": "succeeded", "succeeded_at": created}
                           for f in invoice.get("fees", [])]
    invoices.upsert(updated)
    return {"payment": doc}

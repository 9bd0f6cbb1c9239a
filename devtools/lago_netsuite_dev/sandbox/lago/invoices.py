"""Invoice arithmetic, as Lago computes it, and the invoice document.

Order of operations (``Invoices::CalculateFeesService``): fees → progressive-billing credits
(allocated to the matching charge fees) → coupons (weighted over every fee's remaining amount,
stored with 5 decimals in ``precise_coupons_amount_cents``) → fee taxes → invoice taxes per tax
(``round(Σ fee base × rate / 100)``; the invoice total tax is the rounded sum of the unrounded
per-tax amounts) → credit-note credits and wallet (prepaid) credit, both after tax.
"""

from __future__ import annotations

import random
import uuid
from decimal import Decimal
from typing import Any

from .catalog import Catalog
from .common import COUPON_SCALE, HUNDRED, ZERO, new_uuid, quantize, round_half_up
from .fees import Fee, finalize_fee

D = Decimal

#: Blocks only ``GET /invoices/{lago_id}`` returns; the list leaves them out.
SHOW_ONLY_KEYS = (
    "billing_periods",
    "subscriptions",
    "fees",
    "credits",
    "error_details",
    "applied_invoice_custom_sections",
)


def apply_progressive_billing(fees: list[Fee], billed: dict[str, int]) -> int:
    """Credit usage already billed by a progressive-billing invoice to the matching charge fees.

    ``billed`` maps a charge key to the amount the progressive-billing invoice charged for it.
    Each matching fee absorbs at most its own remaining amount; returns the credited total.
    """
    total = 0
    for fee in fees:
        if fee.kind != "charge" or fee.charge_key not in billed:
            continue
        allocated = min(billed[fee.charge_key], fee.amount - round_half_up(fee.coupons))
        if allocated > 0:
            fee.coupons += allocated
            total += allocated
    return total


def coupon_amount(coupon: dict, base: int, fixed_amount: int | None) -> int:
    """What a coupon takes off ``base`` (the invoice subtotal after earlier before-tax credits)."""
    if base <= 0:
        return 0
    if coupon["coupon_type"] == "percentage":
        return round_half_up(D(base) * D(coupon["percentage_rate"]) / HUNDRED)
    return min(fixed_amount or 0, base)


def allocate_coupon(fees: list[Fee], amount: int, base: int) -> None:
    """Spread a coupon over the fees pro rata of what each still owes (Lago's weighting)."""
    if not base:
        return
    for fee in fees:
        share = D(amount) * (fee.amount - fee.coupons) / D(base)
        fee.coupons = quantize(fee.coupons + share, COUPON_SCALE)
        if fee.coupons > fee.amount:
            fee.coupons = D(fee.amount)


def invoice_taxes(
    fees: list[Fee], rates: dict[str, Decimal], exp: int
) -> tuple[list[tuple[str, Decimal, Decimal]], int]:
    """Finalize every fee's taxes and compute the invoice's taxes per tax code.

    Returns ``([(tax code, taxable base, unrounded tax)], invoice taxes_amount_cents)``; the
    invoice tax is ``round(Σ unrounded)``, so it may differ by a unit from the sum of the fee taxes
    or of the rounded per-tax amounts — as it does in Lago.
    """
    bases: dict[str, Decimal] = {}
    for fee in fees:
        finalize_fee(fee, rates, exp)
        base = fee.amount - fee.coupons
        for code in fee.taxes:
            bases[code] = bases.get(code, ZERO) + base
    per_tax = [(code, base, base * rates[code] / HUNDRED) for code, base in bases.items()]
    return per_tax, round_half_up(sum((t for _, _, t in per_tax), ZERO))


def applied_tax_docs(
    rng: random.Random,
    catalog: Catalog,
    invoice_id: str,
    currency: str,
    created_at: str,
    per_tax: list[tuple[str, Decimal, Decimal]],
) -> list[dict]:
    """The invoice's ``applied_taxes`` block."""
    docs = []
    for code, base, amount in per_tax:
        tax = catalog.tax_by_code[code]
        docs.append(
            {
                "lago_id": new_uuid(rng),
                "lago_invoice_id": invoice_id,
                "lago_tax_id": tax["lago_id"],
                "tax_name": tax["name"],
                "tax_code": code,
                "tax_rate": tax["rate"],
                "tax_description": tax["description"],
                "amount_cents": round_half_up(amount),
                "amount_currency": currency,
                "fees_amount_cents": round_half_up(base),
                "created_at": created_at,
            }
        )
    return docs


def credit_doc(
    rng: random.Random,
    invoice_id: str,
    currency: str,
    amount: int,
    *,
    kind: str,
    item_id: str,
    code: str,
    name: str,
    description: str | None = None,
) -> dict:
    """One ``credits[]`` row: a coupon or progressive-billing credit (before tax) or a credit-note credit."""
    return {
        "lago_id": new_uuid(rng),
        "amount_cents": amount,
        "amount_currency": currency,
        "before_taxes": kind != "credit_note",
        "item": {"lago_item_id": item_id, "type": kind, "code": code, "name": name, "description": description},
        "invoice": {"lago_id": invoice_id, "payment_status": "pending"},
    }


def consume_credit_notes(
    rng: random.Random, invoice_id: str, currency: str, remaining: int, available: list[dict], updated_at: str
) -> tuple[list[dict], int]:
    """Apply the customer's available credit notes (oldest first) to ``remaining``, after tax.

    Mutates each consumed credit note's balance, credit status and ``updated_at``.
    Returns the credit rows and the total credited.
    """
    rows, total = [], 0
    for note in available:
        if remaining - total <= 0:
            break
        amount = min(note["balance_amount_cents"], remaining - total)
        if amount <= 0:
            continue
        note["balance_amount_cents"] -= amount
        if note["balance_amount_cents"] == 0:
            note["credit_status"] = "consumed"
        note["updated_at"] = max(note["updated_at"], updated_at)
        rows.append(
            credit_doc(
                rng,
                invoice_id,
                currency,
                amount,
                kind="credit_note",
                item_id=note["lago_id"],
                code=note["number"],
                name=note["invoice_number"],
                description=note["description"],
            )
        )
        total += amount
    available[:] = [n for n in available if n["balance_amount_cents"] > 0]
    return rows, total


COST_CENTERS = ("sales", "support", "platform", "partners")


def invoice_metadata(profile: Any, invoice_id: str, created_at: str) -> list[dict]:
    """Invoice metadata as Lago serializes it: a ``cost_center`` key on the invoices of four
    customers in five (the demo maps it to a custom body field). Derived from the customer and the
    invoice id, so the dataset's random draws — and every other value — stay as they were."""
    if profile.index % 5 == 4:
        return []
    return [{"lago_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"lago-invoice-metadata:{invoice_id}")),
             "key": "cost_center", "value": COST_CENTERS[profile.index % len(COST_CENTERS)],
             "created_at": created_at}]


def invoice_doc(**fields: object) -> dict:
    """Assemble an invoice document with every field of Lago's serializer, in its order."""
    doc = {key: fields.get(key) for key in _INVOICE_FIELDS}
    for key in (
        "fees",
        "credits",
        "applied_taxes",
        "subscriptions",
        "billing_periods",
        "metadata",
        "error_details",
        "applied_invoice_custom_sections",
    ):
        if doc[key] is None:
            doc[key] = []
    if "applied_usage_thresholds" in fields:
        doc["applied_usage_thresholds"] = fields["applied_usage_thresholds"]
    return doc


_INVOICE_FIELDS = (
    "lago_id",
    "billing_entity_code",
    "sequential_id",
    "number",
    "purchase_order_number",
    "issuing_date",
    "payment_due_date",
    "net_payment_term",
    "invoice_type",
    "status",
    "payment_status",
    "payment_dispute_lost_at",
    "payment_overdue",
    "currency",
    "fees_amount_cents",
    "taxes_amount_cents",
    "progressive_billing_credit_amount_cents",
    "coupons_amount_cents",
    "credit_notes_amount_cents",
    "sub_total_excluding_taxes_amount_cents",
    "sub_total_including_taxes_amount_cents",
    "total_amount_cents",
    "total_due_amount_cents",
    "total_paid_amount_cents",
    "total_offsetted_credit_note_amount_cents",
    "prepaid_credit_amount_cents",
    "prepaid_granted_credit_amount_cents",
    "prepaid_purchased_credit_amount_cents",
    "file_url",
    "xml_url",
    "web_url",
    "version_number",
    "self_billed",
    "created_at",
    "updated_at",
    "voided_at",
    "customer",
    "billing_periods",
    "subscriptions",
    "fees",
    "credits",
    "metadata",
    "applied_taxes",
    "error_details",
    "applied_invoice_custom_sections",
)


def list_view(invoice: dict) -> dict:
    """The invoice as ``GET /invoices`` lists it: without fees, credits, subscriptions, periods."""
    return {k: v for k, v in invoice.items() if k not in SHOW_ONLY_KEYS}

"""Credit notes as Lago computes them (``CreditNotes::CreateService`` and ``ApplyTaxesService``).

Items carry pre-tax amounts per fee. The coupons that fee absorbed are taken back pro rata
(``coupons_adjustment``), taxes are computed per tax on what is left, and
``total = sub_total_excluding_taxes + taxes``, split between credit (a balance later invoices
consume, after tax) and refund.
"""

from __future__ import annotations

import random
from decimal import Decimal

from .catalog import Catalog
from .common import COUPON_SCALE, HUNDRED, ZERO, new_uuid, quantize, rails_decimal, round_half_up
from .fees import Fee

D = Decimal
_REASONS = ("duplicated_charge", "product_unsatisfactory", "order_change", "order_cancellation", "other")


def item_base(item_amount: int, fee_amount: int, fee_coupons: Decimal) -> tuple[Decimal, Decimal]:
    """(pre-tax base, prorated coupon) of a credit-note item: the item net of the fee's coupons."""
    if not fee_amount:
        return D(item_amount), ZERO
    prorated = fee_coupons * D(item_amount) / D(fee_amount)
    return D(item_amount) - prorated, prorated


def build_credit_note(
    rng: random.Random,
    catalog: Catalog,
    invoice: dict,
    fees: list[Fee],
    rates: dict[str, Decimal],
    *,
    issuing_date: str,
    created_at: str,
    refundable: int,
) -> dict:
    """Credit part of some of ``invoice``'s fees; ``refundable`` caps the refund (what was paid)."""
    candidates = [f for f in fees if f.amount > 0]
    chosen = rng.sample(candidates, min(len(candidates), rng.choice((1, 1, 2, 3))))
    cn_id = new_uuid(rng)
    currency = invoice["currency"]
    items: list[dict] = []
    per_tax: dict[str, Decimal] = {}
    bases, adjustment = ZERO, ZERO
    for fee in chosen:
        amount = fee.amount if rng.random() < 0.4 else rng.randint(1, fee.amount)
        base, prorated = item_base(amount, fee.amount, fee.coupons)
        bases += base
        adjustment += prorated
        for code in fee.taxes:
            per_tax[code] = per_tax.get(code, ZERO) + base
        items.append(
            {
                "lago_id": new_uuid(rng),
                "amount_cents": amount,
                "precise_amount_cents": rails_decimal(D(amount)),
                "amount_currency": currency,
                "fee": fee.doc,
            }
        )
    applied, precise_taxes, rate_sum = [], ZERO, ZERO
    for code, base in per_tax.items():
        tax = catalog.tax_by_code[code]
        tax_amount = base * rates[code] / HUNDRED
        precise_taxes += tax_amount
        if bases:
            rate_sum += base / bases * rates[code]
        applied.append(
            {
                "lago_id": new_uuid(rng),
                "lago_credit_note_id": cn_id,
                "lago_tax_id": tax["lago_id"],
                "tax_name": tax["name"],
                "tax_code": code,
                "tax_rate": tax["rate"],
                "tax_description": tax["description"],
                "base_amount_cents": round_half_up(base),
                "amount_cents": round_half_up(tax_amount),
                "amount_currency": currency,
                "created_at": created_at,
            }
        )
    precise_taxes = quantize(precise_taxes, COUPON_SCALE)
    adjustment = quantize(adjustment, COUPON_SCALE)
    items_total = sum((i["amount_cents"] for i in items), 0)
    sub_total = round_half_up(items_total - adjustment)
    taxes = round_half_up(precise_taxes)
    total = sub_total + taxes
    refund = 0
    if refundable > 0 and rng.random() < 0.6:
        refund = min(refundable, total if rng.random() < 0.6 else rng.randint(0, total))
    # On an invoice still (partly) due, Lago offsets the credit against what is due.
    due = max(0, invoice["total_amount_cents"] - invoice.get("total_paid_amount_cents", 0))
    offset = min(total - refund, due) if due and rng.random() < 0.7 else 0
    credit = total - refund - offset
    voided = credit > 0 and rng.random() < 0.05
    customer = invoice["customer"]
    return {
        "lago_id": cn_id,
        "billing_entity_code": invoice["billing_entity_code"],
        "sequential_id": 1,
        "number": f"{invoice['number']}-CN001",
        "lago_invoice_id": invoice["lago_id"],
        "invoice_number": invoice["number"],
        "purchase_order_number": None,
        "issuing_date": issuing_date,
        "credit_status": ("voided" if voided else "available") if credit else None,
        "refund_status": (rng.choice(("pending", "succeeded", "succeeded", "succeeded", "failed")) if refund else None),
        "reason": rng.choice(_REASONS),
        "description": rng.choice((None, "Service credit", "Geste commercial — 返金")),
        "currency": currency,
        "total_amount_cents": total,
        "precise_total_amount_cents": rails_decimal(D(items_total) - adjustment + precise_taxes),
        "taxes_amount_cents": taxes,
        "precise_taxes_amount_cents": rails_decimal(precise_taxes),
        "sub_total_excluding_taxes_amount_cents": sub_total,
        "balance_amount_cents": 0 if voided else credit,
        "credit_amount_cents": credit,
        "refund_amount_cents": refund,
        "offset_amount_cents": offset,
        "coupons_adjustment_amount_cents": round_half_up(adjustment),
        "taxes_rate": float(round(rate_sum, 5)),
        "created_at": created_at,
        "updated_at": created_at,
        "file_url": None,
        "xml_url": None,
        "self_billed": False,
        "items": items,
        "applied_taxes": applied,
        "error_details": [],
        "customer": customer,
    }

"""Check that a Lago invoice or credit note satisfies Lago's own arithmetic.

Used by the generator's tests and by anyone who needs to know whether a document Lago sent is
internally consistent before mapping it (domain.md §1). Each check returns a list of problems,
empty when the document is consistent. Rounding is half away from zero, as in Ruby.

Invoice identities (``Invoices::ComputeAmountsFromFees``):
``sub_total_excl = fees - progressive_billing_credit - coupons``;
``taxes = round(Σ fee (amount - precise_coupons) × taxes_rate / 100)`` (from the fees, when present);
``sub_total_incl = sub_total_excl + taxes``; ``total = sub_total_incl - credit_notes - prepaid >= 0``.
"""

from __future__ import annotations

from decimal import Decimal

from lago_netsuite import money

from .common import COUPON_SCALE, HUNDRED, ZERO, quantize, round_half_up, to_decimal

_INT_FIELDS = (
    "fees_amount_cents",
    "taxes_amount_cents",
    "progressive_billing_credit_amount_cents",
    "coupons_amount_cents",
    "credit_notes_amount_cents",
    "sub_total_excluding_taxes_amount_cents",
    "sub_total_including_taxes_amount_cents",
    "total_amount_cents",
    "prepaid_credit_amount_cents",
)
_CREDIT_BEFORE_TAX = {"coupon": True, "invoice": True, "credit_note": False}


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_fee(fee: dict, currency: str) -> list[str]:
    """Problems with one fee's own arithmetic (amount, units × unit price, coupons, taxes)."""
    problems: list[str] = []
    tag = f"fee {fee.get('lago_id')}"
    for key in ("amount_cents", "taxes_amount_cents", "total_amount_cents", "sub_total_excluding_taxes_amount_cents"):
        if not _is_int(fee.get(key)):
            return [f"{tag}: {key} is not an integer: {fee.get(key)!r}"]
    for key in ("units", "precise_unit_amount", "precise_coupons_amount_cents"):
        if not isinstance(fee.get(key), str):
            problems.append(f"{tag}: {key} should be a decimal string, got {type(fee.get(key)).__name__}")
    for key in ("precise_amount", "taxes_precise_amount", "taxes_rate"):
        if not isinstance(fee.get(key), (int, float)) or isinstance(fee.get(key), bool):
            problems.append(f"{tag}: {key} should be a JSON number, got {type(fee.get(key)).__name__}")
    if problems:
        return problems
    if fee.get("amount_currency") != currency:
        problems.append(f"{tag}: currency {fee.get('amount_currency')} differs from the invoice's {currency}")
    scale = Decimal(10) ** money.exponent(currency)
    amount = fee["amount_cents"]
    units, unit_amount = Decimal(fee["units"]), Decimal(fee["precise_unit_amount"])
    if units < 0 or amount < 0:
        problems.append(f"{tag}: negative units or amount")
    if abs(to_decimal(fee["precise_amount"]) * scale - amount) > Decimal("0.5000001"):
        problems.append(f"{tag}: amount_cents {amount} is not round(precise_amount {fee['precise_amount']})")
    if units and abs(units * unit_amount * scale - amount) > Decimal("0.5") + units * scale * Decimal("1e-15"):
        problems.append(f"{tag}: units {units} × precise_unit_amount {unit_amount} does not give {amount}")
    coupons = Decimal(fee["precise_coupons_amount_cents"])
    if coupons < 0 or coupons > amount:
        problems.append(f"{tag}: precise_coupons_amount_cents {coupons} outside [0, {amount}]")
    base = amount - coupons
    if fee["sub_total_excluding_taxes_amount_cents"] != round_half_up(base):
        problems.append(f"{tag}: sub_total_excluding_taxes_amount_cents is not round(amount - coupons)")
    expected_tax = round_half_up(base * to_decimal(fee["taxes_rate"]) / HUNDRED)
    if fee["taxes_amount_cents"] != expected_tax:
        problems.append(
            f"{tag}: taxes_amount_cents {fee['taxes_amount_cents']} != round({base} × "
            f"{fee['taxes_rate']}%) = {expected_tax}"
        )
    if fee["total_amount_cents"] != amount + fee["taxes_amount_cents"]:
        problems.append(f"{tag}: total_amount_cents != amount_cents + taxes_amount_cents")
    return problems


def check_invoice_arithmetic(invoice: dict) -> list[str]:
    """Problems with an invoice's amounts; fee and credit checks run when the blocks are present.

    A list item (no ``fees``) is checked on its totals and applied taxes only.
    """
    tag = f"invoice {invoice.get('number')} ({invoice.get('lago_id')})"
    problems = [f"{tag}: {k} is not an integer: {invoice.get(k)!r}" for k in _INT_FIELDS if not _is_int(invoice.get(k))]
    if problems:
        return problems
    currency = invoice.get("currency")
    if not isinstance(currency, str) or currency.upper() not in money.KNOWN_CURRENCIES:
        return [f"{tag}: unknown currency {currency!r}"]
    amounts: dict[str, int] = {k: invoice[k] for k in _INT_FIELDS}
    g = amounts.__getitem__
    sub_excl = g("fees_amount_cents") - g("progressive_billing_credit_amount_cents") - g("coupons_amount_cents")
    if g("sub_total_excluding_taxes_amount_cents") != sub_excl:
        problems.append(
            f"{tag}: sub_total_excluding_taxes {g('sub_total_excluding_taxes_amount_cents')} != fees - "
            f"progressive billing - coupons = {sub_excl}"
        )
    if g("sub_total_including_taxes_amount_cents") != g("sub_total_excluding_taxes_amount_cents") + g(
        "taxes_amount_cents"
    ):
        problems.append(f"{tag}: sub_total_including_taxes != sub_total_excluding_taxes + taxes")
    total = (
        g("sub_total_including_taxes_amount_cents") - g("credit_notes_amount_cents") - g("prepaid_credit_amount_cents")
    )
    if g("total_amount_cents") != total:
        problems.append(f"{tag}: total {g('total_amount_cents')} != sub_total_incl - credit notes - prepaid = {total}")
    if g("total_amount_cents") < 0:
        problems.append(f"{tag}: negative total")
    problems += _check_applied_taxes(tag, invoice)
    fees = invoice.get("fees")
    if fees:
        problems += _check_fees(tag, invoice, fees, currency)
    if invoice.get("credits") is not None and fees is not None:
        problems += _check_credits(tag, invoice)
    return problems


def _check_applied_taxes(tag: str, invoice: dict) -> list[str]:
    problems, estimate, slack = [], ZERO, Decimal("0.5")
    for tax in invoice.get("applied_taxes") or []:
        rate = to_decimal(tax["tax_rate"])
        exact = tax["fees_amount_cents"] * rate / HUNDRED
        bound = Decimal("0.5") + Decimal("0.5") * rate / HUNDRED + Decimal("1e-9")
        if abs(tax["amount_cents"] - exact) > bound:
            problems.append(
                f"{tag}: applied tax {tax['tax_code']} {tax['amount_cents']} is not "
                f"{tax['fees_amount_cents']} × {rate}%"
            )
        estimate += exact
        slack += Decimal("0.5") * rate / HUNDRED
    if abs(invoice["taxes_amount_cents"] - estimate) > slack + Decimal("1e-9"):
        problems.append(
            f"{tag}: taxes_amount_cents {invoice['taxes_amount_cents']} far from Σ applied taxes {estimate}"
        )
    return problems


def _check_fees(tag: str, invoice: dict, fees: list[dict], currency: str) -> list[str]:
    problems: list[str] = []
    for fee in fees:
        problems += check_fee(fee, currency)
    if problems:
        return problems
    if sum(f["amount_cents"] for f in fees) != invoice["fees_amount_cents"]:
        problems.append(f"{tag}: fees_amount_cents != Σ fee amount_cents")
    bases = [
        (f["amount_cents"] - Decimal(f["precise_coupons_amount_cents"]), to_decimal(f["taxes_rate"])) for f in fees
    ]
    expected = round_half_up(sum((b * r / HUNDRED for b, r in bases), ZERO))
    if invoice["taxes_amount_cents"] != expected:
        problems.append(
            f"{tag}: taxes_amount_cents {invoice['taxes_amount_cents']} != round(Σ fee base × rate) = {expected}"
        )
    allocated = sum((Decimal(f["precise_coupons_amount_cents"]) for f in fees), ZERO)
    before_tax = invoice["coupons_amount_cents"] + invoice["progressive_billing_credit_amount_cents"]
    if abs(allocated - before_tax) > COUPON_SCALE * (2 * len(fees) + 1):
        problems.append(
            f"{tag}: Σ precise_coupons_amount_cents {allocated} != coupons + progressive billing {before_tax}"
        )
    return problems


def _check_credits(tag: str, invoice: dict) -> list[str]:
    problems, sums = [], {"coupon": 0, "invoice": 0, "credit_note": 0}
    for credit in invoice["credits"]:
        kind = credit.get("item", {}).get("type")
        if kind not in sums or not _is_int(credit.get("amount_cents")):
            problems.append(f"{tag}: malformed credit {credit.get('lago_id')}")
            continue
        sums[kind] += credit["amount_cents"]
        if credit.get("before_taxes") is not _CREDIT_BEFORE_TAX[kind]:
            problems.append(
                f"{tag}: {kind} credit {credit.get('lago_id')} has before_taxes={credit.get('before_taxes')}"
            )
    for kind, field in (
        ("coupon", "coupons_amount_cents"),
        ("invoice", "progressive_billing_credit_amount_cents"),
        ("credit_note", "credit_notes_amount_cents"),
    ):
        if sums[kind] != invoice[field]:
            problems.append(f"{tag}: {field} {invoice[field]} != Σ {kind} credits {sums[kind]}")
    return problems


def check_credit_note_arithmetic(note: dict) -> list[str]:
    """Problems with a credit note: items net of coupons, taxes, total, credit/refund/offset split."""
    tag = f"credit note {note.get('number')} ({note.get('lago_id')})"
    items = note.get("items") or []
    adjustment, per_rate_base, item_sum = ZERO, ZERO, 0
    for item in items:
        fee = item["fee"]
        amount, fee_amount = item["amount_cents"], fee["amount_cents"]
        if not _is_int(amount) or amount < 0 or amount > fee_amount:
            return [f"{tag}: item {item.get('lago_id')} amount {amount!r} outside [0, fee amount {fee_amount}]"]
        coupons = Decimal(fee["precise_coupons_amount_cents"])
        prorated = coupons * Decimal(amount) / Decimal(fee_amount) if fee_amount else ZERO
        adjustment += prorated
        per_rate_base += (amount - prorated) * to_decimal(fee["taxes_rate"]) / HUNDRED
        item_sum += amount
    problems: list[str] = []
    adjustment = quantize(adjustment, COUPON_SCALE)
    if note["coupons_adjustment_amount_cents"] != round_half_up(adjustment):
        problems.append(f"{tag}: coupons_adjustment_amount_cents != round(Σ items × fee coupons / fee amount)")
    if note["sub_total_excluding_taxes_amount_cents"] != round_half_up(item_sum - adjustment):
        problems.append(f"{tag}: sub_total_excluding_taxes != round(Σ items - coupons adjustment)")
    precise_taxes = Decimal(note["precise_taxes_amount_cents"])
    if abs(precise_taxes - per_rate_base) > COUPON_SCALE:
        problems.append(f"{tag}: precise_taxes_amount_cents {precise_taxes} != Σ item base × rate {per_rate_base}")
    if note["taxes_amount_cents"] != round_half_up(precise_taxes):
        problems.append(f"{tag}: taxes_amount_cents != round(precise_taxes_amount_cents)")
    for tax in note.get("applied_taxes") or []:
        rate = to_decimal(tax["tax_rate"])
        bound = Decimal("0.5") + Decimal("0.5") * rate / HUNDRED + Decimal("1e-9")
        if abs(tax["amount_cents"] - tax["base_amount_cents"] * rate / HUNDRED) > bound:
            problems.append(f"{tag}: applied tax {tax['tax_code']} is not base × rate")
    total = note["total_amount_cents"]
    if total != note["sub_total_excluding_taxes_amount_cents"] + note["taxes_amount_cents"]:
        problems.append(f"{tag}: total != sub_total_excluding_taxes + taxes")
    if note["credit_amount_cents"] + note["refund_amount_cents"] + note.get("offset_amount_cents", 0) != total:
        problems.append(f"{tag}: credit + refund + offset != total")
    if not 0 <= note["balance_amount_cents"] <= note["credit_amount_cents"]:
        problems.append(f"{tag}: balance {note['balance_amount_cents']} outside [0, credit]")
    return problems

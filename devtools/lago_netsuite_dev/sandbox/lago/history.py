"""One customer's billing history: its invoices in date order, their credit notes and payments.

A customer's invoices are generated together because they depend on each other the way Lago's
do: a progressive-billing invoice is credited on the next subscription invoice, a credit note's
balance is consumed by the customer's next finalized invoices, the first subscription invoice
carries the welcome coupon. The content of invoice ``index`` comes from its own RNG seeded with
``(seed, index)``; only those few cross-invoice facts flow through :class:`CustomerHistory`.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any, NamedTuple

from lago_netsuite import money

from .blocks import subscription_blocks, wallet_doc
from .catalog import Catalog
from .common import at, new_uuid, period_bounds
from .credit_notes import build_credit_note
from .customers import CustomerProfile
from .definitions import ADD_ONS, METRICS, TAXES, convert
from .fees import Fee, FeeBuilder
from .invoices import (
    allocate_coupon,
    applied_tax_docs,
    apply_progressive_billing,
    consume_credit_notes,
    coupon_amount,
    credit_doc,
    invoice_doc,
    invoice_metadata,
    invoice_taxes,
)
from .payments import settle
from .pricing import PricedCharge, draw_units, priced_charges

D = Decimal
TAX_RATES: dict[str, Decimal] = {code: rate for code, _, rate, _ in TAXES}
LOYALTY_MINOR = {"USD": 5000, "EUR": 5000, "JPY": 5000, "KWD": 50000}
_METRIC_RANGES = {code: (kind, lo, hi) for code, _, _, kind, lo, hi, _ in METRICS}
_TYPE_WEIGHTS = (
    ("subscription", 0.70),
    ("progressive_billing", 0.07),
    ("advance_charges", 0.05),
    ("one_off", 0.09),
    ("add_on", 0.02),
    ("credit", 0.07),
)


class InvoiceBundle(NamedTuple):
    """An invoice (full, as ``GET /invoices/{id}`` returns it), its credit notes and payments."""

    invoice: dict
    credit_notes: list[dict]
    payments: list[dict]


class CustomerHistory:
    """Generates the invoices ``first_index .. first_index + count - 1`` of one customer."""

    def __init__(
        self,
        seed: int,
        catalog: Catalog,
        profile: CustomerProfile,
        first_index: int,
        count: int,
        start: date,
        end: date,
        credit_note_share: float,
        *,
        as_of_end: bool = False,
    ) -> None:
        self.seed, self.catalog, self.profile = seed, catalog, profile
        self.first_index, self.count = first_index, count
        self.start, self.end, self.as_of = start, end, end + timedelta(days=1)
        self.credit_note_share = credit_note_share
        self.cap = end if as_of_end else None  # no follow-up document after this day
        self.exp = money.exponent(profile.currency)
        self.sequence = 0
        self.subscription_invoices = 0
        self.pending_pb: tuple[dict, dict[str, dict]] | None = None
        self.available_notes: list[dict] = []
        self.prepaid_used = 0
        self.topped_up = 0

    def timeline(self) -> list[tuple[date, str, str]]:
        """(issuing date, invoice type, status) of each invoice, drawn from the customer's RNG."""
        rng = random.Random(f"lago-timeline:{self.seed}:{self.profile.index}")
        low = max(self.start, self.profile.subscription_started + timedelta(days=1))
        low = low if low <= self.end else self.start
        span = (self.end - low).days
        days = sorted(low + timedelta(days=rng.randint(0, span)) for _ in range(self.count))
        plan, wallet = self.profile.plan_code, self.profile.has_wallet
        out = []
        for day in days:
            roll, acc, kind = rng.random(), 0.0, "subscription"
            for name, weight in _TYPE_WEIGHTS:
                acc += weight
                if roll < acc:
                    kind = name
                    break
            if kind in ("progressive_billing", "advance_charges") and plan == "starter":
                kind = "subscription"
            if kind == "credit" and not wallet:
                kind = "one_off"
            status, roll = "finalized", rng.random()
            if kind in ("subscription", "one_off") and (self.end - day).days < 7 and roll < 0.35:
                status = "draft"
            elif kind not in ("credit",) and roll < 0.03:
                status = "voided"
            elif kind not in ("credit", "progressive_billing") and roll < 0.045:
                status = "failed"
            elif kind not in ("credit", "progressive_billing") and roll < 0.055:
                status = "pending"
            out.append((day, kind, status))
        return out

    def generate(self) -> tuple[list[InvoiceBundle], dict | None]:
        """All bundles of this customer in date order, and its wallet (if it has one)."""
        bundles = [
            self._invoice(self.first_index + offset, day, kind, status)
            for offset, (day, kind, status) in enumerate(self.timeline())
        ]
        wallet = wallet_doc(self.seed, self.profile, self.exp, self.prepaid_used, self.topped_up)
        return bundles, wallet if self.profile.has_wallet else None

    def _fees(self, rng: random.Random, fb: FeeBuilder, kind: str, day: date) -> tuple[list[Fee], dict]:
        """The fees of one invoice by type, plus type-specific extras for the document."""
        p = self.profile
        extras: dict[str, Any] = {}
        lines = priced_charges(self.catalog, p.plan_code, p.currency)
        if kind == "subscription":
            plan = self.catalog.plan_defs[p.plan_code]
            first = self.subscription_invoices == 0
            prorate = rng.randrange(1, 30) if first and rng.random() < 0.5 else None
            fees = [
                fb.subscription(
                    convert(plan.amount_usd, p.currency, flat=True),
                    prorate_days=prorate,
                    in_advance=plan.pay_in_advance,
                )
            ]
            billed_units = self.pending_pb[1] if self.pending_pb else {}
            for line in lines:
                if line.charge.pay_in_advance or (line.charge.metric == "beta_feature" and rng.random() > 0.04):
                    continue
                fees.append(fb.charge(line, self._units(rng, line) + billed_units.get(_key(line), {}).get("units", 0)))
            for index, (add_on, units) in enumerate(plan.fixed_charges):
                fees.append(fb.fixed_charge(add_on, units, self.catalog.charge_ids[(p.plan_code, "fixed", index)]))
            if plan.minimum_commitment_usd is not None:
                commitment = money.to_minor(convert(plan.minimum_commitment_usd, p.currency, flat=True), p.currency)
                shortfall = commitment - sum(f.amount for f in fees)
                if shortfall > 0:
                    fees.append(fb.commitment(shortfall))
            return fees, extras
        if kind == "progressive_billing":
            fees = [
                fb.charge(line, self._units(rng, line, partial=True))
                for line in lines
                if line.charge.metric in ("api_calls", "data_transfer_gb")
            ]
            extras["applied_usage_thresholds"] = [
                {
                    "lifetime_usage_amount_cents": sum(f.amount for f in fees),
                    "created_at": fb.created_at,
                    "usage_threshold": {
                        "lago_id": new_uuid(rng),
                        "threshold_display_name": "Usage threshold",
                        "amount_cents": max(1, sum(f.amount for f in fees) // 2),
                        "recurring": False,
                        "created_at": fb.created_at,
                        "updated_at": fb.created_at,
                    },
                }
            ]
            return fees, extras
        if kind == "advance_charges":
            seats = [line for line in lines if line.charge.pay_in_advance]
            return [
                fb.charge(seats[0], D(rng.randint(1, 20)), in_advance=True) for _ in range(rng.randint(1, 3))
            ], extras
        if kind == "credit":
            credits = convert(D(rng.choice((100, 250, 500, 1000, 2500))), p.currency, flat=True)
            return [fb.credit(credits, new_uuid(rng))], extras
        codes = [code for code, *_ in ADD_ONS]
        picked = [rng.choice(codes)] if kind == "add_on" else rng.sample(codes, rng.randint(1, 3))
        fees = []
        for code in picked:
            units = D(rng.choice(("1", "1", "2", "2.5", "3.75", "0.5"))) if code == "training" else D(rng.randint(1, 3))
            fees.append(fb.add_on(code, units, day))
        return fees, extras

    def _units(self, rng: random.Random, line: PricedCharge, partial: bool = False) -> Decimal:
        """Usage for a charge line; ``partial`` is the share a mid-period (progressive) invoice sees."""
        kind, low, high = _METRIC_RANGES[line.charge.metric]
        huge = line.charge.metric == "api_calls" and self.profile.plan_code == "enterprise" and rng.random() < 0.015
        units = draw_units(rng, kind, low, high, huge=huge)
        if not partial:
            return units
        step = D(1).scaleb(int(units.as_tuple().exponent))
        return (units * rng.randint(20, 60) / 100).quantize(step, rounding=ROUND_DOWN)

    def _invoice(self, index: int, day: date, kind: str, status: str) -> InvoiceBundle:
        rng = random.Random((self.seed << 40) + index)
        p, catalog, currency = self.profile, self.catalog, self.profile.currency
        invoice_id = new_uuid(rng)
        created_at = at(day, rng.randrange(0, 6 * 3600))
        fb = FeeBuilder(rng, catalog, p, invoice_id, created_at, period_bounds(day))
        fees, extras = self._fees(rng, fb, kind, day)
        credits: list[dict] = []
        fees_amount = sum(f.amount for f in fees)
        pb_total = 0
        if kind == "subscription" and self.pending_pb:
            pb_invoice, billed = self.pending_pb
            pb_total = apply_progressive_billing(fees, {k: v["amount"] for k, v in billed.items()})
            if pb_total:
                credits.append(
                    credit_doc(
                        rng,
                        invoice_id,
                        currency,
                        pb_total,
                        kind="invoice",
                        item_id=pb_invoice["lago_id"],
                        code=pb_invoice["number"],
                        name=pb_invoice["number"],
                    )
                )
        sub_total, coupons_total = fees_amount - pb_total, 0
        if kind == "subscription":
            for code in self._coupons():
                coupon = catalog.coupon_by_code[code]
                amount = coupon_amount(coupon, sub_total, LOYALTY_MINOR[currency])
                if amount <= 0:
                    continue
                allocate_coupon(fees, amount, sub_total)
                credits.append(
                    credit_doc(
                        rng,
                        invoice_id,
                        currency,
                        amount,
                        kind="coupon",
                        item_id=coupon["lago_id"],
                        code=code,
                        name=coupon["name"],
                    )
                )
                sub_total -= amount
                coupons_total += amount
            self.subscription_invoices += 1
            self.pending_pb = None
        per_tax, taxes = invoice_taxes(fees, TAX_RATES, self.exp)
        including = sub_total + taxes
        notes_total = prepaid = 0
        if status == "finalized" and kind != "credit":
            usable = [n for n in self.available_notes if n["issuing_date"] < day.isoformat()]
            rows, notes_total = consume_credit_notes(rng, invoice_id, currency, including, usable, created_at)
            credits.extend(rows)
            self.available_notes = [n for n in self.available_notes if n["balance_amount_cents"] > 0]
            if p.has_wallet and including - notes_total > 0 and rng.random() < 0.45:
                left = including - notes_total
                prepaid = left if rng.random() < 0.35 else rng.randint(1, left)
                self.prepaid_used += prepaid
        total = including - notes_total - prepaid
        finalized_like = status in ("finalized", "voided")
        if finalized_like:
            self.sequence += 1
        term = p.doc["net_payment_term"] if p.doc["net_payment_term"] is not None else 30
        invoice = invoice_doc(
            lago_id=invoice_id,
            billing_entity_code=p.entity.code,
            sequential_id=self.sequence if finalized_like else None,
            number=f"{p.entity.prefix}-{p.doc['sequential_id']:03d}-{self.sequence:03d}"
            if finalized_like
            else f"{p.entity.prefix}-DRAFT",
            issuing_date=day.isoformat(),
            payment_due_date=(day + timedelta(days=term)).isoformat(),
            net_payment_term=term,
            invoice_type=kind,
            status=status,
            payment_status="pending",
            payment_overdue=False,
            currency=currency,
            fees_amount_cents=fees_amount,
            taxes_amount_cents=taxes,
            progressive_billing_credit_amount_cents=pb_total,
            coupons_amount_cents=coupons_total,
            credit_notes_amount_cents=notes_total,
            sub_total_excluding_taxes_amount_cents=sub_total,
            sub_total_including_taxes_amount_cents=including,
            total_amount_cents=total,
            total_due_amount_cents=total,
            total_paid_amount_cents=0,
            total_offsetted_credit_note_amount_cents=0,
            prepaid_credit_amount_cents=prepaid,
            prepaid_granted_credit_amount_cents=0 if prepaid else None,
            prepaid_purchased_credit_amount_cents=prepaid if prepaid else None,
            web_url=f"https://app.lago.example/customer/{p.doc['lago_id']}/invoice/{invoice_id}/overview",
            version_number=4,
            self_billed=False,
            created_at=created_at,
            updated_at=created_at,
            customer=p.doc,
            fees=[f.doc for f in fees],
            credits=credits,
            applied_taxes=applied_tax_docs(rng, catalog, invoice_id, currency, created_at, per_tax),
            **subscription_blocks(catalog, p, kind, day),
            **extras,
        )
        invoice["metadata"] = invoice_metadata(p, invoice_id, created_at)
        if status == "failed":
            invoice["error_details"] = [
                {"lago_id": new_uuid(rng), "error_code": "tax_error", "details": {"tax_error": "taxDateTooFarInFuture"}}
            ]
        payments = settle(rng, invoice, p, self.as_of, cap=self.cap)
        if kind == "progressive_billing" and status == "finalized":
            self.pending_pb = (invoice, {_key_of(f): {"amount": f.amount, "units": D(f.doc["units"])} for f in fees})
        if kind == "credit" and invoice["payment_status"] == "succeeded":
            self.topped_up += fees_amount
        notes = []
        if (
            status == "finalized"
            and kind != "credit"
            and total == including
            and fees_amount > 0
            and rng.random() < self.credit_note_share
        ):
            note_day = day + timedelta(days=rng.randint(1, 20))
            if self.cap is not None:
                note_day = min(note_day, self.cap)
            note = build_credit_note(
                rng,
                catalog,
                invoice,
                fees,
                TAX_RATES,
                issuing_date=note_day.isoformat(),
                created_at=at(note_day, rng.randrange(8 * 3600, 18 * 3600)),
                refundable=invoice["total_paid_amount_cents"],
            )
            notes.append(note)
            if note["offset_amount_cents"]:  # Lago takes the offset off what is due on the invoice
                invoice["total_offsetted_credit_note_amount_cents"] += note["offset_amount_cents"]
                due = invoice["total_due_amount_cents"] - note["offset_amount_cents"]
                invoice["total_due_amount_cents"] = max(0, due)
            if note["balance_amount_cents"] > 0:
                self.available_notes.append(note)
        return InvoiceBundle(invoice, notes, payments)

    def _coupons(self) -> list[str]:
        codes = []
        if self.profile.welcome_coupon and self.subscription_invoices == 0:
            codes.append("welcome10")
        if self.profile.loyalty_coupon and self.subscription_invoices < 12:
            codes.append("loyalty_50")
        return codes


def _key(line: PricedCharge) -> str:
    return f"{line.charge_id}/{line.filter_id}"


def _key_of(fee: Fee) -> str:
    return fee.charge_key or ""

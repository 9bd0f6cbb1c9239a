"""Fee construction: units, prices and amounts of each fee type, in exact Decimal.

A fee is built in two steps. :func:`FeeBuilder` methods create the document with its amount
(``amount_cents = round(precise_amount_cents)``, ``precise_unit_amount`` in major units with at
most 15 decimals); :func:`finalize_fee` fills the coupon and tax fields once the invoice's
before-tax credits have been allocated, exactly as Lago's ``Fees::ApplyTaxesService`` does:
``taxes_amount_cents = round((amount_cents - precise_coupons_amount_cents) * Σ rates / 100)``.
"""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal
from typing import Any

from lago_netsuite import money

from .catalog import Catalog
from .common import (
    COUPON_SCALE,
    HUNDRED,
    PRECISE_SCALE,
    ZERO,
    major_float,
    new_uuid,
    quantize,
    rails_decimal,
    round_half_up,
)
from .customers import CustomerProfile
from .definitions import convert
from .pricing import PricedCharge, charge_amount

D = Decimal


class Fee:
    """A fee document plus the exact values the invoice arithmetic needs."""

    __slots__ = ("doc", "amount", "precise", "taxes", "charge_key", "coupons", "kind")

    def __init__(self, doc: dict, amount: int, precise: Decimal, taxes: list[str], charge_key: str | None) -> None:
        self.doc = doc
        self.amount = amount  # amount_cents
        self.precise = precise  # precise_amount_cents
        self.taxes = taxes  # tax codes applied to this fee
        self.charge_key = charge_key  # (charge id, filter id) for progressive-billing matching
        self.coupons = ZERO  # precise_coupons_amount_cents (coupons + progressive billing)
        self.kind = doc["item"]["type"]


class FeeBuilder:
    """Creates the fees of one invoice; shares the invoice's ids, dates and currency."""

    def __init__(
        self,
        rng: random.Random,
        catalog: Catalog,
        profile: CustomerProfile,
        invoice_id: str,
        created_at: str,
        periods: tuple[str, str, str, str],
    ) -> None:
        self.rng = rng
        self.catalog = catalog
        self.profile = profile
        self.currency = profile.currency
        self.exp = money.exponent(self.currency)
        self.scale = D(10) ** self.exp
        self.invoice_id = invoice_id
        self.created_at = created_at
        self.periods = periods

    def _doc(
        self,
        item: dict,
        units: Decimal,
        unit_amount: Decimal,
        precise: Decimal,
        amount: int,
        *,
        subscription: bool,
        pay_in_advance: bool,
        dates: tuple[str | None, str | None],
        properties: dict,
        events: int | None = None,
        charge_id: str | None = None,
        filter_id: str | None = None,
        fixed_id: str | None = None,
    ) -> dict:
        p = self.profile
        units_text = rails_decimal(units)
        return {
            "lago_id": new_uuid(self.rng),
            "lago_charge_id": charge_id,
            "lago_charge_filter_id": filter_id,
            "lago_fixed_charge_id": fixed_id,
            "lago_invoice_id": self.invoice_id,
            "lago_true_up_fee_id": None,
            "lago_true_up_parent_fee_id": None,
            "lago_original_fee_id": None,
            "lago_subscription_id": p.subscription_id if subscription else None,
            "external_subscription_id": p.subscription_external_id if subscription else None,
            "lago_customer_id": p.doc["lago_id"],
            "external_customer_id": p.doc["external_id"],
            "item": item,
            "pay_in_advance": pay_in_advance,
            "invoiceable": True,
            "amount_cents": amount,
            "amount_currency": self.currency,
            "precise_amount": major_float(precise, self.exp),
            "precise_total_amount": None,
            "taxes_amount_cents": 0,
            "taxes_precise_amount": 0.0,
            "taxes_rate": 0.0,
            "total_aggregated_units": units_text,
            "total_amount_cents": amount,
            "total_amount_currency": self.currency,
            "units": units_text,
            "description": None,
            "precise_unit_amount": rails_decimal(unit_amount),
            "precise_coupons_amount_cents": "0.0",
            "sub_total_excluding_taxes_amount_cents": amount,
            "sub_total_excluding_taxes_precise_amount_cents": rails_decimal(precise),
            "events_count": events,
            "payment_status": "pending",
            "created_at": self.created_at,
            "succeeded_at": None,
            "failed_at": None,
            "refunded_at": None,
            "amount_details": {},
            "self_billed": False,
            "pricing_unit_details": None,
            "presentation_breakdowns": [],
            "from_date": dates[0],
            "to_date": dates[1],
            "properties": properties,
        }

    def _amounts(self, major: Decimal) -> tuple[Decimal, int]:
        precise = quantize(major * self.scale, PRECISE_SCALE)
        return precise, round_half_up(precise)

    def charge(self, line: PricedCharge, units: Decimal, *, in_advance: bool = False) -> Fee:
        """A usage fee for ``units`` of the line's metric (zero units give a zero-amount fee)."""
        major = charge_amount(line, units)
        precise, amount = self._amounts(major)
        if line.charge.model == "standard":
            unit_amount = line.price
        else:
            unit_amount = quantize(major / units, PRECISE_SCALE) if units else ZERO
        c_from, c_to, a_from, a_to = self.periods
        dates = (a_from, a_to) if in_advance else (c_from, c_to)
        props = {
            "charges_from_datetime": dates[0],
            "charges_to_datetime": dates[1],
            "from_datetime": dates[0],
            "to_datetime": dates[1],
        }
        events = int(units) if units < 10**6 else self.rng.randrange(10**4, 10**6)
        doc = self._doc(
            dict(line.item),
            units,
            unit_amount,
            precise,
            amount,
            subscription=True,
            pay_in_advance=in_advance,
            dates=dates,
            properties=props,
            events=events,
            charge_id=line.charge_id,
            filter_id=line.filter_id,
        )
        if in_advance:
            doc["event_transaction_id"] = f"evt_{self.rng.getrandbits(64):016x}"
        return Fee(doc, amount, precise, self.profile.standard_taxes, f"{line.charge_id}/{line.filter_id}")

    def subscription(self, price: Decimal, *, prorate_days: int | None, in_advance: bool) -> Fee:
        """The plan's base fee, prorated to ``prorate_days`` of 30 for a partial first period."""
        major = price if prorate_days is None else quantize(price * prorate_days / 30, D(1).scaleb(-self.exp))
        precise, amount = self._amounts(major)
        plan = self.catalog.plan_by_code[self.profile.plan_code]
        item = {
            "type": "subscription",
            "code": plan["code"],
            "name": plan["name"],
            "description": plan["description"],
            "invoice_display_name": plan["invoice_display_name"],
            "filters": None,
            "filter_invoice_display_name": None,
            "lago_item_id": self.profile.subscription_id,
            "item_type": "Subscription",
            "grouped_by": {},
        }
        c_from, c_to, a_from, a_to = self.periods
        dates = (a_from, a_to) if in_advance else (c_from, c_to)
        doc = self._doc(
            item,
            D(1),
            major,
            precise,
            amount,
            subscription=True,
            pay_in_advance=in_advance,
            dates=dates,
            properties={"from_datetime": dates[0], "to_datetime": dates[1]},
        )
        return Fee(doc, amount, precise, self.profile.standard_taxes, None)

    def _add_on_fee(self, fee_type: str, code: str, units: Decimal) -> tuple[dict[str, Any], Decimal, Decimal, int]:
        """The fee ``item`` of ``units`` of an add-on, its unit price, precise amount and amount in minor units."""
        add_on = self.catalog.add_on_by_code[code]
        price = convert(D(add_on["amount_cents"]) / 100, self.currency, flat=True)
        precise, amount = self._amounts(units * price)
        item = {
            "type": fee_type,
            "code": code,
            "name": add_on["name"],
            "description": add_on["description"],
            "invoice_display_name": add_on["invoice_display_name"],
            "filters": None,
            "filter_invoice_display_name": None,
            "lago_item_id": add_on["lago_id"],
            "item_type": "AddOn",
            "grouped_by": {},
        }
        return item, price, precise, amount

    def fixed_charge(self, add_on_code: str, units: Decimal, fixed_id: str) -> Fee:
        """A plan's fixed charge: an add-on billed every period."""
        item, price, precise, amount = self._add_on_fee("fixed_charge", add_on_code, units)
        _, _, a_from, a_to = self.periods
        doc = self._doc(
            item,
            units,
            price,
            precise,
            amount,
            subscription=True,
            pay_in_advance=True,
            dates=(a_from, a_to),
            properties={"from_datetime": a_from, "to_datetime": a_to},
            fixed_id=fixed_id,
        )
        return Fee(doc, amount, precise, self.profile.standard_taxes, None)

    def commitment(self, amount_minor: int) -> Fee:
        """The minimum-commitment true-up: what the period's fees fell short of the commitment."""
        plan = self.catalog.plan_by_code[self.profile.plan_code]
        commitment = plan["minimum_commitment"]
        item = {
            "type": "commitment",
            "code": plan["code"],
            "name": plan["name"],
            "description": None,
            "invoice_display_name": commitment["invoice_display_name"],
            "filters": None,
            "filter_invoice_display_name": None,
            "lago_item_id": commitment["lago_id"],
            "item_type": "Subscription",
            "grouped_by": {},
        }
        c_from, c_to, _, _ = self.periods
        major = D(amount_minor) / self.scale
        doc = self._doc(
            item,
            D(1),
            major,
            D(amount_minor),
            amount_minor,
            subscription=True,
            pay_in_advance=False,
            dates=(c_from, c_to),
            properties={"from_datetime": c_from, "to_datetime": c_to},
        )
        return Fee(doc, amount_minor, D(amount_minor), self.profile.standard_taxes, None)

    def add_on(self, code: str, units: Decimal, day: date) -> Fee:
        """A one-off add-on fee (training is billed per hour, at the reduced tax rate)."""
        item, price, precise, amount = self._add_on_fee("add_on", code, units)
        stamp = (f"{day.isoformat()}T00:00:00Z", f"{day.isoformat()}T23:59:59Z")
        doc = self._doc(
            item, units, price, precise, amount, subscription=False, pay_in_advance=False, dates=stamp, properties={}
        )
        taxes = self.profile.reduced_taxes if code == "training" else self.profile.standard_taxes
        return Fee(doc, amount, precise, taxes, None)

    def credit(self, credits: Decimal, wallet_transaction_id: str) -> Fee:
        """A wallet top-up (credit invoice): credits bought at a rate of 1; no tax."""
        precise, amount = self._amounts(credits)
        item: dict[str, Any] = {
            "type": "credit",
            "code": "credit",
            "name": "credit",
            "description": None,
            "invoice_display_name": "Prepaid credits",
            "filters": None,
            "filter_invoice_display_name": None,
            "lago_item_id": wallet_transaction_id,
            "item_type": "WalletTransaction",
            "grouped_by": {},
        }
        doc = self._doc(
            item,
            credits,
            D(1),
            precise,
            amount,
            subscription=False,
            pay_in_advance=False,
            dates=(None, None),
            properties={},
        )
        return Fee(doc, amount, precise, [], None)


def finalize_fee(fee: Fee, rates: dict[str, Decimal], exp: int) -> None:
    """Fill coupon and tax fields once ``fee.coupons`` is final (Lago's fee tax computation)."""
    doc = fee.doc
    rate = sum((rates[code] for code in fee.taxes), ZERO) if fee.taxes else ZERO
    if fee.coupons:
        coupons = quantize(fee.coupons, COUPON_SCALE)
        fee.coupons = coupons
        doc["precise_coupons_amount_cents"] = rails_decimal(coupons)
        doc["sub_total_excluding_taxes_amount_cents"] = round_half_up(fee.amount - coupons)
        doc["sub_total_excluding_taxes_precise_amount_cents"] = rails_decimal(fee.precise - coupons)
    else:
        coupons = ZERO  # the document already holds the no-coupon values
    if not rate:
        doc["precise_total_amount"] = doc["precise_amount"]
        return
    taxes = round_half_up((fee.amount - coupons) * rate / HUNDRED)
    precise_taxes = (fee.precise - coupons) * rate / HUNDRED
    doc["taxes_amount_cents"] = taxes
    doc["taxes_precise_amount"] = major_float(precise_taxes, exp)
    doc["taxes_rate"] = float(rate)
    doc["total_amount_cents"] = fee.amount + taxes
    doc["precise_total_amount"] = major_float(fee.precise + precise_taxes, exp)

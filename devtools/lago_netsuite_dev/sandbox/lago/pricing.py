"""Plan charges priced in a currency, usage draws, and the amount each charge model gives.

A :class:`PricedCharge` is one fee-producing line of a plan (a charge, or one filter value of a
charge) with its prices converted to the customer's currency. Amounts are exact Decimals in major
units; the fee builder turns them into minor units.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from decimal import Decimal

from .catalog import Catalog
from .common import ZERO
from .definitions import ChargeDef, convert

D = Decimal


@dataclass
class PricedCharge:
    """One fee-producing line of a plan in one currency (a charge, or one filter of a charge)."""

    charge: ChargeDef
    charge_id: str
    filter_id: str | None
    filter_key: str | None
    filter_value: str | None
    price: Decimal
    free_units: Decimal
    tiers: tuple[tuple[Decimal | None, Decimal, Decimal], ...]
    item: dict


_PRICING: dict[tuple[int, str, str], list[PricedCharge]] = {}


def priced_charges(catalog: Catalog, plan_code: str, currency: str) -> list[PricedCharge]:
    """The plan's charge lines priced in ``currency`` (cached per catalog, plan and currency)."""
    key = (id(catalog), plan_code, currency)
    if key not in _PRICING:
        plan = catalog.plan_defs[plan_code]
        lines = []
        for index, charge in enumerate(plan.charges):
            metric = catalog.metric_by_code[charge.metric]
            tiers = tuple(
                (upto, convert(p, currency, flat=False), convert(f, currency, flat=True)) for upto, p, f in charge.tiers
            )
            variants = charge.filters or ((None, None, D(1)),)
            for f_index, (f_key, f_value, mult) in enumerate(variants):
                item = {
                    "type": "charge",
                    "code": charge.metric,
                    "name": metric["name"],
                    "description": metric["description"],
                    "invoice_display_name": metric["name"],
                    "filters": {f_key: [f_value]} if f_key else None,
                    "filter_invoice_display_name": f_value,
                    "lago_item_id": metric["lago_id"],
                    "item_type": "BillableMetric",
                    "grouped_by": {},
                }
                lines.append(
                    PricedCharge(
                        charge,
                        catalog.charge_ids[(plan_code, index)],
                        catalog.charge_ids[(plan_code, index, f_index)] if f_key else None,
                        f_key,
                        f_value,
                        convert(charge.price_usd * mult, currency, flat=False),
                        charge.free_units,
                        tuple((u, p * mult, f) for u, p, f in tiers),
                        item,
                    )
                )
        _PRICING[key] = lines
    return _PRICING[key]


def charge_amount(line: PricedCharge, units: Decimal) -> Decimal:
    """Amount in major units of ``units`` under the line's charge model."""
    model = line.charge.model
    if model == "standard":
        return units * line.price
    if model == "free_units":
        return max(units - line.free_units, ZERO) * line.price
    total, low = ZERO, ZERO
    for upto, per_unit, flat in line.tiers:
        if units <= low:
            break
        in_tier = (min(units, upto) if upto is not None else units) - low
        total += flat + in_tier * per_unit
        low = upto if upto is not None else units
    return total


_KIND_DECIMALS = {"int": 0, "frac3": 3, "frac4": 4, "frac6": 6}


def draw_units(rng: random.Random, kind: str, low: str, high: str, *, huge: bool = False) -> Decimal:
    """Usage units: log-uniform integers, fixed-decimal fractions, zero, or (rarely) >= 1e10."""
    if huge:
        return D(rng.randrange(10**10, 6 * 10**10))
    if rng.random() < 0.08:
        return ZERO
    decimals = _KIND_DECIMALS[kind]
    lo, hi = max(float(low), 1e-3), float(high)
    value = 10 ** rng.uniform(math.log10(lo), math.log10(hi))
    return D(int(value * 10**decimals)).scaleb(-decimals) if decimals else D(max(int(value), 1))

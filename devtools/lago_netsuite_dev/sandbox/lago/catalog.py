"""The Lago catalog documents of the sandbox, built from :mod:`definitions` with seeded ids.

The catalog is the same for every seed except its ids (drawn from the seed), so mappings in
``include/mappings/`` can name codes safely. :class:`Catalog` also carries the look-ups the
generator needs (documents by code, charge and filter ids by plan).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from .common import at, new_uuid, rate_float
from .definitions import ADD_ONS, COUPONS, ENTITIES, METRICS, PLANS, TAXES, ChargeDef, EntityDef, PlanDef, minor

D = Decimal


@dataclass
class Catalog:
    """The catalog documents (as Lago serialises them) plus look-ups the generator needs."""

    billing_entities: list[dict]
    taxes: list[dict]
    billable_metrics: list[dict]
    add_ons: list[dict]
    plans: list[dict]
    coupons: list[dict]
    entity_defs: dict[str, EntityDef] = field(default_factory=dict)
    tax_by_code: dict[str, dict] = field(default_factory=dict)
    metric_by_code: dict[str, dict] = field(default_factory=dict)
    add_on_by_code: dict[str, dict] = field(default_factory=dict)
    plan_by_code: dict[str, dict] = field(default_factory=dict)
    coupon_by_code: dict[str, dict] = field(default_factory=dict)
    plan_defs: dict[str, PlanDef] = field(default_factory=dict)
    #: (plan code, charge index) -> charge id; (plan code, charge index, filter index) -> filter id
    charge_ids: dict[tuple, str] = field(default_factory=dict)


def build_catalog(seed: int, start: date) -> Catalog:
    """Build the catalog for ``seed``; ``start`` dates it (every object predates the data)."""
    rng = random.Random(f"lago-catalog:{seed}")
    day = start - timedelta(days=400)
    created = at(day, 9 * 3600)
    taxes: list[dict[str, Any]] = [
        {
            "lago_id": new_uuid(rng),
            "name": name,
            "code": code,
            "rate": rate_float(rate),
            "description": desc,
            "applied_to_organization": False,
            "add_ons_count": 0,
            "customers_count": 0,
            "plans_count": 0,
            "charges_count": 0,
            "commitments_count": 0,
            "created_at": created,
        }
        for code, name, rate, desc in TAXES
    ]
    tax_by_code = {t["code"]: t for t in taxes}
    entity_taxes = {
        "acme_us": [],
        "acme_eu": ["vat_eu_20"],
        "acme_jp": ["jp_consumption_10"],
        "acme_kw": ["kw_excise_5"],
    }
    entities = [_entity_doc(rng, e, created, [tax_by_code[c] for c in entity_taxes[e.code]]) for e in ENTITIES]
    metrics: list[dict[str, Any]] = [
        {
            "lago_id": new_uuid(rng),
            "name": name,
            "code": code,
            "description": f"{name} metered by the platform",
            "recurring": recurring,
            "rounding_function": None,
            "rounding_precision": None,
            "aggregation_type": agg,
            "field_name": None if agg == "count_agg" else "value",
            "weighted_interval": None,
            "expression": None,
            "filters": [],
            "created_at": created,
        }
        for code, name, agg, _kind, _lo, _hi, recurring in METRICS
    ]
    metric_by_code = {m["code"]: m for m in metrics}
    add_ons: list[dict[str, Any]] = [
        {
            "lago_id": new_uuid(rng),
            "name": name,
            "invoice_display_name": name,
            "code": code,
            "amount_cents": minor(price, "USD"),
            "amount_currency": "USD",
            "description": desc,
            "created_at": created,
            "taxes": [tax_by_code["vat_eu_reduced_5_5"]] if code == "training" else [],
        }
        for code, name, price, desc in ADD_ONS
    ]
    add_on_by_code = {a["code"]: a for a in add_ons}
    catalog = Catalog(
        billing_entities=entities,
        taxes=taxes,
        billable_metrics=metrics,
        add_ons=add_ons,
        plans=[],
        coupons=[],
        entity_defs={e.code: e for e in ENTITIES},
        tax_by_code=tax_by_code,
        metric_by_code=metric_by_code,
        add_on_by_code=add_on_by_code,
        plan_defs={p.code: p for p in PLANS},
    )
    for plan in PLANS:
        catalog.plans.append(_plan_doc(rng, plan, catalog, created))
    catalog.plan_by_code = {p["code"]: p for p in catalog.plans}
    for code, name, kind, pct, amount, freq in COUPONS:
        catalog.coupons.append(
            {
                "lago_id": new_uuid(rng),
                "name": name,
                "code": code,
                "description": None,
                "coupon_type": kind,
                "amount_cents": minor(amount, "USD") if amount is not None else None,
                "amount_currency": "USD" if amount is not None else None,
                "percentage_rate": f"{pct}.0" if pct is not None else None,
                "reusable": True,
                "limited_plans": False,
                "plan_codes": [],
                "limited_billable_metrics": False,
                "billable_metric_codes": [],
                "frequency": freq,
                "frequency_duration": 12 if freq == "recurring" else None,
                "expiration": "no_expiration",
                "expiration_at": None,
                "created_at": created,
                "terminated_at": None,
            }
        )
    catalog.coupon_by_code = {c["code"]: c for c in catalog.coupons}
    return catalog


def _entity_doc(rng: random.Random, e: EntityDef, created: str, taxes: list[dict]) -> dict:
    return {
        "lago_id": new_uuid(rng),
        "code": e.code,
        "name": e.name,
        "default_currency": e.currency,
        "document_locale": {"JP": "ja", "FR": "fr"}.get(e.country, "en"),
        "document_numbering": "per_customer",
        "document_number_prefix": e.prefix,
        "finalize_zero_amount_invoice": True,
        "invoice_footer": f"{e.name} — thank you for your business",
        "invoice_grace_period": 0,
        "subscription_invoice_issuing_date_anchor": "next_period_start",
        "subscription_invoice_issuing_date_adjustment": "align_with_finalization_date",
        "is_default": e.code == "acme_us",
        "net_payment_term": 30,
        "address_line1": "1 Market Street",
        "address_line2": None,
        "city": {"US": "San Francisco", "FR": "Paris", "JP": "東京", "KW": "Kuwait City"}[e.country],
        "state": "CA" if e.country == "US" else None,
        "country": e.country,
        "zipcode": "94105" if e.country == "US" else None,
        "email": f"billing+{e.code}@acme.example",
        "legal_name": e.name,
        "legal_number": None,
        "tax_identification_number": None,
        "timezone": e.timezone,
        "email_settings": ["invoice.finalized"],
        "eu_tax_management": e.code == "acme_eu",
        "logo_url": None,
        "created_at": created,
        "updated_at": created,
        "taxes": taxes,
    }


def _plan_doc(rng: random.Random, plan: PlanDef, catalog: Catalog, created: str) -> dict:
    charges = []
    for index, charge in enumerate(plan.charges):
        charge_id = new_uuid(rng)
        catalog.charge_ids[(plan.code, index)] = charge_id
        filters = []
        for f_index, (key, value, mult) in enumerate(charge.filters):
            catalog.charge_ids[(plan.code, index, f_index)] = new_uuid(rng)
            filters.append(
                {
                    "invoice_display_name": value,
                    "properties": {"amount": str(charge.price_usd * mult)},
                    "values": {key: [value]},
                }
            )
        metric = catalog.metric_by_code[charge.metric]
        charges.append(
            {
                "lago_id": charge_id,
                "lago_billable_metric_id": metric["lago_id"],
                "billable_metric_code": charge.metric,
                "invoice_display_name": metric["name"],
                "created_at": created,
                "charge_model": "graduated" if charge.model == "graduated" else "standard",
                "pay_in_advance": charge.pay_in_advance,
                "invoiceable": True,
                "regroup_paid_fees": "invoice" if charge.pay_in_advance else None,
                "prorated": False,
                "min_amount_cents": 0,
                "properties": _charge_properties(charge),
                "filters": filters,
                "taxes": [],
            }
        )
    fixed = []
    for index, (add_on_code, units) in enumerate(plan.fixed_charges):
        fixed_id = new_uuid(rng)
        catalog.charge_ids[(plan.code, "fixed", index)] = fixed_id
        add_on = catalog.add_on_by_code[add_on_code]
        fixed.append(
            {
                "lago_id": fixed_id,
                "lago_add_on_id": add_on["lago_id"],
                "code": add_on_code,
                "invoice_display_name": add_on["name"],
                "add_on_code": add_on_code,
                "created_at": created,
                "charge_model": "standard",
                "pay_in_advance": True,
                "prorated": False,
                "properties": {"amount": str(D(add_on["amount_cents"]) / 100)},
                "units": str(units),
                "lago_parent_id": None,
                "taxes": [],
            }
        )
    commitment = None
    if plan.minimum_commitment_usd is not None:
        commitment = {
            "lago_id": new_uuid(rng),
            "plan_code": plan.code,
            "amount_cents": minor(plan.minimum_commitment_usd, "USD"),
            "invoice_display_name": "Minimum commitment",
            "interval": "monthly",
            "created_at": created,
            "updated_at": created,
            "taxes": [],
        }
    return {
        "lago_id": new_uuid(rng),
        "name": plan.name,
        "invoice_display_name": f"{plan.name} plan",
        "created_at": created,
        "code": plan.code,
        "interval": "monthly",
        "description": f"The {plan.name} plan",
        "amount_cents": minor(plan.amount_usd, "USD"),
        "amount_currency": "USD",
        "trial_period": 0.0,
        "pay_in_advance": plan.pay_in_advance,
        "bill_charges_monthly": None,
        "bill_fixed_charges_monthly": None,
        "minimum_commitment": commitment,
        "charges": charges,
        "fixed_charges": fixed,
        "taxes": [],
        "usage_thresholds": [],
        "entitlements": [],
        "metadata": [],
    }


def _charge_properties(charge: ChargeDef) -> dict:
    if charge.model == "graduated":
        ranges, low = [], 0
        for upto, price, flat in charge.tiers:
            ranges.append(
                {
                    "from_value": low,
                    "to_value": int(upto) if upto is not None else None,
                    "flat_amount": str(flat),
                    "per_unit_amount": str(price),
                }
            )
            low = int(upto) + 1 if upto is not None else low
        return {"graduated_ranges": ranges}
    props = {"amount": str(charge.price_usd)}
    if charge.free_units:
        props["free_units"] = str(charge.free_units)
    return props

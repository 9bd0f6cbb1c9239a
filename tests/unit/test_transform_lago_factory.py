"""A Lago-consistent document factory for the transform tests, plus hypothesis strategies.

Documents follow Lago's arithmetic (domain.md §1): coupons and progressive-billing credits are
allocated to fees before tax, each fee is taxed on its coupon-adjusted amount (multi-rate fees
carry several taxes), the invoice rounds each tax over all its fees (so fee taxes and invoice
taxes differ by rounding), and credit-note and wallet credits apply after tax.
The tests at the bottom check the factory itself against that arithmetic.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hypothesis import strategies as st

from lago_netsuite.money import exponent as currency_exponent

ENTITIES: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "acme_us": ("USD", [("us_ca_state_6", "6.0"), ("us_ca_district_1_25", "1.25")]),
    "acme_eu": ("EUR", [("vat_eu_20", "20.0"), ("vat_eu_reduced_5_5", "5.5")]),
    "acme_jp": ("JPY", [("jp_consumption_10", "10.0")]),
    "acme_kw": ("KWD", [("kw_excise_5", "5.0")]),
}
METRICS = ["api_calls", "storage_gb", "seats", "compute_hours", "data_transfer_gb", "beta_feature"]
ADD_ONS = ["setup_fee", "premium_support", "training"]
PLANS = ["starter", "growth", "enterprise"]
COUPONS = ["welcome10", "loyalty_50"]


def rhu(value: Decimal) -> int:
    """Round half up (away from zero), as Ruby's BigDecimal#round does."""
    return int(value.to_integral_value(rounding=ROUND_HALF_UP))


@dataclass
class FeeSpec:
    """What a fee is; amounts are derived from units x unit amount in the invoice currency."""

    type: str = "charge"
    code: str = "api_calls"
    units: str = "1"
    unit_amount: str = "10"
    taxes: tuple[int, ...] = (0,)  # indexes into the entity's taxes
    amount_cents: int | None = None  # override (e.g. 0)


@dataclass
class InvoiceSpec:
    """An invoice's shape; fractions are of what is left at that point of Lago's arithmetic."""

    entity: str = "acme_eu"
    fees: list[FeeSpec] = field(default_factory=lambda: [FeeSpec()])
    coupon_fraction: Decimal = Decimal(0)
    progressive_fraction: Decimal = Decimal(0)
    credit_note_fraction: Decimal = Decimal(0)
    prepaid_fraction: Decimal = Decimal(0)
    explicit_fee_taxes: bool = False
    n: int = 1
    customer_linked: bool = False
    status: str = "finalized"
    invoice_type: str = "subscription"


def customer(n: int, entity: str = "acme_eu", *, linked: bool = False, person: bool = False) -> dict[str, Any]:
    """A Lago customer payload (optionally already linked to a NetSuite customer)."""
    return {
        "lago_id": f"cust-{n:06d}", "external_id": f"ext-{n:06d}", "billing_entity_code": entity,
        "name": None if person else f"Customer {n} Ltd", "firstname": "Ada" if person else None,
        "lastname": "Lovelace" if person else None, "customer_type": "individual" if person else "company",
        "legal_name": None, "email": f"billing{n}@example.com", "phone": "+1 555 0100",
        "currency": ENTITIES[entity][0],
        "integration_customers": ([{"type": "netsuite", "external_customer_id": f"9{n:05d}",
                                    "integration_code": "netsuite", "subsidiary_id": "1"}] if linked else []),
    }


def build_invoice(spec: InvoiceSpec) -> dict[str, Any]:
    """A finalized invoice show payload that satisfies Lago's arithmetic exactly."""
    cur, tax_defs = ENTITIES[spec.entity]
    e = currency_exponent(cur)
    scale = Decimal(10) ** e
    fees = []
    for i, f in enumerate(spec.fees):
        amount = f.amount_cents if f.amount_cents is not None else \
            rhu(Decimal(f.units) * Decimal(f.unit_amount) * scale)
        fees.append((i, f, amount))
    fees_amount = sum(a for _, _, a in fees)
    progressive = rhu(fees_amount * spec.progressive_fraction)
    coupons = rhu((fees_amount - progressive) * spec.coupon_fraction)
    reduce = progressive + coupons
    fee_docs, code_base, code_tax = [], {}, {}
    for i, f, amount in fees:
        share = Decimal(reduce) * amount / fees_amount if fees_amount else Decimal(0)
        base = Decimal(amount) - share
        taxes = [tax_defs[t] for t in sorted(set(f.taxes)) if t < len(tax_defs)]
        per_tax = [(code, rate, base * Decimal(rate) / 100) for code, rate in taxes]
        for code, rate, _precise in per_tax:
            # Lago taxes each code on the fees' rounded sub totals and rounds per code; the total
            # is the rounded sum of the unrounded per-code amounts (Invoices::ApplyTaxesService).
            code_base[code] = code_base.get(code, 0) + rhu(base)
            code_tax[code] = code_tax.get(code, Decimal(0)) + rhu(base) * Decimal(rate) / 100
        fee_tax = rhu(sum((p for _, _, p in per_tax), Decimal(0)))
        period = ("2024-03-01T00:00:00Z", "2024-03-31T23:59:59Z")
        doc = {
            "lago_id": f"fee-{spec.n:06d}-{i:02d}", "lago_invoice_id": f"inv-{spec.n:06d}",
            "item": {"type": f.type, "code": f.code, "name": f.code.replace("_", " ").title(),
                     "invoice_display_name": None, "filter_invoice_display_name": None,
                     "lago_item_id": f"item-{f.code}"},
            "amount_cents": amount, "amount_currency": cur, "precise_amount": str(Decimal(amount) / scale),
            "taxes_amount_cents": fee_tax, "taxes_precise_amount": str(sum((p for _, _, p in per_tax), Decimal(0))),
            "taxes_rate": float(sum((Decimal(r) for _, r in taxes), Decimal(0))),
            "units": f.units, "precise_unit_amount": f.unit_amount,
            "precise_coupons_amount_cents": str(share), "sub_total_excluding_taxes_amount_cents": rhu(base),
            "total_amount_cents": amount + fee_tax, "from_date": period[0], "to_date": period[1],
            "properties": {"from_datetime": "2024-03-01T00:00:00Z", "to_datetime": "2024-03-31T23:59:59Z",
                           "charges_from_datetime": "2024-02-01T00:00:00Z",
                           "charges_to_datetime": "2024-02-29T23:59:59Z"},
        }
        if spec.explicit_fee_taxes:
            doc["applied_taxes"] = [{"tax_code": c, "tax_rate": float(r), "amount_cents": rhu(p)}
                                    for c, r, p in per_tax]
        fee_docs.append(doc)
    applied = [{"lago_id": f"at-{spec.n}-{c}", "tax_code": c, "tax_name": c, "tax_rate": float(r),
                "amount_cents": rhu(code_tax[c]), "fees_amount_cents": code_base[c], "amount_currency": cur}
               for c, r in tax_defs if c in code_tax]
    taxes_total = rhu(sum(code_tax.values(), Decimal(0)))
    sub_excl = fees_amount - progressive - coupons
    sub_incl = sub_excl + taxes_total
    credit_notes = rhu(sub_incl * spec.credit_note_fraction)
    prepaid = rhu((sub_incl - credit_notes) * spec.prepaid_fraction)
    credits = []
    if coupons:
        first = coupons // 2 if coupons > 1 else coupons
        for j, (code, amt) in enumerate([(COUPONS[0], first), (COUPONS[1], coupons - first)]):
            if amt:
                credits.append({"lago_id": f"cr-{spec.n}-c{j}", "amount_cents": amt, "before_taxes": True,
                                "item": {"type": "coupon", "code": code, "name": code.title(), "lago_item_id": code}})
    if progressive:
        credits.append({"lago_id": f"cr-{spec.n}-p", "amount_cents": progressive, "before_taxes": True,
                        "item": {"type": "invoice", "code": f"PB-{spec.n:06d}", "name": f"PB-{spec.n:06d}"}})
    if credit_notes:
        credits.append({"lago_id": f"cr-{spec.n}-n", "amount_cents": credit_notes, "before_taxes": False,
                        "item": {"type": "credit_note", "code": f"CN-OLD-{spec.n:06d}", "name": "INV-OLD"}})
    return {
        "lago_id": f"inv-{spec.n:06d}", "billing_entity_code": spec.entity, "number": f"INV-{spec.n:06d}",
        "issuing_date": "2024-04-01", "payment_due_date": "2024-05-01", "invoice_type": spec.invoice_type,
        "status": spec.status, "payment_status": "pending", "currency": cur, "fees_amount_cents": fees_amount,
        "coupons_amount_cents": coupons, "progressive_billing_credit_amount_cents": progressive,
        "sub_total_excluding_taxes_amount_cents": sub_excl, "taxes_amount_cents": taxes_total,
        "sub_total_including_taxes_amount_cents": sub_incl, "credit_notes_amount_cents": credit_notes,
        "prepaid_credit_amount_cents": prepaid, "total_amount_cents": sub_incl - credit_notes - prepaid,
        "web_url": f"https://app.getlago.com/invoice/inv-{spec.n:06d}", "voided_at": None,
        "customer": customer(spec.n, spec.entity, linked=spec.customer_linked),
        "applied_taxes": applied, "fees": fee_docs, "credits": credits,
    }


def build_credit_note(invoice: dict[str, Any], fractions: list[Decimal], *, coupon_fraction: Decimal = Decimal(0),
                      offset_fraction: Decimal = Decimal(1), n: int | None = None) -> dict[str, Any]:
    """A credit note crediting part of each fee of ``invoice`` (fractions per fee), Lago-consistent."""
    cur = invoice["currency"]
    rates = {t["tax_code"]: Decimal(str(t["tax_rate"])) for t in invoice["applied_taxes"]}
    ent_taxes = ENTITIES[invoice["billing_entity_code"]][1]
    items, base, total_items = [], {}, 0
    for f, frac in zip(invoice["fees"], fractions, strict=False):
        amt = rhu(f["amount_cents"] * frac)
        if amt <= 0:
            continue
        items.append({"lago_id": f"cni-{f['lago_id']}", "amount_cents": amt, "precise_amount_cents": str(amt),
                      "amount_currency": cur, "fee": f})
        total_items += amt
    coupon_adj = rhu(total_items * coupon_fraction)
    for it in items:
        f = it["fee"]
        share = Decimal(coupon_adj) * it["amount_cents"] / total_items if total_items else Decimal(0)
        fee_rate = Decimal(str(f["taxes_rate"]))
        codes = _codes_for_rate(fee_rate, ent_taxes)
        for c in codes:
            base[c] = base.get(c, Decimal(0)) + Decimal(it["amount_cents"]) - share
    applied = [{"lago_id": f"cnt-{c}", "tax_code": c, "tax_rate": float(rates.get(c, Decimal(r))),
                "base_amount_cents": rhu(b), "amount_cents": rhu(b * Decimal(r) / 100), "amount_currency": cur}
               for c, r in ent_taxes for b in [base.get(c)] if b is not None]
    taxes = sum(t["amount_cents"] for t in applied)
    sub = total_items - coupon_adj
    total = sub + taxes
    offset = rhu(total * offset_fraction)
    num = n if n is not None else int(invoice["lago_id"].split("-")[1])
    return {
        "lago_id": f"cn-{num:06d}", "billing_entity_code": invoice["billing_entity_code"],
        "number": f"CN-{num:06d}", "lago_invoice_id": invoice["lago_id"], "invoice_number": invoice["number"],
        "issuing_date": "2024-04-15", "credit_status": "available", "refund_status": None, "currency": cur,
        "total_amount_cents": total, "taxes_amount_cents": taxes, "sub_total_excluding_taxes_amount_cents": sub,
        "coupons_adjustment_amount_cents": coupon_adj, "credit_amount_cents": total - offset,
        "refund_amount_cents": 0, "offset_amount_cents": offset, "balance_amount_cents": total - offset,
        "customer": invoice["customer"], "items": items, "applied_taxes": applied,
    }


def _codes_for_rate(rate: Decimal, ent_taxes: list[tuple[str, str]]) -> list[str]:
    """The entity's tax codes whose rates add up to ``rate`` (the factory never makes it ambiguous)."""
    for mask in range(1, 2 ** len(ent_taxes)):
        chosen = [(c, Decimal(r)) for i, (c, r) in enumerate(ent_taxes) if mask >> i & 1]
        if sum(r for _, r in chosen) == rate:
            return [c for c, _ in chosen]
    return []


def payment(invoice: dict[str, Any], *, status: str = "succeeded", n: int | None = None,
            amount: int | None = None) -> dict[str, Any]:
    """A payment of ``invoice`` (its total by default)."""
    num = n if n is not None else int(invoice["lago_id"].split("-")[1])
    return {"lago_id": f"pay-{num:06d}", "lago_customer_id": invoice["customer"]["lago_id"],
            "external_customer_id": invoice["customer"]["external_id"], "invoice_ids": [invoice["lago_id"]],
            "amount_cents": invoice["total_amount_cents"] if amount is None else amount,
            "amount_currency": invoice["currency"], "payment_status": status, "type": "manual",
            "reference": f"wire-{num}", "created_at": "2024-04-20T10:00:00Z"}


def random_invoice_spec(rng: random.Random, n: int) -> InvoiceSpec:
    """A varied invoice shape for bulk data (benchmark fallback): ~10 fees, all discount kinds."""
    entity = rng.choice(list(ENTITIES))
    ntax = len(ENTITIES[entity][1])
    fees = [FeeSpec(type="subscription", code=rng.choice(PLANS), units="1", unit_amount=str(rng.randint(10, 500)),
                    taxes=(0,))]
    for _ in range(rng.randint(6, 12)):
        kind = rng.random()
        taxes = tuple(sorted(rng.sample(range(ntax), rng.randint(0, ntax))))
        if kind < 0.8:
            fees.append(FeeSpec("charge", rng.choice(METRICS), str(Decimal(rng.randint(0, 10**6)) / 100),
                                str(Decimal(rng.randint(1, 10**9)) / 10**8), taxes))
        else:
            fees.append(FeeSpec("add_on", rng.choice(ADD_ONS), "1", str(rng.randint(5, 300)), taxes))
    pick = lambda p, hi: Decimal(rng.randint(1, hi)) / 100 if rng.random() < p else Decimal(0)  # noqa: E731
    return InvoiceSpec(entity=entity, fees=fees, coupon_fraction=pick(0.3, 50), progressive_fraction=pick(0.1, 30),
                       credit_note_fraction=pick(0.1, 100), prepaid_fraction=pick(0.2, 100), n=n)


# --- hypothesis strategies -------------------------------------------------------------------

def _decimal_text(max_int: int, max_places: int) -> st.SearchStrategy[str]:
    return st.builds(lambda i, f, p: str(Decimal(i) + Decimal(f) / Decimal(10) ** p if p else Decimal(i)),
                     st.integers(0, max_int), st.integers(0, 10**6), st.integers(0, max_places))


@st.composite
def fee_specs(draw: st.DrawFn, ntax: int) -> FeeSpec:
    """One fee of any type, with decimal units and long unit amounts, sometimes zero."""
    ftype = draw(st.sampled_from(["charge", "charge", "add_on", "fixed_charge", "subscription", "commitment",
                                  "credit"]))
    code = {"charge": draw(st.sampled_from(METRICS)), "add_on": draw(st.sampled_from(ADD_ONS)),
            "fixed_charge": draw(st.sampled_from(ADD_ONS))}.get(ftype, draw(st.sampled_from(PLANS)))
    taxes = tuple(draw(st.lists(st.integers(0, ntax - 1), max_size=ntax, unique=True)))
    zero = draw(st.integers(0, 9)) == 0
    return FeeSpec(ftype, code, draw(_decimal_text(5000, 4)), draw(_decimal_text(900, 17)), taxes,
                   0 if zero else None)


fractions = st.one_of(st.just(Decimal(0)), st.just(Decimal(1)),
                      st.integers(1, 99).map(lambda v: Decimal(v) / 100))


@st.composite
def invoice_specs(draw: st.DrawFn, entity: str | None = None) -> InvoiceSpec:
    """Lago-consistent invoices in every currency exponent with every discount kind."""
    ent = entity or draw(st.sampled_from(list(ENTITIES)))
    ntax = len(ENTITIES[ent][1])
    return InvoiceSpec(
        entity=ent, fees=draw(st.lists(fee_specs(ntax), min_size=1, max_size=8)),
        coupon_fraction=draw(fractions), progressive_fraction=draw(fractions.filter(lambda f: f < 1)),
        credit_note_fraction=draw(fractions), prepaid_fraction=draw(fractions),
        explicit_fee_taxes=draw(st.booleans()), n=draw(st.integers(1, 999_999)),
        customer_linked=draw(st.booleans()),
    )


# --- the factory is itself Lago-consistent ----------------------------------------------------

def test_factory_invoice_follows_lago_arithmetic() -> None:
    rng = random.Random(7)
    for n in range(200):
        inv = build_invoice(random_invoice_spec(rng, n))
        assert inv["fees_amount_cents"] == sum(f["amount_cents"] for f in inv["fees"])
        assert inv["sub_total_excluding_taxes_amount_cents"] == (
            inv["fees_amount_cents"] - inv["coupons_amount_cents"] - inv["progressive_billing_credit_amount_cents"])
        assert abs(inv["taxes_amount_cents"] - sum(t["amount_cents"] for t in inv["applied_taxes"])) <= 1
        assert inv["total_amount_cents"] == (inv["sub_total_including_taxes_amount_cents"]
                                             - inv["credit_notes_amount_cents"] - inv["prepaid_credit_amount_cents"])
        assert inv["total_amount_cents"] >= 0


def test_factory_credit_note_follows_lago_arithmetic() -> None:
    rng = random.Random(3)
    for n in range(50):
        inv = build_invoice(random_invoice_spec(rng, n))
        cn = build_credit_note(inv, [Decimal("0.5")] * len(inv["fees"]), coupon_fraction=Decimal("0.1"))
        assert cn["sub_total_excluding_taxes_amount_cents"] == (
            sum(i["amount_cents"] for i in cn["items"]) - cn["coupons_adjustment_amount_cents"])
        assert cn["total_amount_cents"] == cn["sub_total_excluding_taxes_amount_cents"] + cn["taxes_amount_cents"]


# --- helpers shared by the transform tests -----------------------------------------------------

def mapping(**changes: Any) -> Any:
    """The demo mapping with ``a__b__c=value`` changes (None deletes), parsed and validated."""
    import yaml

    from lago_netsuite.transform.mappings import parse_mappings
    from tests.unit.test_mappings import edited

    return parse_mappings(yaml.safe_dump(edited(**changes)), source="test-mapping.yaml")


def run(invoices: list[dict[str, Any]] = (), credit_notes: list[dict[str, Any]] = (),  # type: ignore[assignment]
        payments: list[dict[str, Any]] = (), customers: list[dict[str, Any]] = (),  # type: ignore[assignment]
        mappings: Any = None, synced: tuple[str, ...] = (), **settings: Any) -> Any:
    """transform_documents with the demo mapping (or ``mappings``) and setting overrides."""
    from lago_netsuite.transform import TransformSettings, transform_documents

    m = mappings or mapping()
    return transform_documents(invoices=list(invoices), credit_notes=list(credit_notes), payments=list(payments),
                               customers=list(customers), mappings=m,
                               settings=TransformSettings.from_mappings(m, **settings), synced_invoices=synced)


def sublist(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The line items of a sublist of a contract body ([] when absent)."""
    for s in body.get("lines", []):
        if s["sublistId"] == name:
            return s["lineItems"]
    return []


def tax_rows(body: dict[str, Any]) -> list[dict[str, Any]]:
    return body["taxdetails"][0]["lineItems"] if body.get("taxdetails") else []


def body_total(body: dict[str, Any]) -> Decimal:
    """Item line amounts + tax total of a contract body, exactly, from its JSON numbers."""
    import json

    body = json.loads(json.dumps(body))  # what the RESTlet receives
    lines = sum((Decimal(repr(li["amount"])) for li in sublist(body, "item")), Decimal(0))
    if "taxamountoverride" in body["columns"]:
        tax = Decimal(repr(body["columns"]["taxamountoverride"]))
    else:
        tax = sum((Decimal(repr(t["taxamount"])) for t in tax_rows(body)), Decimal(0))
    return lines + tax


def major(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-currency_exponent(currency))

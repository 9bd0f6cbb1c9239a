"""The fixed definitions of the sandbox's Lago catalog: entities, taxes, metrics, add-ons, plans.

Prices are defined once in USD and converted with a fixed factor per currency (:func:`convert`);
flat prices are rounded to the currency's own exponent (JPY has none, KWD three), unit prices keep
up to ten decimals. Codes here are what mappings in ``include/mappings/`` refer to.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from lago_netsuite import money

D = Decimal

#: Conversion factors from the USD list price (fixed, so every seed prices alike).
CURRENCY_FACTORS: dict[str, Decimal] = {"USD": D("1"), "EUR": D("0.92"), "JPY": D("150"), "KWD": D("0.307")}


@dataclass(frozen=True)
class EntityDef:
    """A billing entity: its currency, numbering prefix, NetSuite subsidiary and extra currencies."""

    code: str
    name: str
    currency: str
    prefix: str
    country: str
    timezone: str
    subsidiary_id: str
    other_currencies: tuple[str, ...] = ()


ENTITIES: tuple[EntityDef, ...] = (
    EntityDef("acme_us", "Acme Cloud Inc.", "USD", "ACU-8F3A", "US", "America/Los_Angeles", "1"),
    EntityDef("acme_eu", "Acme Cloud Europe SAS", "EUR", "ACE-2B71", "FR", "Europe/Paris", "2", ("USD",)),
    EntityDef("acme_jp", "アクメクラウド株式会社", "JPY", "ACJ-5C90", "JP", "Asia/Tokyo", "3"),
    EntityDef("acme_kw", "Acme Cloud Kuwait W.L.L.", "KWD", "ACK-7D14", "KW", "Asia/Kuwait", "4"),
)

#: (code, name, rate percent, description)
TAXES: tuple[tuple[str, str, Decimal, str], ...] = (
    ("vat_eu_20", "VAT 20%", D("20"), "EU standard VAT"),
    ("vat_eu_reduced_5_5", "VAT 5.5%", D("5.5"), "EU reduced VAT (training)"),
    ("us_ca_state_6", "California state tax", D("6"), "California state sales tax"),
    ("us_ca_district_1_25", "California district tax", D("1.25"), "California district sales tax"),
    ("jp_consumption_10", "消費税 10%", D("10"), "Japanese consumption tax"),
    ("kw_excise_5", "Kuwait excise 5%", D("5"), "Kuwait excise tax"),
)

#: (code, name, aggregation_type, unit kind, low, high, recurring)
METRICS: tuple[tuple[str, str, str, str, str, str, bool], ...] = (
    ("api_calls", "API calls", "count_agg", "int", "1000", "90000000", False),
    ("storage_gb", "Storage (GB)", "max_agg", "frac4", "0.5", "5000", True),
    ("seats", "Seats", "unique_count_agg", "int", "1", "400", True),
    ("compute_hours", "Compute hours", "sum_agg", "frac3", "0", "2500", False),
    ("data_transfer_gb", "Data transfer (GB)", "sum_agg", "frac6", "0", "9000", False),
    ("beta_feature", "Beta feature usage", "count_agg", "int", "1", "500", False),
)

#: (code, name, USD price, description)
ADD_ONS: tuple[tuple[str, str, Decimal, str], ...] = (
    ("setup_fee", "Setup fee", D("1500.00"), "One-time onboarding and account setup"),
    ("premium_support", "Premium support", D("500.00"), "24/7 support with a named engineer"),
    ("training", "Training (per hour)", D("150.00"), "Instructor-led training, billed per hour"),
)


@dataclass(frozen=True)
class ChargeDef:
    """A usage charge of a plan; ``filters`` split it into several fees (one per filter value)."""

    metric: str
    model: str  # "standard" | "graduated" | "free_units"
    price_usd: Decimal
    free_units: Decimal = D(0)
    tiers: tuple[tuple[Decimal | None, Decimal, Decimal], ...] = ()  # (up to, per unit, flat), USD
    filters: tuple[tuple[str, str, Decimal], ...] = ()  # (key, value, price multiplier)
    pay_in_advance: bool = False


@dataclass(frozen=True)
class PlanDef:
    """A monthly plan: base price, charges, fixed charges (add-ons) and an optional commitment."""

    code: str
    name: str
    amount_usd: Decimal
    pay_in_advance: bool
    charges: tuple[ChargeDef, ...]
    fixed_charges: tuple[tuple[str, Decimal], ...] = ()  # (add-on code, units)
    minimum_commitment_usd: Decimal | None = None


_REGIONS = (("region", "us-east", D("1")), ("region", "eu-west", D("1.1")), ("region", "ap-south", D("1.35")))
_TIERS = ((D("1000"), D("0.12"), D(0)), (D("10000"), D("0.085"), D(0)), (None, D("0.05"), D(0)))
_STORAGE = (("class", "hot", D("1")), ("class", "cold", D("0.4")), ("class", "archive", D("0.1")))
_SEAT_TIERS = ((D("5"), D(0), D("30.00")), (None, D("4.00"), D(0)))

PLANS: tuple[PlanDef, ...] = (
    PlanDef(
        "starter",
        "Starter",
        D("49.00"),
        False,
        (
            ChargeDef("api_calls", "free_units", D("0.0002"), free_units=D("10000")),
            ChargeDef("storage_gb", "standard", D("0.023")),
            ChargeDef("seats", "graduated", D("0"), tiers=_SEAT_TIERS),
        ),
    ),
    PlanDef(
        "growth",
        "Growth",
        D("299.00"),
        True,
        (
            ChargeDef(
                "api_calls",
                "free_units",
                D("0.00015"),
                free_units=D("100000"),
                filters=(("tier", "standard", D("1")), ("tier", "priority", D("3"))),
            ),
            ChargeDef("storage_gb", "standard", D("0.021"), filters=_STORAGE),
            ChargeDef("seats", "standard", D("12.50"), pay_in_advance=True),
            ChargeDef("data_transfer_gb", "graduated", D("0"), tiers=_TIERS, filters=_REGIONS),
        ),
    ),
    PlanDef(
        "enterprise",
        "Enterprise",
        D("1999.00"),
        True,
        (
            ChargeDef(
                "api_calls",
                "standard",
                D("0.0000012"),
                filters=(("tier", "standard", D("1")), ("tier", "priority", D("2.5"))),
            ),
            ChargeDef("storage_gb", "standard", D("0.019"), filters=_STORAGE),
            ChargeDef("seats", "standard", D("10.00"), pay_in_advance=True),
            ChargeDef(
                "compute_hours",
                "standard",
                D("0.085"),
                filters=(
                    ("instance", "cpu", D("1")),
                    ("instance", "gpu", D("28.8")),
                    ("instance", "memory", D("2.2")),
                    ("instance", "arm", D("0.8")),
                ),
            ),
            ChargeDef(
                "data_transfer_gb",
                "graduated",
                D("0"),
                tiers=_TIERS,
                filters=_REGIONS + (("region", "sa-east", D("1.5")),),
            ),
            ChargeDef("beta_feature", "standard", D("0.75")),
        ),
        fixed_charges=(("premium_support", D("1")),),
        minimum_commitment_usd=D("6000.00"),
    ),
)

#: (code, name, type, percentage rate, USD amount, frequency)
COUPONS: tuple[tuple[str, str, str, Decimal | None, Decimal | None, str], ...] = (
    ("welcome10", "Welcome 10%", "percentage", D("10"), None, "once"),
    ("loyalty_50", "Loyalty 50 off", "fixed_amount", None, D("50.00"), "recurring"),
)


def convert(usd: Decimal, currency: str, *, flat: bool) -> Decimal:
    """Convert a USD list price to ``currency``; flat prices round to the currency's exponent."""
    value = usd * CURRENCY_FACTORS[currency]
    if flat:
        return value.quantize(D(1).scaleb(-money.exponent(currency)), rounding=ROUND_HALF_UP)
    return value.quantize(D("1e-10"), rounding=ROUND_HALF_UP).normalize()


def minor(amount: Decimal, currency: str) -> int:
    """Exact minor units of a flat amount already rounded to the currency's exponent."""
    return money.to_minor(amount, currency)

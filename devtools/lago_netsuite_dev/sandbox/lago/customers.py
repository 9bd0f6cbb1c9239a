"""Seeded Lago customers: companies and individuals, Unicode names, NetSuite links, tax profiles.

Some customers carry what Lago accepts and NetSuite does not, chosen by sequence number (no random
draw, so every other generated figure stays as it was): every seventh from the third has several
comma-separated e-mail addresses (``multi_email``; three for every fourteenth from the tenth),
every eleventh from the sixth a phone longer than NetSuite's 32 characters (``unusable_phone``).

Each customer comes with a :class:`CustomerProfile` the invoice generator reads (plan, currency,
taxes per fee kind, wallet, coupons); only ``profile.doc`` is a Lago document.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from .catalog import Catalog
from .common import at, new_uuid
from .definitions import EntityDef

_COMPANIES = {
    "US": [
        "Initech LLC",
        "Globex Corporation",
        "Hooli",
        "Pied Piper, Inc.",
        "Vandelay Industries",
        "Soylent Corp",
        "Stark Industries",
        "Wayne Enterprises",
        "Acme Rockets & Co.",
        "Cyberdyne Systems",
    ],
    "FR": ["Société Générale de Démo", "Boulangerie Éclair SARL", "Les Ateliers Ħélio", "Crème & Café SAS"],
    "DE": ["Müller & Söhne GmbH", "Straßenbau Weiß AG", "Grüne Energie eG"],
    "ES": ["Compañía Ibérica S.L.", "Peñalara Tecnología"],
    "IT": ["Caffè Ristretto S.r.l.", "Officine Città"],
    "NL": ["IJsselmeer Data B.V."],
    "BE": ["Brasserie Œuvre SRL"],
    "GB": ["Thames Analytics Ltd", "Smith & Wesson-Jones plc"],
    "CH": ["Zürich Präzision AG"],
    "JP": ["株式会社サンプル", "山田データ合同会社", "東京クラウド株式会社", "ＡＢＣトレーディング株式会社"],
    "KW": ["شركة الكويت التجريبية", "Gulf Horizon Trading Co.", "Al-Mubarakiya Systems"],
    "SA": ["الرياض للحلول الرقمية"],
    "AE": ["Dubai Creek Logistics FZ-LLC"],
}
_PEOPLE = {
    "US": [("Jane", "Doe"), ("Dinesh", "Chugtai"), ("Zoë", "Ångström"), ("Mary-Kate", "O'Connor")],
    "FR": [("Éloïse", "Lefèvre"), ("François", "Dupré")],
    "DE": [("Jürgen", "Groß")],
    "ES": [("José", "Álvarez")],
    "JP": [("太郎", "山田"), ("花子", "佐藤")],
    "KW": [("فاطمة", "الصباح"), ("Ahmed", "Al-Sabah")],
    "GB": [("Siobhán", "Ní Bhriain")],
}
_CITIES = {
    "US": ["San Francisco", "Los Angeles", "New York", "Austin", "Seattle"],
    "FR": ["Paris", "Lyon"],
    "DE": ["München", "Köln"],
    "ES": ["Madrid"],
    "IT": ["Milano"],
    "NL": ["Amsterdam"],
    "BE": ["Bruxelles"],
    "GB": ["London"],
    "CH": ["Zürich"],
    "JP": ["東京", "大阪"],
    "KW": ["Kuwait City"],
    "SA": ["Riyadh"],
    "AE": ["Dubai"],
}
_COUNTRIES = {
    "acme_us": [("US", 1.0)],
    "acme_eu": [
        ("FR", 0.4),
        ("DE", 0.2),
        ("ES", 0.1),
        ("IT", 0.1),
        ("NL", 0.05),
        ("BE", 0.05),
        ("GB", 0.05),
        ("CH", 0.05),
    ],
    "acme_jp": [("JP", 1.0)],
    "acme_kw": [("KW", 0.7), ("SA", 0.15), ("AE", 0.15)],
}
_ENTITY_WEIGHTS = (("acme_us", 0.4), ("acme_eu", 0.35), ("acme_jp", 0.15), ("acme_kw", 0.1))
_US_STATES = ("CA", "CA", "CA", "NY", "TX", "WA")


def multi_email(seq: int) -> bool:
    """Customers whose Lago ``email`` holds several addresses (Lago sends invoices to each)."""
    return seq % 7 == 3


def unusable_phone(seq: int) -> bool:
    """Customers whose phone NetSuite would refuse (over 32 characters, with words)."""
    return seq % 11 == 6


@dataclass
class CustomerProfile:
    """A customer document and the facts that shape its invoices."""

    doc: dict
    index: int
    entity: EntityDef
    currency: str
    plan_code: str
    standard_taxes: list[str]
    reduced_taxes: list[str]
    subscription_id: str
    subscription_external_id: str
    subscription_started: date
    has_wallet: bool
    wallet_id: str
    welcome_coupon: bool
    loyalty_coupon: bool
    payment_provider: str | None
    extra: dict = field(default_factory=dict)


def _pick(rng: random.Random, weighted: tuple | list) -> str:
    roll, acc = rng.random(), 0.0
    for value, weight in weighted:
        acc += weight
        if roll < acc:
            return value
    return weighted[-1][0]


def build_customers(
    seed: int, count: int, catalog: Catalog, start: date, netsuite_share: float
) -> list[CustomerProfile]:
    """Build ``count`` customers for ``seed``; about ``netsuite_share`` of them link to NetSuite."""
    return [build_customer(seed, index, catalog, start, netsuite_share) for index in range(count)]


def build_customer(seed: int, index: int, catalog: Catalog, start: date, netsuite_share: float) -> CustomerProfile:
    """Build customer number ``index`` (0-based) from its own RNG, independent of the others."""
    rng = random.Random((seed << 24) ^ (0xC0FFEE + index))
    entity = catalog.entity_defs[_pick(rng, _ENTITY_WEIGHTS)]
    country = _pick(rng, _COUNTRIES[entity.code])
    currency = entity.currency
    if entity.other_currencies and country in ("GB", "CH"):
        currency = entity.other_currencies[0]
    seq = index + 1
    is_person = rng.random() < 0.2 and country in _PEOPLE
    state = rng.choice(_US_STATES) if country == "US" else None
    if is_person:
        first, last = rng.choice(_PEOPLE[country])
        name = None if rng.random() < 0.5 else f"{first} {last}"
        legal_name, tin = None, None
    else:
        first = last = None  # type: ignore[assignment]  # a company has no person name
        name = rng.choice(_COMPANIES[country])
        if rng.random() < 0.3:
            name = f"{name} ({seq})"  # same trade name, different legal customers
        legal_name = name
        tin = f"{country}{rng.randrange(10**8, 10**9)}" if rng.random() < 0.7 else None
    standard, reduced = _tax_profile(rng, entity, country, state, currency, is_person, tin)
    created_day = start - timedelta(days=rng.randrange(30, 700))
    created = at(created_day, rng.randrange(86400))
    provider = _pick(rng, (("stripe", 0.55), ("gocardless", 0.15 if entity.code == "acme_eu" else 0.0), (None, 1.0)))
    doc: dict[str, Any] = {
        "lago_id": new_uuid(rng),
        "billing_entity_code": entity.code,
        "external_id": f"cust-{seq:05d}",
        "account_type": "customer",
        "name": name,
        "firstname": first,
        "lastname": last,
        "customer_type": "individual" if is_person else "company",
        "sequential_id": seq,
        "slug": f"{entity.prefix}-{seq:03d}",
        "created_at": created,
        "updated_at": created,
        "country": country,
        "address_line1": f"{rng.randrange(1, 999)} {rng.choice(['Main St', 'Rue de Rivoli', 'Hauptstraße', '本町'])}",
        "address_line2": None,
        "state": state,
        "zipcode": f"{rng.randrange(10000, 99999)}",
        "email": (f"billing{seq}@customer{seq}.example, finance{seq}@customer{seq}.example"
                  + (f",ap{seq}@customer{seq}.example" if seq % 14 == 10 else "")
                  if multi_email(seq) else f"billing{seq}@customer{seq}.example"),
        "city": rng.choice(_CITIES[country]),
        "url": None if is_person else f"https://customer{seq}.example",
        "phone": f"+1-555-{rng.randrange(1000, 9999)}",  # drawn for every customer: the draws stay in step
        "logo_url": None,
        "legal_name": legal_name,
        "legal_number": None,
        "currency": currency,
        "tax_identification_number": tin,
        "timezone": None,
        "applicable_timezone": entity.timezone,
        "net_payment_term": rng.choice([None, None, 15, 30, 45]),
        "external_salesforce_id": None,
        "finalize_zero_amount_invoice": "inherit",
        "billing_configuration": {
            "invoice_grace_period": 0,
            "payment_provider": provider,
            "payment_provider_code": f"{provider}_prod" if provider else None,
            "provider_customer_id": f"cus_{rng.getrandbits(48):012x}" if provider else None,
            "sync": bool(provider),
            "sync_with_provider": bool(provider),
            "document_locale": None,
            "provider_payment_methods": ["card"] if provider == "stripe" else None,
        },
        "shipping_address": {
            "address_line1": None,
            "address_line2": None,
            "city": None,
            "country": None,
            "state": None,
            "zipcode": None,
        },
        "skip_invoice_custom_sections": False,
        "metadata": [],
        "integration_customers": [],
    }
    if unusable_phone(seq):
        doc["phone"] += " ext. 12 (ask for accounts payable)"
    if rng.random() < netsuite_share:
        links = []
        if rng.random() < 0.08:
            links.append(
                {
                    "lago_id": new_uuid(rng),
                    "type": "anrok",
                    "integration_code": "anrok-prod",
                    "external_customer_id": f"anrok-{seq}",
                    "sync_with_provider": True,
                }
            )
        links.append(
            {
                "lago_id": new_uuid(rng),
                "type": "netsuite",
                "integration_code": "netsuite-prod",
                "external_customer_id": str(1000 + seq * 7),
                "sync_with_provider": True,
                "subsidiary_id": entity.subsidiary_id,
            }
        )
        doc["integration_customers"] = links
    if rng.random() < 0.1:
        doc["metadata"] = [
            {
                "lago_id": new_uuid(rng),
                "key": "po_reference",
                "value": f"PO-{rng.randrange(10**5)}",
                "display_in_invoice": True,
                "created_at": created,
            }
        ]
    plan = _pick(rng, (("starter", 0.2), ("growth", 0.4), ("enterprise", 0.4)))
    return CustomerProfile(
        doc=doc,
        index=index,
        entity=entity,
        currency=currency,
        plan_code=plan,
        standard_taxes=standard,
        reduced_taxes=reduced,
        subscription_id=new_uuid(rng),
        subscription_external_id=f"sub-{seq:05d}",
        subscription_started=created_day + timedelta(days=rng.randrange(0, 25)),
        has_wallet=rng.random() < 0.3,
        wallet_id=new_uuid(rng),
        welcome_coupon=rng.random() < 0.4,
        loyalty_coupon=rng.random() < 0.15,
        payment_provider=provider,
    )


def _tax_profile(
    rng: random.Random,
    entity: EntityDef,
    country: str,
    state: str | None,
    currency: str,
    is_person: bool,
    tin: str | None,
) -> tuple[list[str], list[str]]:
    """Taxes for standard fees and for reduced-rate add-ons (training) of one customer."""
    if entity.code == "acme_us":
        taxes = ["us_ca_state_6", "us_ca_district_1_25"] if state == "CA" else []
        return taxes, taxes
    if entity.code == "acme_eu":
        if currency != entity.currency or (not is_person and tin and country != "FR"):
            return [], []  # export or intra-EU reverse charge
        return ["vat_eu_20"], ["vat_eu_reduced_5_5"]
    if entity.code == "acme_jp":
        return ["jp_consumption_10"], ["jp_consumption_10"]
    taxes = ["kw_excise_5"] if rng.random() < 0.7 else []
    return taxes, taxes

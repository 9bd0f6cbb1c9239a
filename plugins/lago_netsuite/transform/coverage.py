"""Mapping coverage: which Lago objects have no NetSuite mapping, before any invoice needs one.

For every billing entity Lago has, each billable metric, add-on, tax and currency is resolved the
way the transform resolves it (items: entity mapping → entity fallback → organization mapping →
organization fallback; taxes: (tax, entity) → tax → entity default → organization default) and
reported as ``mapped``, ``fallback`` (documents go out on the fallback item, with a warning) or
``unmapped`` (documents that need it are quarantined). Lookup tables of the ``fields`` section are
checked too: a Lago value seen in the catalog or on a customer (a fee's ``item.code``, a billing
entity, a customer's field) with no lookup entry and no default is ``unmapped``. The catalog DAG
logs the gaps every day.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lago_netsuite.transform.field_specs import DOCUMENT_PREFIX
from lago_netsuite.transform.fields import read_path
from lago_netsuite.transform.mappings import Mappings, ScopeMapping, TaxRef

DEFAULT_KINDS = {"plan": ("subscription_fee", "minimum_commitment"), "coupon": ("coupon",)}
ALWAYS_NEEDED_DEFAULTS = ("credit_note", "prepaid_credit")


@dataclass(frozen=True)
class Gap:
    """One Lago object a billing entity cannot map fully."""

    object_type: str  # billable_metric, add_on, tax, currency, billing_entity, default
    code: str
    billing_entity: str
    status: str  # "fallback" or "unmapped"
    detail: str

    def as_dict(self) -> dict[str, str]:
        return dict(self.__dict__)


def _tax_complete(ref: TaxRef | None, mode: str) -> bool:
    if ref is None:
        return False
    return bool(ref.tax_item) if mode == "legacy" else bool(ref.nexus and ref.tax_type and ref.tax_code)


def _item_status(kind: str, code: str, entity: ScopeMapping | None, org: ScopeMapping) -> tuple[str, str]:
    table = "billable_metrics" if kind == "billable_metric" else "add_ons" if kind == "add_on" else "defaults"
    if entity is not None and code in getattr(entity, table):
        return "mapped", f"item {getattr(entity, table)[code].item} (billing entity)"
    if entity is not None and entity.fallback is not None:
        return "fallback", f"billing-entity fallback item {entity.fallback.item}"
    if code in getattr(org, table):
        return "mapped", f"item {getattr(org, table)[code].item}"
    if org.fallback is not None:
        return "fallback", f"fallback item {org.fallback.item}"
    return "unmapped", "no item mapping and no fallback item: documents with it are quarantined"


def _tax_status(code: str, entity: ScopeMapping | None, org: ScopeMapping, mode: str) -> tuple[str, str]:
    for where, ref in (("billing entity", entity.taxes.get(code) if entity else None),
                       ("organization", org.taxes.get(code)),
                       ("billing-entity default", entity.tax_default if entity else None),
                       ("organization default", org.tax_default)):
        if _tax_complete(ref, mode):
            return ("mapped" if where in ("billing entity", "organization") else "fallback"), f"{where} tax mapping"
    need = "a tax item" if mode == "legacy" else "nexus, tax type and tax code"
    return "unmapped", f"no {mode} tax mapping ({need}) at any level: documents taxed with it are quarantined"


def mapping_coverage(
    mappings: Mappings, catalog: Mapping[str, Iterable[Mapping[str, Any]]], customers: Iterable[Mapping[str, Any]]
) -> list[Gap]:
    """Every gap in the mapping for the Lago catalog (``{object_type: [objects]}``) and customers."""
    mode = mappings.options.tax_mode
    org = mappings.organization
    entities = [str(e["code"]) for e in catalog.get("billing_entity", []) if e.get("code")]
    currencies_by_entity: dict[str, set[str]] = {code: set() for code in entities}
    for e in catalog.get("billing_entity", []):
        if e.get("code") and e.get("default_currency"):
            currencies_by_entity[str(e["code"])].add(str(e["default_currency"]))
    for c in customers:
        if c.get("billing_entity_code") in currencies_by_entity and c.get("currency"):
            currencies_by_entity[c["billing_entity_code"]].add(str(c["currency"]))
    gaps: list[Gap] = []
    for be in entities:
        scope = mappings.billing_entities.get(be)
        if be not in mappings.subsidiaries:
            gaps.append(Gap("billing_entity", be, be, "unmapped",
                            "no NetSuite subsidiary: every document of this billing entity is quarantined"))
        for kind in ("billable_metric", "add_on"):
            for obj in catalog.get(kind, []):
                status, detail = _item_status(kind, str(obj.get("code")), scope, org)
                if status != "mapped":
                    gaps.append(Gap(kind, str(obj.get("code")), be, status, detail))
        needed_defaults = list(ALWAYS_NEEDED_DEFAULTS)
        for object_type, names in DEFAULT_KINDS.items():
            if catalog.get(object_type):
                needed_defaults += list(names)
        for name in needed_defaults:
            status, detail = _item_status("default", name, scope, org)
            if status != "mapped":
                gaps.append(Gap("default", name, be, status, detail))
        for tax in catalog.get("tax", []):
            status, detail = _tax_status(str(tax.get("code")), scope, org, mode)
            if status != "mapped":
                gaps.append(Gap("tax", str(tax.get("code")), be, status, detail))
        for iso in sorted(currencies_by_entity.get(be, ())):
            if not ((scope and iso in scope.currencies) or iso in org.currencies):
                gaps.append(Gap("currency", iso, be, "unmapped",
                                "no NetSuite currency id: documents in this currency are quarantined"))
        gaps += _lookup_gaps(mappings, be, catalog, [c for c in customers if c.get("billing_entity_code") == be])
    return gaps


def _seen_values(record_type: str, line: bool, path: str, be: str, catalog: Mapping[str, Iterable[Mapping[str, Any]]],
                 customers: list[Mapping[str, Any]]) -> set[str]:
    """The Lago values a lookup may meet that the catalog and customers show (others are unknown here)."""
    path = path.removeprefix(DOCUMENT_PREFIX) if line else path
    if line and path == "item.code":
        return {str(o["code"]) for kind in ("plan", "billable_metric", "add_on") for o in catalog.get(kind, [])
                if o.get("code")}
    if path == "billing_entity_code":
        return {be}
    if record_type == "customer" or path.startswith("customer."):
        parts = path.removeprefix("customer.").split(".") if record_type != "customer" else path.split(".")
        values = (read_path(dict(c), parts) for c in customers)
        return {str(v) for v in values if isinstance(v, str | int) and str(v).strip()}
    return set()


def _lookup_gaps(mappings: Mappings, be: str, catalog: Mapping[str, Iterable[Mapping[str, Any]]],
                 customers: list[Mapping[str, Any]]) -> list[Gap]:
    """Lookup values seen in Lago that a ``fields`` lookup of this billing entity cannot map."""
    gaps = []
    record_types = {rt for s in [mappings.organization, *mappings.billing_entities.values()] for rt in s.fields}
    for record_type in sorted(record_types):
        specs = mappings.record_fields(record_type, be)
        for line, part in ((False, specs.header), (True, specs.lines)):
            for spec in part.values():
                table = spec.lookup_map
                if table is None or spec.default is not None or spec.source is None:
                    continue
                for value in sorted(_seen_values(record_type, line, spec.source, be, catalog, customers) - set(table)):
                    where = f"{record_type} {'lines' if line else 'header'}"
                    gaps.append(Gap("field_lookup", value, be, "unmapped",
                                    f"field {spec.field_id} ({where}) from {spec.source}: no lookup entry and no "
                                    "default: documents with it are held back"))
    return gaps


def render(gaps: list[Gap]) -> str:
    """The gaps as log lines, unmapped first."""
    if not gaps:
        return "mapping coverage: every Lago object of every billing entity is mapped"
    ordered = sorted(gaps, key=lambda g: (g.status != "unmapped", g.billing_entity, g.object_type, g.code))
    lines = [f"mapping coverage: {sum(g.status == 'unmapped' for g in gaps)} unmapped, "
             f"{sum(g.status == 'fallback' for g in gaps)} on a fallback"]
    lines += [f"  [{g.status}] {g.billing_entity}: {g.object_type} {g.code!r}: {g.detail}" for g in ordered]
    return "\n".join(lines)

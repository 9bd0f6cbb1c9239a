"""Load the Lago -> NetSuite mapping file (YAML) and check it against its JSON Schema.

The mapping is data, not code: accountants change it without a release. So a bad file must fail
loudly and precisely — every error names the file, the key path (``billing_entities.acme_eu.
items.billable_metrics.api_calls.item``), the line and what is wrong — before any document is
transformed with it.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import jsonschema
import pandas as pd
import yaml

from lago_netsuite.money import KNOWN_CURRENCIES
from lago_netsuite.transform.field_specs import SECTION_FALLBACK, RecordFields, parse_fields

SCHEMA_PATH = Path(__file__).resolve().parents[3] / "include" / "mappings" / "mapping.schema.json"
DEFAULT_MAPPING_PATH = SCHEMA_PATH.parent / "netsuite_mapping.yaml"

DEFAULT_KINDS = ("subscription_fee", "minimum_commitment", "coupon", "credit_note", "prepaid_credit")
URL_PLACEHOLDERS = frozenset({"invoice_lago_id", "customer_lago_id", "number", "billing_entity_code"})
SUITETAX_FIELDS = ("nexus", "tax_type", "tax_code")
LEGACY_FIELDS = ("tax_item",)


class MappingError(ValueError):
    """A mapping file that cannot be used; ``errors`` holds ``(key path, problem)`` pairs."""

    def __init__(self, source: str, errors: list[tuple[str, str]]) -> None:
        self.source = source
        self.errors = errors
        lines = "\n".join(f"  - {path or '<root>'}: {problem}" for path, problem in errors)
        super().__init__(f"mapping file {source} is invalid ({len(errors)} problem(s)):\n{lines}")


@dataclass(frozen=True)
class ItemRef:
    """A NetSuite item and the account its lines post to (None: the item's own account)."""

    item: str
    account: str | None = None


@dataclass(frozen=True)
class TaxRef:
    """SuiteTax nexus/type/code and the legacy tax item of one Lago tax (or a default)."""

    nexus: str | None = None
    tax_type: str | None = None
    tax_code: str | None = None
    tax_item: str | None = None


@dataclass(frozen=True)
class ScopeMapping:
    """The item and tax mappings of one scope: the organization or one billing entity."""

    billable_metrics: dict[str, ItemRef] = field(default_factory=dict)
    add_ons: dict[str, ItemRef] = field(default_factory=dict)
    defaults: dict[str, ItemRef] = field(default_factory=dict)
    fallback: ItemRef | None = None
    taxes: dict[str, TaxRef] = field(default_factory=dict)
    tax_default: TaxRef | None = None
    currencies: dict[str, str] = field(default_factory=dict)
    fields: dict[str, RecordFields] = field(default_factory=dict)
    refund_account: str | None = None


@dataclass(frozen=True)
class GroupingConfig:
    """Put all usage-charge lines of matching invoices on one line of ``item``."""

    item: ItemRef
    invoice_types: tuple[str, ...] | None = None
    billing_entities: tuple[str, ...] | None = None
    customers: tuple[str, ...] | None = None
    min_lines: int = 2


@dataclass(frozen=True)
class MappingOptions:
    """Account-level options stored with the mapping (overridable in TransformSettings)."""

    tax_mode: str = "suitetax"
    invoice_record_type: str = "invoice"
    skip_zero_total: bool = False
    lago_web_url: str | None = None
    usage_grouping: GroupingConfig | None = None
    credit_notes: str = "apply"  # apply | lago_lines (how consumed credit-note credit is booked)


@dataclass(frozen=True)
class Mappings:
    """A validated mapping file, with its lookups as small frames ready to merge."""

    source: str
    options: MappingOptions
    subsidiaries: dict[str, str]
    organization: ScopeMapping
    billing_entities: dict[str, ScopeMapping]

    @cached_property
    def refund_accounts(self) -> dict[str, str]:
        """Billing entity code -> bank account of its customer refunds ("" = the organization's)."""
        out = {code: m.refund_account for code, m in self.billing_entities.items() if m.refund_account}
        org = self.organization.refund_account
        if org:
            out[""] = org
            for code in self.subsidiaries:
                out.setdefault(code, org)
        return out

    @cached_property
    def item_table(self) -> pd.DataFrame:
        """Rows ``(scope, map_kind, map_code, item, account)``; scope "" is the organization."""
        rows = []
        for scope, m in [("", self.organization), *self.billing_entities.items()]:
            for kind, table in (("billable_metric", m.billable_metrics), ("add_on", m.add_ons),
                                ("default", m.defaults)):
                rows += [(scope, kind, code, ref.item, ref.account) for code, ref in table.items()]
        return pd.DataFrame(rows, columns=["scope", "map_kind", "map_code", "item", "account"], dtype=object)

    @cached_property
    def fallback_table(self) -> pd.DataFrame:
        """Rows ``(scope, item, account)`` of the configured fallback items."""
        rows = [(scope, m.fallback.item, m.fallback.account)
                for scope, m in [("", self.organization), *self.billing_entities.items()] if m.fallback]
        return pd.DataFrame(rows, columns=["scope", "item", "account"], dtype=object)

    @cached_property
    def tax_table(self) -> pd.DataFrame:
        """Rows ``(scope, lago_tax_code, nexus, tax_type, tax_code, tax_item)``; code "" is the default."""
        rows = []
        for scope, m in [("", self.organization), *self.billing_entities.items()]:
            refs = list(m.taxes.items()) + ([("", m.tax_default)] if m.tax_default else [])
            rows += [(scope, code, r.nexus, r.tax_type, r.tax_code, r.tax_item) for code, r in refs]
        return pd.DataFrame(
            rows, columns=["scope", "lago_tax_code", "nexus", "tax_type", "tax_code", "tax_item"], dtype=object
        )

    @cached_property
    def currency_table(self) -> pd.DataFrame:
        """Rows ``(scope, currency, currency_id)``."""
        rows = [(scope, iso, ns) for scope, m in [("", self.organization), *self.billing_entities.items()]
                for iso, ns in m.currencies.items()]
        return pd.DataFrame(rows, columns=["scope", "currency", "currency_id"], dtype=object)

    def record_fields(self, record_type: str, billing_entity: str | None) -> RecordFields:
        """The mapped fields of ``record_type`` for one billing entity (its overrides win, field by field)."""
        merged_header: dict[str, Any] = {}
        merged_lines: dict[str, Any] = {}
        scopes = [self.organization] + ([self.billing_entities[billing_entity]]
                                        if billing_entity in self.billing_entities else [])
        for scope in scopes:
            section = scope.fields.get(record_type) or scope.fields.get(SECTION_FALLBACK.get(record_type, ""))
            if section:
                merged_header.update(section.header)
                merged_lines.update(section.lines)
        return RecordFields(header=merged_header, lines=merged_lines)

    @cached_property
    def has_fields(self) -> bool:
        """True when the file maps any extra NetSuite field."""
        return any(s.fields for s in [self.organization, *self.billing_entities.values()])

    @cached_property
    def subsidiary_table(self) -> pd.DataFrame:
        """Rows ``(billing_entity_code, subsidiary)``."""
        return pd.DataFrame(list(self.subsidiaries.items()), columns=["billing_entity_code", "subsidiary"],
                            dtype=object)


def load_mappings(path: str | Path) -> Mappings:
    """Read, schema-check and semantically check a mapping YAML file.

    Raises:
        MappingError: the file is missing, not YAML, or breaks the schema or a rule; the message
            lists every problem with its key path and line.
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(source, [("", f"cannot read the file: {exc.strerror or exc}")]) from exc
    # A run transforms in many passes: the same bytes are parsed and checked once per process.
    key = (source, text)
    parsed = _PARSED.get(key)
    if parsed is None:
        parsed = parse_mappings(text, source=source)  # a broken file raises every time, never cached
        if len(_PARSED) >= 4:
            _PARSED.pop(next(iter(_PARSED)))
        _PARSED[key] = parsed
    return parsed


#: Mapping files parsed in this process, by (path, content); Mappings are frozen.
_PARSED: dict[tuple[str, str], Mappings] = {}


def parse_mappings(text: str, *, source: str = "<string>") -> Mappings:
    """Parse mapping YAML text (see :func:`load_mappings`)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise MappingError(source, [("", f"not valid YAML: {exc}")]) from exc
    lines: dict[str, int] = {}
    errors: list[tuple[str, str]] = []
    _index_nodes(node, "", lines, errors)
    if errors:
        raise MappingError(source, errors)
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise MappingError(source, [("", "the file must hold a mapping (YAML object) at the top level")])
    errors = _schema_errors(data, lines) or _semantic_errors(data, lines)
    if errors:
        raise MappingError(source, errors)
    return _build(data, source)


def _index_nodes(node: yaml.Node | None, path: str, lines: dict[str, int], errors: list[tuple[str, str]]) -> None:
    """Record the line of every key path and report duplicate keys (PyYAML keeps the last silently)."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = f"{path}.{key}" if path else key
            line = key_node.start_mark.line + 1
            if key in seen:
                errors.append((child, f"duplicate key (line {line}; first defined on line {seen[key]})"))
            seen.setdefault(key, line)
            lines.setdefault(child, line)
            _index_nodes(value_node, child, lines, errors)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            child = f"{path}[{i}]"
            lines.setdefault(child, item.start_mark.line + 1)
            _index_nodes(item, child, lines, errors)


def _at(path: str, lines: dict[str, int]) -> str:
    """`` (line N)`` for a key path when its line is known."""
    probe = path
    while probe:
        if probe in lines:
            return f" (line {lines[probe]})"
        probe = probe.rsplit(".", 1)[0] if "." in probe else ""
    return ""


def _schema_errors(data: dict[str, Any], lines: dict[str, int]) -> list[tuple[str, str]]:
    """Schema violations as ``(key path, readable problem)``, in file order."""
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    out = []
    for err in sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        path = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in err.absolute_path)
        path = path.replace(".[", "[")
        path, problem = _describe(err, path)
        entry = (path, problem + _at(path, lines))
        if entry not in out:
            out.append(entry)
    return out


def _describe(err: jsonschema.ValidationError, path: str) -> tuple[str, str]:
    """Rewrite a jsonschema error so an accountant can act on it."""
    join = (lambda key: f"{path}.{key}" if path else key)  # noqa: E731 - tiny local helper
    if err.validator == "additionalProperties":
        allowed = sorted((err.schema.get("properties") or {}).keys())
        extra = sorted(set(err.instance) - set(allowed)) if isinstance(err.instance, dict) else []
        hint = f" (allowed: {', '.join(allowed)})" if allowed else ""
        return join(extra[0] if extra else "?"), f"unknown key{hint}"
    if err.validator == "required":
        missing = str(err.message).split("'")[1] if "'" in str(err.message) else str(err.message)
        return join(missing), "is required but missing"
    if err.validator == "type" and err.schema.get("type") == "string" and isinstance(err.instance, int | float):
        return path, f"{err.instance!r} is a number; NetSuite ids and codes are strings: quote it (\"{err.instance}\")"
    if err.validator in ("minLength", "pattern") and err.schema.get("minLength") == 1:
        return path, f"{err.instance!r} must be a non-empty id or code without spaces"
    if err.validator == "pattern" and "\\." in str(err.schema.get("pattern")):
        return path, f"{err.instance!r} is not a Lago path (dotted keys, e.g. metadata.po_number or item.code)"
    if err.validator == "propertyNames" or (err.validator == "pattern" and "A-Z" in str(err.schema.get("pattern"))):
        return path, f"key {err.instance!r} is not valid here: {err.message}"
    if err.validator == "not" and isinstance(err.instance, str):
        return join(err.instance), (f"field {err.instance!r} is set by lago-netsuite-sync itself (ids, amounts, "
                                    "taxes, dates, customer, currency, subsidiary, links) and cannot be mapped")
    if err.validator == "oneOf" and "from" in str(err.schema):
        return _describe_field_value(err, path)
    if err.validator == "const":
        return path, f"must be {err.schema['const']!r}, got {err.instance!r}"
    return path, err.message


def _describe_field_value(err: jsonschema.ValidationError, path: str) -> tuple[str, str]:
    """A ``fields`` value that is neither a constant nor ``{from: ...}`` / ``{value: ...}``."""
    value = err.instance
    if isinstance(value, int | float) and not isinstance(value, bool):
        return path, f"{value!r} is a number; NetSuite ids are strings: quote it (\"{value}\")"
    if isinstance(value, dict):
        branch = 2 if "from" in value else 1 if "value" in value else None
        if branch is None:
            return path, "needs 'from' (a Lago path) or 'value' (a constant)"
        inner = [e for e in err.context or [] if e.relative_schema_path and e.relative_schema_path[0] == branch]
        if inner:
            best = jsonschema.exceptions.best_match(inner)
            sub = ".".join(str(p) for p in best.relative_path)
            return _describe(best, f"{path}.{sub}" if sub else path)
    return path, f"{value!r} must be a NetSuite id (quoted text) or {{from: <lago path>, lookup: ..., default: ...}}"


def _semantic_errors(data: dict[str, Any], lines: dict[str, int]) -> list[tuple[str, str]]:
    """Rules a schema cannot express: known currencies, complete tax refs, URL placeholders."""
    out: list[tuple[str, str]] = []
    options = data["options"]
    mode = options["tax_mode"]
    needed = SUITETAX_FIELDS if mode == "suitetax" else LEGACY_FIELDS
    entities = (data.get("billing_entities") or {}).items()
    scopes = [("", data)] + [(f"billing_entities.{code}.", be) for code, be in entities]
    for prefix, scope in scopes:
        for iso in scope.get("currencies") or {}:
            if iso not in KNOWN_CURRENCIES:
                p = f"{prefix}currencies.{iso}"
                out.append((p, f"{iso!r} is not an ISO 4217 currency Lago knows" + _at(p, lines)))
        tax = scope.get("tax") or {}
        refs = [(f"{prefix}tax.taxes.{code}", ref) for code, ref in (tax.get("taxes") or {}).items()]
        if tax.get("default") is not None:
            refs.append((f"{prefix}tax.default", tax["default"]))
        for p, ref in refs:
            missing = [f for f in needed if not ref.get(f)]
            if missing:
                out.append((p, f"tax_mode is {mode}, which needs {', '.join(needed)}; missing {', '.join(missing)}"
                            + _at(p, lines)))
    for code in data.get("billing_entities") or {}:
        if code not in data["subsidiaries"]:
            p = f"billing_entities.{code}"
            out.append((p, f"billing entity {code!r} has overrides but no subsidiary in subsidiaries" + _at(p, lines)))
    url = options.get("lago_web_url")
    if url:
        try:
            fields = {name for _, name, _, _ in string.Formatter().parse(url) if name is not None}
        except ValueError as exc:
            fields = set()
            out.append(("options.lago_web_url", f"not a valid template: {exc}" + _at("options.lago_web_url", lines)))
        unknown = sorted(fields - URL_PLACEHOLDERS)
        if unknown:
            out.append(("options.lago_web_url", f"unknown placeholder(s) {', '.join(unknown)} (allowed: "
                        f"{', '.join(sorted(URL_PLACEHOLDERS))})" + _at("options.lago_web_url", lines)))
    return out


def _items(block: dict[str, Any] | None) -> dict[str, ItemRef]:
    return {code: ItemRef(ref["item"], ref.get("account")) for code, ref in (block or {}).items()}


def _scope(items: dict[str, Any] | None, tax: dict[str, Any] | None, currencies: dict[str, str] | None,
           fields: dict[str, Any] | None = None, prefix: str = "", refund_account: str | None = None,
           ) -> ScopeMapping:
    items = items or {}
    tax = tax or {}
    fallback = items.get("fallback")
    default = tax.get("default")
    return ScopeMapping(
        billable_metrics=_items(items.get("billable_metrics")),
        add_ons=_items(items.get("add_ons")),
        defaults=_items(items.get("defaults")),
        fallback=ItemRef(fallback["item"], fallback.get("account")) if fallback else None,
        taxes={code: TaxRef(**ref) for code, ref in (tax.get("taxes") or {}).items()},
        tax_default=TaxRef(**default) if default else None,
        currencies=dict(currencies or {}),
        fields=parse_fields(fields, prefix),
        refund_account=refund_account,
    )


def _build(data: dict[str, Any], source: str) -> Mappings:
    """Turn validated data into frozen dataclasses."""
    opts = data["options"]
    grouping = opts.get("usage_grouping")
    group_cfg = None
    if grouping:
        rule = grouping.get("rule") or {}
        item = grouping["item"]
        group_cfg = GroupingConfig(
            item=ItemRef(item["item"], item.get("account")),
            invoice_types=tuple(rule["invoice_types"]) if "invoice_types" in rule else None,
            billing_entities=tuple(rule["billing_entities"]) if "billing_entities" in rule else None,
            customers=tuple(rule["customers"]) if "customers" in rule else None,
            min_lines=int(rule.get("min_lines", 2)),
        )
    return Mappings(
        source=source,
        options=MappingOptions(
            tax_mode=opts["tax_mode"],
            invoice_record_type=opts["invoice_record_type"],
            skip_zero_total=bool(opts.get("skip_zero_total", False)),
            lago_web_url=opts.get("lago_web_url"),
            usage_grouping=group_cfg,
            credit_notes=str(opts.get("credit_notes") or "apply"),
        ),
        subsidiaries=dict(data["subsidiaries"]),
        organization=_scope(data.get("items"), data.get("tax"), data.get("currencies"), data.get("fields"),
                            refund_account=opts.get("refund_account")),
        billing_entities={
            code: _scope(be.get("items"), be.get("tax"), be.get("currencies"), be.get("fields"),
                         f"billing_entities.{code}.", refund_account=be.get("refund_account"))
            for code, be in (data.get("billing_entities") or {}).items()
        },
    )

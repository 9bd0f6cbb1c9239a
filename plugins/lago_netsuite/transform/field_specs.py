"""The ``fields`` section of the mapping file: extra NetSuite header and line fields per record type.

Each field is a constant (an internal id) or a value read from the Lago document with a small,
safe path language (dotted keys; ``metadata.<key>`` reads Lago's ``[{key, value}]`` lists; on
lines the path is read on the fee, ``document.<path>`` on the document), optionally mapped
through a lookup table with a default. No expression is ever evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FIELD_TYPES = ("text", "select", "date")
# A salesorder made from a Lago invoice uses the invoice's section unless it has its own.
SECTION_FALLBACK = {"salesorder": "invoice"}
LINE_SUBLIST = "item"
DOCUMENT_PREFIX = "document."


@dataclass(frozen=True)
class FieldSpec:
    """One mapped NetSuite field: a constant, or ``source`` read from Lago (then lookup/default)."""

    field_id: str
    constant: str | None = None
    source: str | None = None
    lookup: tuple[tuple[str, str], ...] | None = None
    default: str | None = None
    optional: bool = False
    type: str = "text"
    key_path: str = ""  # where it is defined in the mapping file, for messages

    @property
    def lookup_map(self) -> dict[str, str] | None:
        """The lookup table as a dict (None when the field has none)."""
        return dict(self.lookup) if self.lookup is not None else None


@dataclass(frozen=True)
class RecordFields:
    """The header and item-line fields of one record type in one scope."""

    header: dict[str, FieldSpec] = field(default_factory=dict)
    lines: dict[str, FieldSpec] = field(default_factory=dict)


def parse_field(field_id: str, raw: Any, key_path: str) -> FieldSpec:
    """A FieldSpec from its schema-checked YAML value."""
    if isinstance(raw, str):
        return FieldSpec(field_id, constant=raw, key_path=key_path)
    if "value" in raw:
        return FieldSpec(field_id, constant=raw["value"], type=raw.get("type", "text"), key_path=key_path)
    lookup = raw.get("lookup")
    return FieldSpec(
        field_id, source=raw["from"],
        lookup=tuple((str(k), v) for k, v in lookup.items()) if lookup is not None else None,
        default=raw.get("default"), optional=bool(raw.get("optional", False)), type=raw.get("type", "text"),
        key_path=key_path,
    )


def parse_fields(block: dict[str, Any] | None, prefix: str) -> dict[str, RecordFields]:
    """``{record type: RecordFields}`` from a schema-checked ``fields`` block."""
    out = {}
    for record_type, sections in (block or {}).items():
        parts = {}
        for part in ("header", "lines"):
            parts[part] = {fid: parse_field(fid, raw, f"{prefix}fields.{record_type}.{part}.{fid}")
                           for fid, raw in (sections.get(part) or {}).items()}
        out[record_type] = RecordFields(header=parts["header"], lines=parts["lines"])
    return out


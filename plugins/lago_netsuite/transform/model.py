"""The transform's settings and result types, and the column layout of its issue frames."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from lago_netsuite.transform.mappings import GroupingConfig, Mappings

TAX_MODES = ("suitetax", "legacy")
INVOICE_RECORD_TYPES = ("invoice", "salesorder")
CREDIT_NOTE_MODES = ("apply", "lago_lines")

RECORD_COLUMNS = ["external_id", "kind", "record_type", "action", "lago_id", "number", "currency", "exponent",
                  "total_minor", "body", "depends_on"]
ISSUE_COLUMNS = ["external_id", "kind", "lago_id", "number"]
QUARANTINE_COLUMNS = [*ISSUE_COLUMNS, "reasons"]
WARNING_COLUMNS = [*ISSUE_COLUMNS, "message"]
SKIP_COLUMNS = [*ISSUE_COLUMNS, "reason"]


@dataclass(frozen=True)
class TransformSettings:
    """How documents become records; defaults come from the mapping file's ``options``.

    Attributes:
        tax_mode: ``suitetax`` (a taxdetails row per line) or ``legacy`` (tax item + override).
        invoice_record_type: ``invoice`` or ``salesorder`` for Lago invoices.
        skip_zero_total: do not send invoices whose total is zero (off by default).
        lago_web_url: template of ``custbody_lago_invoice_link`` (None: the invoice's ``web_url``).
        usage_grouping: group usage-charge lines on one item (None: one line per fee).
        is_dynamic: the contract's ``isDynamic`` flag.
        ignore_mandatory_fields: the contract's ``options.ignoreMandatoryFields``.
        credit_notes: ``apply`` (credit consumed by a later invoice is a credit memo application)
            or ``lago_lines`` (a negative credit-note line on that invoice, as Lago's bundle does).
    """

    tax_mode: str = "suitetax"
    invoice_record_type: str = "invoice"
    skip_zero_total: bool = False
    lago_web_url: str | None = None
    usage_grouping: GroupingConfig | None = None
    is_dynamic: bool = False
    ignore_mandatory_fields: bool = False
    credit_notes: str = "apply"

    def __post_init__(self) -> None:
        if self.tax_mode not in TAX_MODES:
            raise ValueError(f"tax_mode must be one of {TAX_MODES}, got {self.tax_mode!r}")
        if self.invoice_record_type not in INVOICE_RECORD_TYPES:
            raise ValueError(f"invoice_record_type must be one of {INVOICE_RECORD_TYPES}, got "
                             f"{self.invoice_record_type!r}")
        if self.credit_notes not in CREDIT_NOTE_MODES:
            raise ValueError(f"credit_notes must be one of {CREDIT_NOTE_MODES}, got {self.credit_notes!r}")

    @classmethod
    def from_mappings(cls, mappings: Mappings, **overrides: Any) -> TransformSettings:
        """Settings from the mapping file's options, with keyword overrides."""
        opts = mappings.options
        base = cls(tax_mode=opts.tax_mode, invoice_record_type=opts.invoice_record_type,
                   skip_zero_total=opts.skip_zero_total, lago_web_url=opts.lago_web_url,
                   usage_grouping=opts.usage_grouping, credit_notes=opts.credit_notes)
        return replace(base, **overrides)


def empty_frame(columns: list[str]) -> pd.DataFrame:
    """An empty frame with object columns (so concatenation never changes dtypes by surprise)."""
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


@dataclass
class TransformResult:
    """What the transform produced from one batch of Lago documents.

    Attributes:
        records: one row per contract record (``RECORD_COLUMNS``); ``body`` is the JSON-ready dict.
        headers: per kind, one row per document with the resolved header fields.
        lines: per kind, one row per item/apply line with int minor amounts.
        taxes: per kind, one row per taxdetails row (or the legacy tax total) with int minor amounts.
        quarantined: documents held back, with ``reasons`` (list of str naming the Lago object).
        warnings: sent documents with something to know (fallback item used, ...).
        skipped: documents deliberately not sent (drafts, zero totals, ...), with the reason.
    """

    records: pd.DataFrame
    headers: dict[str, pd.DataFrame] = field(default_factory=dict)
    lines: dict[str, pd.DataFrame] = field(default_factory=dict)
    taxes: dict[str, pd.DataFrame] = field(default_factory=dict)
    quarantined: pd.DataFrame = field(default_factory=lambda: empty_frame(QUARANTINE_COLUMNS))
    warnings: pd.DataFrame = field(default_factory=lambda: empty_frame(WARNING_COLUMNS))
    skipped: pd.DataFrame = field(default_factory=lambda: empty_frame(SKIP_COLUMNS))
    settings: TransformSettings | None = None

    def body(self, external_id: str) -> dict[str, Any]:
        """The contract body of one record (KeyError when there is none)."""
        hit = self.records.loc[self.records["external_id"] == external_id, "body"]
        if hit.empty:
            raise KeyError(external_id)
        return hit.iloc[0]

    def counts(self) -> dict[str, int]:
        """Records per kind plus quarantined / skipped / warnings, for logs and reports."""
        out = {f"records_{k}": int(v) for k, v in self.records["kind"].value_counts().items()}
        out.update(quarantined=len(self.quarantined), skipped=len(self.skipped), warnings=len(self.warnings))
        return out

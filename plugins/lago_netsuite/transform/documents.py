"""Building blocks shared by invoices and credit memos: fee lines, discount lines, tax rows.

Every function works on whole frames (all documents of a batch at once) and returns the rows it
built plus ``(key, reason)`` rows for documents that must be held back, and warnings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lago_netsuite.transform import resolve, taxes
from lago_netsuite.transform.frames import of_type
from lago_netsuite.transform.mappings import Mappings
from lago_netsuite.transform.model import QUARANTINE_COLUMNS, SKIP_COLUMNS, WARNING_COLUMNS, empty_frame
from lago_netsuite.transform.numbers import is_decimal_text, is_huge_quantity, minor_to_text, ns_date, trim_to_15

LINE_COLUMNS = ["external_id", "sublist", "line_no", "line_kind", "lago_line_id", "item", "account", "item_source",
                "quantity", "rate", "amount_minor", "exponent", "description", "taxdetailsreference", "period_from",
                "period_to"]
TAX_COLUMNS = ["external_id", "taxdetailsreference", "line_no", "lago_tax_code", "nexus", "taxtype", "taxcode",
               "tax_item", "basis_minor", "rate", "amount_minor", "exponent", "residual_minor", "tax_source"]
DISCOUNT_LINE_NO = 1_000_000


class Issues:
    """Collects quarantine reasons, warnings and skips of one record kind, keyed by external id."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.reasons: list[pd.DataFrame] = []
        self.warnings: list[pd.DataFrame] = []
        self.skips: list[pd.DataFrame] = []

    def reason(self, frame: pd.DataFrame) -> None:
        """Add ``key, reason`` rows (documents to hold back)."""
        if len(frame):
            self.reasons.append(frame[["key", "reason"]])

    def where(self, mask: pd.Series, key: pd.Series, text: pd.Series | str) -> None:
        """Add a reason for every row where ``mask`` holds."""
        if mask.any():
            t = text[mask] if isinstance(text, pd.Series) else text
            self.reasons.append(pd.DataFrame({"key": key[mask], "reason": t}))

    def check(self, mask: pd.Series, frame: pd.DataFrame, text: Callable[[pd.DataFrame], pd.Series]) -> None:
        """Add a reason for every row of ``frame`` where ``mask`` holds; ``text`` gets those rows only
        (messages are built for the few bad documents, not for the whole batch)."""
        if mask.any():
            rows = frame[mask.to_numpy()]
            self.reasons.append(pd.DataFrame({"key": rows["key"], "reason": text(rows)}))

    def warn(self, frame: pd.DataFrame) -> None:
        """Add ``key, message`` rows."""
        if len(frame):
            self.warnings.append(frame[["key", "message"]])

    def skip(self, mask: pd.Series, key: pd.Series, text: pd.Series | str) -> None:
        """Record documents deliberately not sent."""
        if mask.any():
            t = text[mask] if isinstance(text, pd.Series) else text
            self.skips.append(pd.DataFrame({"key": key[mask], "reason": t}))

    def bad_keys(self) -> set[str]:
        """Keys with at least one reason so far."""
        return set().union(*(set(f["key"]) for f in self.reasons)) if self.reasons else set()

    def frames(self, docs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """``(quarantined, warnings, skipped)`` with ``external_id, kind, lago_id, number``.

        ``docs`` maps ``key`` to ``external_id, lago_id, number``.
        """
        ident = docs.drop_duplicates("key").set_index("key")[["external_id", "lago_id", "number"]]

        def finish(parts: list[pd.DataFrame], text: str, cols: list[str]) -> pd.DataFrame:
            if not parts:
                return empty_frame(cols)
            f = pd.concat(parts, ignore_index=True).drop_duplicates()
            f = f.join(ident, on="key").assign(kind=self.kind).rename(columns={"reason": text, "message": text})
            return f[cols].astype(object).reset_index(drop=True)

        q = finish(self.reasons, "reason", [*QUARANTINE_COLUMNS[:-1], "reason"])
        w = finish(self.warnings, "message", WARNING_COLUMNS)
        sk = finish(self.skips, "reason", SKIP_COLUMNS)
        return q, w, sk


@dataclass
class KindOutput:
    """What one record kind produced; ``issues`` rows are (key, reason) before quarantine."""

    headers: pd.DataFrame
    lines: pd.DataFrame = field(default_factory=lambda: empty_frame(LINE_COLUMNS))
    taxes: pd.DataFrame = field(default_factory=lambda: empty_frame(TAX_COLUMNS))
    quarantined: pd.DataFrame = field(default_factory=lambda: empty_frame([*QUARANTINE_COLUMNS[:-1], "reason"]))
    warnings: pd.DataFrame = field(default_factory=lambda: empty_frame(WARNING_COLUMNS))
    skipped: pd.DataFrame = field(default_factory=lambda: empty_frame(SKIP_COLUMNS))
    voids: pd.DataFrame = field(default_factory=lambda: empty_frame(["external_id", "kind", "record_type",
                                                                     "lago_id", "number"]))
    records: pd.DataFrame | None = None  # the contract records, built while the documents are isolated
    extra_records: pd.DataFrame | None = None  # records of other kinds it yields (credit applications, refunds)


def label(kind_label: str, number: pd.Series, lago_id: pd.Series) -> pd.Series:
    """How documents are named in messages: ``invoice INV-2024-001`` (or the Lago id)."""
    name = number.where(of_type(number, str), lago_id.astype(str))
    return (kind_label + " " + name.astype(str)).astype(object)


def fee_display(df: pd.DataFrame) -> pd.Series:
    """A fee's description: its invoice display name (or name), with its charge filter's name."""
    disp, name, filt = df["item_invoice_display_name"], df["item_name"], df["item_filter_invoice_display_name"]
    out = disp.where(of_type(disp, str), name)
    out = out.where(of_type(out, str), df["item_code"].astype(str))
    has = of_type(filt, str)
    if has.any():
        out = out.where(~has, out.astype(str) + " — " + filt.astype(str))
    return out.astype(object)


def service_period(df: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """ISO service period of fees: charges use the charges period, other fees their own."""
    charge = df["item_type"] == "charge"
    start = df["prop_charges_from_datetime"].where(charge, df["prop_from_datetime"])
    end = df["prop_charges_to_datetime"].where(charge, df["prop_to_datetime"])
    start = start.where(start.notna(), df["from_date"])
    end = end.where(end.notna(), df["to_date"])
    return start.astype(object), end.astype(object)


def _what(lines: pd.DataFrame, prefix: str) -> pd.Series:
    """How a line is named in messages (computed for the few rows that need a message)."""
    fee = lines["line_kind"] == "fee"
    return pd.Series(np.where(fee, prefix + lines["line_ref"].astype(str),
                              lines["line_kind"].astype(str).str.replace("_", " ") + " line"), index=lines.index)


def attach_items(lines: pd.DataFrame, mappings: Mappings, names: pd.Series,
                 prefix: str = "fee ") -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Resolve ``item, account`` of lines with ``map_kind, map_code``; quarantine or warn as needed.

    ``names`` maps a document key to how it is named in messages. Returns ``(lines, reasons,
    warnings)``; warnings have ``key, message``.
    """
    out = resolve.resolve_items(lines, mappings)
    missing = out["item"].isna()
    m = out[missing]
    reasons = pd.DataFrame({"key": m["key"], "reason": resolve.missing_item_reason(
        m["key"].map(names), _what(m, prefix), m["map_kind"], m["map_code"], m["billing_entity_code"])})
    fb = out[out["item_source"].isin(["billing_entity_fallback", "organization_fallback"])]
    warnings = pd.DataFrame({"key": fb["key"], "message": resolve.fallback_warning(
        fb["key"].map(names), _what(fb, prefix), fb["map_kind"], fb["map_code"], fb["item"], fb["item_source"])})
    return out, reasons, warnings


FEE_LINE_COLUMNS = ["key", "line_no", "line_kind", "sublist", "line_ref", "lago_line_id", "item_type", "map_kind",
                    "map_code", "quantity", "rate", "amount_minor", "basis_minor", "fee_tax_minor", "rate_e6",
                    "has_fee_taxes", "description", "period_from_iso", "period_to_iso", "period_from", "period_to",
                    "taxdetailsreference", "billing_entity_code", "exponent"]


def fee_lines(f: pd.DataFrame, names: pd.Series, *, per_unit: bool,
              prefix: str = "fee ") -> tuple[pd.DataFrame, pd.DataFrame]:
    """One line per fee (already selected), with mapping keys, texts and service period.

    ``f`` needs ``key, line_ref, seq, billing_entity_code, exponent, amount_minor, basis_minor,
    fee_tax_minor, rate_e6, has_fee_taxes``, the item fields, units, precise_unit_amount and the
    period fields. ``per_unit``: quantity = units and rate = precise_unit_amount (invoices); else
    quantity 1 and rate = amount (credit memos). Items are attached later, after usage grouping.
    """
    reasons = []
    kind, code = resolve.map_keys_for_fees(f["item_type"], f["item_code"])
    unknown = kind.isna()
    if unknown.any():
        u = f[unknown]
        reasons.append(pd.DataFrame({"key": u["key"], "reason": u["key"].map(names) + ": " + prefix
                                     + u["line_ref"].astype(str) + " has unknown fee type "
                                     + u["item_type"].map(repr)}))
    amount_text = minor_to_text(f["amount_minor"], f["exponent"])
    if per_unit:
        qty = trim_to_15(f["units"])
        rate = trim_to_15(f["precise_unit_amount"])
        huge = is_huge_quantity(qty)
        qty = qty.where(~huge, "1")
        rate = rate.where(~huge, amount_text)
        for col, text in (("units", qty), ("precise_unit_amount", rate)):
            bad = text.isna()
            if bad.any():
                b = f[bad]
                number = is_decimal_text(b[col]).to_numpy()
                shown = b[col].map(repr).to_numpy(dtype=object)
                why = np.where(b[col].isna(), "is missing", np.where(
                    number, "cannot be written in 15 characters: " + shown, "is not a decimal number: " + shown))
                reasons.append(pd.DataFrame({"key": b["key"], "reason": b["key"].map(names) + ": " + prefix
                                             + b["line_ref"].astype(str) + " " + col + " " + why}))
    else:
        qty = pd.Series("1", index=f.index, dtype=object)
        rate = amount_text
    start, end = service_period(f)
    lines = pd.DataFrame({
        "key": f["key"], "line_no": f["seq"].astype("int64"), "line_kind": "fee", "sublist": "item",
        "line_ref": f["line_ref"], "lago_line_id": f["line_ref"], "item_type": f["item_type"],
        "map_kind": kind.fillna("default"), "map_code": code.fillna("?"), "quantity": qty.astype(object),
        "rate": rate.astype(object), "amount_minor": f["amount_minor"], "basis_minor": f["basis_minor"],
        "fee_tax_minor": f["fee_tax_minor"], "rate_e6": f["rate_e6"], "has_fee_taxes": f["has_fee_taxes"],
        "description": fee_display(f), "period_from_iso": start, "period_to_iso": end,
        "period_from": ns_date(start), "period_to": ns_date(end), "taxdetailsreference": f["line_ref"],
        "billing_entity_code": f["billing_entity_code"], "exponent": f["exponent"],
    })
    return lines, (pd.concat(reasons, ignore_index=True) if reasons else taxes.no_reasons())


def discount_lines(h: pd.DataFrame, specs: list[tuple[str, str, str, pd.Series, str]], mappings: Mappings,
                   names: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Negative lines, quantity 1, in the order of ``specs``; only amounts above zero make a line.

    Each spec is ``(line_kind, amount column, default item, description, taxdetailsreference)``.
    """
    parts = []
    for order, (kind, col, default, description, ref) in enumerate(specs):
        amount = h[col].astype("int64")
        take = amount > 0
        if not take.any():
            continue
        part = h.loc[take, ["key", "billing_entity_code", "exponent"]].copy()
        part["amount_minor"] = -amount[take]
        part["line_kind"] = kind
        part["line_no"] = DISCOUNT_LINE_NO + order
        part["map_kind"] = "default"
        part["map_code"] = default
        part["description"] = description[take].astype(object)
        part["taxdetailsreference"] = ref
        part["line_ref"] = ref
        parts.append(part)
    if not parts:
        cols = ["key", "billing_entity_code", "exponent", "amount_minor", "line_kind", "line_no", "map_kind",
                "map_code", "description", "taxdetailsreference", "line_ref", "item", "account", "item_source"]
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
        return empty, taxes.no_reasons(), pd.DataFrame({"key": [], "message": []}, dtype=object)
    lines = pd.concat(parts, ignore_index=True)
    lines["quantity"] = "1"
    lines["rate"] = minor_to_text(lines["amount_minor"], lines["exponent"])
    lines["lago_line_id"] = None
    lines["sublist"] = "item"
    lines["period_from"] = None
    lines["period_to"] = None
    return attach_items(lines, mappings, names)

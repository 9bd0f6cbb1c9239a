"""Per-document check frames: what the gate's expectations look at, one row per record.

Line- and tax-level facts (unmapped items, amount precision, 15-character numbers, orphan tax
rows) are counted per document with group-bys, so the gate validates ~100,000 rows for 100,000
invoices instead of a million lines, and a failing document is named by its external id.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lago_netsuite import netsuite_fields as nsf
from lago_netsuite.money import exponents
from lago_netsuite.transform.model import TransformResult

TRANSACTION_KINDS = ("invoice", "salesorder", "creditnote")


class _Docs:
    """Positions of documents (external ids) so per-line facts aggregate with integer bincounts.

    A duplicated external id (which the uniqueness expectation reports) shares its aggregates.
    """

    def __init__(self, keys: pd.Series) -> None:
        self.index = pd.Index(pd.unique(keys.to_numpy()))
        self.rows = self.index.get_indexer(keys.to_numpy())
        self.n = len(self.index)

    def codes(self, by: pd.Series) -> np.ndarray:
        codes = self.index.get_indexer(by.to_numpy())
        return np.where(codes < 0, self.n, codes)  # rows of unknown documents land in a spare bin

    def count(self, codes: np.ndarray, mask: np.ndarray | pd.Series | None) -> np.ndarray:
        counts = np.bincount(codes, weights=None if mask is None else np.asarray(mask, dtype=np.int64),
                             minlength=self.n + 1)[: self.n].astype(np.int64)
        return counts[self.rows]

    def sum(self, codes: np.ndarray, values: pd.Series) -> np.ndarray:
        out = np.zeros(self.n + 1, dtype=np.int64)
        np.add.at(out, codes, values.to_numpy(dtype=np.int64))  # exact integer sums
        return out[: self.n][self.rows]


def _json_matches_minor(json_values: pd.Series, minor: pd.Series, exponent: np.ndarray) -> np.ndarray:
    """True where a JSON number is exactly ``minor / 10**exponent`` (no more decimals than the currency)."""
    values = json_values.tolist()
    try:
        nums = np.array(values, dtype=float)  # JSON numbers are Python ints / floats
    except (TypeError, ValueError):
        nums = np.array([v if type(v) in (int, float) else np.nan for v in values], dtype=float)
    scaled = nums * np.power(10.0, exponent.astype(float))
    m = minor.to_numpy(dtype=float)
    return np.isfinite(scaled) & (np.abs(scaled - m) <= 1e-6 * np.maximum(1.0, np.abs(m))) & \
        (np.round(scaled) == m)


def _fits_15(text: pd.Series) -> np.ndarray:
    """True where a rate/quantity string is present and has at most 15 characters."""
    return np.fromiter((type(t) is str and len(t) <= 15 for t in text.tolist()), dtype=bool, count=len(text))


def _entity(h: pd.DataFrame) -> pd.Series:
    """The customer reference as text: the NetSuite id, or ``$ref:<externalId>``."""
    ref = "$ref:" + h["entity_ref"].astype(str)
    ent = h["entity_id"].where(h["entity_id"].notna(), ref.where(h["entity_ref"].notna(), None))
    return ent.astype(object)


def transaction_checks(result: TransformResult, kind: str) -> pd.DataFrame:
    """Check frame of invoices / sales orders / credit memos."""
    h = result.headers.get(kind, pd.DataFrame())
    if h is None or h.empty:
        return pd.DataFrame()
    lines = result.lines.get(kind, pd.DataFrame())
    tax = result.taxes.get(kind, pd.DataFrame())
    suitetax = result.settings is None or result.settings.tax_mode == "suitetax"
    k = h["external_id"]
    docs = _Docs(k)
    exp = np.append(pd.Series(h["exponent"].to_numpy(dtype=np.int64), index=docs.rows).groupby(level=0).first()
                    .reindex(range(docs.n)).to_numpy(dtype=np.int64), 0)
    items = lines[lines["sublist"] == "item"] if len(lines) else lines
    out = pd.DataFrame({
        "external_id": k, "lago_id": h["lago_id"], "number": h["number"], "currency": h["currency"],
        "exponent": h["exponent"].astype("int64"), "tranid": h["number"], "entity": _entity(h),
        "currency_id": h["currency_id"], "subsidiary": h["subsidiary"], "trandate": h["trandate"],
        # An invoice whose credit-note credits are memo applications totals Lago's total plus them.
        "total_minor": h["netsuite_total_minor" if "netsuite_total_minor" in h else "total_amount_cents"]
        .astype("int64"),
    })
    expected = h["currency"].map(exponents(list(h["currency"].dropna().unique())))
    out["exponent_ok"] = (expected == h["exponent"]).to_numpy()
    if len(items):
        c = docs.codes(items["external_id"])
        out["n_lines"] = docs.count(c, None)
        out["lines_unmapped"] = docs.count(c, items["item"].isna())
        precise = _json_matches_minor(items["amount_json"], items["amount_minor"], exp[c])
        out["precision_violations"] = docs.count(c, ~precise)
        fits = _fits_15(items["rate"]) & _fits_15(items["quantity"])
        out["long_numbers"] = docs.count(c, ~fits)
        out["lines_minor"] = docs.sum(c, items["amount_minor"])
    else:
        for col in ("n_lines", "lines_unmapped", "precision_violations", "long_numbers", "lines_minor"):
            out[col] = 0
    if suitetax and len(tax):
        c = docs.codes(tax["external_id"])
        out["tax_minor"] = docs.sum(c, tax["amount_minor"])
        out["tax_unmapped"] = docs.count(c, tax["taxtype"].isna() | tax["taxcode"].isna())
        line_refs = pd.Index(items["external_id"].astype(str) + "\x1f" + items["taxdetailsreference"].astype(str))
        tax_refs = tax["external_id"].astype(str) + "\x1f" + tax["taxdetailsreference"].astype(str)
        out["orphan_tax_rows"] = docs.count(c, ~tax_refs.isin(line_refs))
        tax_precise = _json_matches_minor(tax["amount_json"], tax["amount_minor"], exp[c]) & \
            _json_matches_minor(tax["basis_json"], tax["basis_minor"], exp[c])
        out["precision_violations"] += docs.count(c, ~tax_precise)
        out["tax_mode_field"] = h["nexus"].to_numpy()
    else:
        out["tax_minor"] = h["tax_total_minor"].astype("int64").to_numpy() if not suitetax else 0
        out["tax_unmapped"] = 0
        out["orphan_tax_rows"] = 0
        out["tax_mode_field"] = (h["nexus"] if suitetax else h["tax_item"]).to_numpy()
    out["invariant_diff"] = out["lines_minor"] + out["tax_minor"] - out["total_minor"]
    return out.reset_index(drop=True)


def payment_checks(result: TransformResult) -> pd.DataFrame:
    """Check frame of customer payments."""
    h = result.headers.get("payment", pd.DataFrame())
    if h is None or h.empty:
        return pd.DataFrame()
    lines = result.lines.get("payment", pd.DataFrame())
    k = h["external_id"]
    out = pd.DataFrame({
        "external_id": k, "lago_id": h["lago_id"], "number": h["number"], "currency": h["currency"],
        "entity": _entity(h), "currency_id": h["currency_id"], "trandate": h["trandate"],
        "payment_minor": h["payment_minor"].astype("int64"), "total_minor": h["total_minor"].astype("int64"),
    })
    out["invariant_diff"] = out["payment_minor"] - out["total_minor"]
    out["precision_ok"] = _json_matches_minor(h["payment_json"], h["payment_minor"], h["exponent"].to_numpy())
    if len(lines):
        docs = _Docs(k)
        c = docs.codes(lines["external_id"])
        has_doc = lines["doc"].map(lambda d: isinstance(d, dict) and isinstance(d.get("$ref"), str) or
                                   isinstance(d, str))
        out["apply_lines"] = docs.count(c, has_doc.to_numpy())
        out["apply_minor"] = docs.sum(c, lines["amount_minor"])
    else:
        out["apply_lines"] = 0
        out["apply_minor"] = 0
    out["apply_diff"] = out["apply_minor"] - out["payment_minor"]
    return out.reset_index(drop=True)


def customer_checks(result: TransformResult) -> pd.DataFrame:
    """Check frame of customers."""
    h = result.headers.get("customer", pd.DataFrame())
    if h is None or h.empty:
        return pd.DataFrame()
    name = h["companyname"].where(h["isperson"] == "F", h["lastname"])
    fields = [f for f in nsf.MAX_LENGTH if f in h.columns]
    too_long = [sum(1 for f, v in zip(fields, values, strict=True) if isinstance(v, str) and nsf.length_problem(f, v))
                for values in zip(*(h[f].tolist() for f in fields), strict=True)] if fields else 0
    return pd.DataFrame({
        "external_id": h["external_id"], "lago_id": h["lago_id"], "number": h["entityid"],
        "entityid": h["entityid"], "name": name.astype(object), "isperson": h["isperson"],
        "subsidiary": h["subsidiary"], "custentity_lago_id": h["lago_id"], "email": h["email"],
        "altemail": h.get("altemail"), "phone": h.get("phone"), "too_long_fields": too_long,
        "currency_ok": (h["currency"].isna() | h["currency_id"].notna()).to_numpy(),
    }).reset_index(drop=True)


def void_checks(result: TransformResult) -> pd.DataFrame:
    """Check frame of void actions."""
    r = result.records
    v = r[r["action"] == "void"]
    if v.empty:
        return pd.DataFrame()
    return pd.DataFrame({"external_id": v["external_id"], "lago_id": v["lago_id"], "number": v["number"],
                         "record_type": v["record_type"],
                         "body_action": v["body"].map(lambda b: b.get("action"))}).reset_index(drop=True)

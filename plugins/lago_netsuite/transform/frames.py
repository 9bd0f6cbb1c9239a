"""Lago JSON documents -> normalized frames (the only per-document Python in the transform).

Each list of documents becomes a header frame plus child frames (fees, credits, applied taxes,
credit-note items, ...) keyed by the parent's Lago id. Values are kept as Lago sent them (object
columns); :func:`column_problems` then checks types column by column, vectorised, and names the
document and the field of every problem so a malformed document is quarantined, not raised.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lago_netsuite.money import KNOWN_CURRENCIES
from lago_netsuite.transform.numbers import by_unique, is_decimal_text, of_type

INVOICE_COLS = ["lago_id", "number", "billing_entity_code", "status", "invoice_type", "currency", "issuing_date",
                "payment_due_date", "web_url", "fees_amount_cents", "coupons_amount_cents",
                "progressive_billing_credit_amount_cents", "sub_total_excluding_taxes_amount_cents",
                "taxes_amount_cents", "sub_total_including_taxes_amount_cents", "credit_notes_amount_cents",
                "prepaid_credit_amount_cents", "total_amount_cents"]
FEE_COLS = ["lago_id", "amount_cents", "taxes_amount_cents", "taxes_rate", "units", "precise_unit_amount",
            "sub_total_excluding_taxes_amount_cents", "from_date", "to_date"]
ITEM_COLS = ["type", "code", "name", "invoice_display_name", "filter_invoice_display_name"]
PROPERTY_COLS = ["charges_from_datetime", "charges_to_datetime", "from_datetime", "to_datetime"]
TAX_COLS = ["tax_code", "tax_rate", "amount_cents", "fees_amount_cents", "base_amount_cents"]
CREDIT_NOTE_COLS = ["lago_id", "number", "lago_invoice_id", "invoice_number", "issuing_date", "currency",
                    "billing_entity_code", "total_amount_cents", "taxes_amount_cents",
                    "sub_total_excluding_taxes_amount_cents", "coupons_adjustment_amount_cents",
                    "credit_amount_cents", "refund_amount_cents", "offset_amount_cents", "credit_status",
                    "refund_status"]
PAYMENT_COLS = ["lago_id", "lago_customer_id", "external_customer_id", "invoice_ids", "amount_cents",
                "amount_currency", "payment_status", "reference", "created_at"]
CUSTOMER_COLS = ["lago_id", "external_id", "name", "firstname", "lastname", "customer_type", "legal_name", "email",
                 "phone", "billing_entity_code", "currency"]
_EMPTY: dict[str, Any] = {}


def _obj(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (a malformed child never raises here)."""
    return value if type(value) is dict else _EMPTY


@dataclass
class LagoFrames:
    """Flattened Lago documents; ``problems`` holds structural issues found while flattening."""

    invoices: pd.DataFrame
    fees: pd.DataFrame
    fee_taxes: pd.DataFrame
    credits: pd.DataFrame
    invoice_taxes: pd.DataFrame
    credit_notes: pd.DataFrame
    cn_items: pd.DataFrame
    cn_item_taxes: pd.DataFrame
    cn_taxes: pd.DataFrame
    payments: pd.DataFrame
    customers: pd.DataFrame
    customer_links: pd.DataFrame
    problems: pd.DataFrame


def _frame(dicts: list[dict[str, Any]], columns: list[str], prefix: str = "") -> pd.DataFrame:
    """Dicts -> object frame with exactly ``columns`` (values untouched; absent keys give NaN, which
    every check treats like None)."""
    df = pd.DataFrame(dicts, columns=columns, dtype=object) if dicts else pd.DataFrame(
        {c: pd.Series(dtype=object) for c in columns})
    return df.add_prefix(prefix) if prefix else df


_INT64 = 2**63 - 1


def _is_int64(v: object) -> bool:
    return type(v) is int and -_INT64 <= v <= _INT64


def is_int64(values: pd.Series) -> pd.Series:
    """True where a value is an int (not a bool) that fits int64 — any real amount in minor units."""
    return values.map(_is_int64).astype(bool)


def ints(values: pd.Series) -> pd.Series:
    """Integer values as int64; anything else (reported by the column checks) becomes 0."""
    return values.where(is_int64(values), 0).astype("int64")


def strings(values: pd.Series) -> pd.Series:
    """Strings kept, anything else (reported by the column checks) None, so joins never see junk."""
    return values.where(of_type(values, str), None)


def sum_by(keys: pd.Series, by: pd.Series, values: pd.Series) -> pd.Series:
    """Sum of int ``values`` grouped by ``by``, aligned to ``keys`` (0 where a key has none)."""
    index = pd.Index(keys.to_numpy())
    codes = index.get_indexer(by.to_numpy()) if len(by) else np.zeros(0, dtype=np.int64)
    out = np.zeros(len(index) + 1, dtype=np.int64)
    np.add.at(out, np.where(codes < 0, len(index), codes), values.to_numpy(dtype=np.int64))  # exact ints
    return pd.Series(out[: len(index)], index=keys.index)


def netsuite_link(customer: Any) -> str | None:
    """The NetSuite internal id from a Lago customer's NetSuite integration link, if any."""
    if type(customer) is not dict:
        return None
    links = customer.get("integration_customers")
    for link in links if type(links) is list else ():
        if type(link) is dict and link.get("type") == "netsuite":
            ext = link.get("external_customer_id")
            if isinstance(ext, str | int) and not isinstance(ext, bool) and str(ext).strip():
                return str(ext).strip()
    return None


def _dicts_or_none(value: Any) -> list[dict[str, Any]] | None:
    """``value`` when it is a list of objects, else None (a structural problem)."""
    if type(value) is list and all(type(v) is dict for v in value):
        return value
    return None


class _Children:
    """Accumulates the child rows of one kind (fees, taxes, ...) with their parent id and position."""

    def __init__(self) -> None:
        self.dicts: list[dict[str, Any]] = []
        self.parent: list[str] = []
        self.seq: list[int] = []

    def add(self, parent: str, items: list[dict[str, Any]]) -> None:
        self.dicts.extend(items)
        self.parent.extend([parent] * len(items))
        self.seq.extend(range(len(items)))

    def frame(self, columns: list[str], parent_col: str) -> pd.DataFrame:
        df = _frame(self.dicts, columns)
        df.insert(0, "seq", pd.Series(self.seq, dtype="int64"))
        df.insert(0, parent_col, pd.Series(self.parent, dtype=object))
        return df


def _latest(docs: Sequence[Any]) -> dict[str, int]:
    """Position of the last occurrence of each Lago id in the batch."""
    return {d["lago_id"]: i for i, d in enumerate(docs) if type(d) is dict and type(d.get("lago_id")) is str}


def _identity(kind: str, pos: int, doc: Any, problems: list[tuple[Any, ...]]) -> str | None:
    """The document's Lago id, or None after recording why the document cannot be identified."""
    if type(doc) is not dict:
        problems.append((None, kind, None, None, f"{kind} #{pos} in the batch is not a JSON object"))
        return None
    lago_id = doc.get("lago_id")
    if type(lago_id) is not str or not lago_id.strip():
        # what names it to the accountant: its number (a customer: its external id, the customer's number)
        name_key = "external_id" if kind == "customer" else "number"
        number = doc.get(name_key) if type(doc.get(name_key)) is str and doc[name_key].strip() else None
        problems.append((None, kind, None, number, f"{kind} #{pos} in the batch ({number or 'no number'}) has no "
                                                     f"lago_id"))
        return None
    return lago_id


def flatten(*, invoices: list[Any], credit_notes: list[Any], payments: list[Any],
            customers: list[Any]) -> LagoFrames:
    """Flatten Lago show payloads into frames; documents without a usable identity go to ``problems``."""
    problems: list[tuple[Any, ...]] = []
    heads, fees, fee_taxes, credits, inv_taxes = [], _Children(), _Children(), _Children(), _Children()
    extra: list[tuple[Any, ...]] = []
    latest = _latest(invoices)
    for pos, doc in enumerate(invoices):
        lago_id = _identity("invoice", pos, doc, problems)
        if lago_id is None or latest[lago_id] != pos:  # a document sent twice: its last version counts
            continue
        heads.append(doc)
        cust = doc.get("customer")
        cust = cust if type(cust) is dict else _EMPTY
        fee_list = _dicts_or_none(doc.get("fees"))
        credit_list = _dicts_or_none(doc.get("credits") or [])
        tax_list = _dicts_or_none(doc.get("applied_taxes") or [])
        extra.append((pos, cust.get("lago_id"), cust.get("external_id"), netsuite_link(cust),
                      fee_list is not None, credit_list is not None, tax_list is not None,
                      "credits" in doc))
        if fee_list:
            fees.add(lago_id, fee_list)
            for f in fee_list:
                at = f.get("applied_taxes")
                if at:
                    fee_taxes.add(lago_id, [dict(t, fee_id=f.get("lago_id")) for t in at if type(t) is dict])
        if credit_list:
            credits.add(lago_id, credit_list)
        if tax_list:
            inv_taxes.add(lago_id, tax_list)
    inv = _frame(heads, INVOICE_COLS)
    inv = pd.concat([inv, pd.DataFrame(extra, columns=["pos", "customer_lago_id", "customer_external_id",
                                                       "customer_ns_id", "fees_ok", "credits_ok", "taxes_ok",
                                                       "has_credits"], dtype=object)], axis=1)
    fee_df = fees.frame(FEE_COLS, "invoice_id")
    fee_df["has_fee_taxes"] = pd.Series([bool(f.get("applied_taxes")) for f in fees.dicts], dtype=bool)
    fee_df = pd.concat([fee_df, _frame([_obj(f.get("item"))
                                        for f in fees.dicts], ITEM_COLS, "item_"),
                        _frame([_obj(f.get("properties"))
                                for f in fees.dicts], PROPERTY_COLS, "prop_")], axis=1)
    credit_df = fees_like_credits(credits)
    cn_head, cn_items, cn_item_taxes, cn_taxes = _flatten_credit_notes(credit_notes, problems)
    pay, _ = _flatten_simple("payment", payments, PAYMENT_COLS, problems)
    cust_df, cust_docs = _flatten_simple("customer", customers, CUSTOMER_COLS, problems)
    cust_df["ns_id"] = pd.Series([netsuite_link(c) for c in cust_docs], dtype=object)
    links = pd.concat([
        cust_df[["lago_id", "ns_id"]].rename(columns={"lago_id": "customer_lago_id"}),
        inv[["customer_lago_id", "customer_ns_id"]].rename(columns={"customer_ns_id": "ns_id"}),
        cn_head[["customer_lago_id", "customer_ns_id"]].rename(columns={"customer_ns_id": "ns_id"}),
    ], ignore_index=True)
    links = links[of_type(links["customer_lago_id"], str)]
    links = links.sort_values("ns_id", na_position="first").drop_duplicates("customer_lago_id", keep="last")
    return LagoFrames(
        invoices=inv, fees=fee_df, fee_taxes=fee_taxes.frame([*TAX_COLS, "fee_id"], "invoice_id"),
        credits=credit_df, invoice_taxes=inv_taxes.frame(TAX_COLS, "invoice_id"),
        credit_notes=cn_head, cn_items=cn_items, cn_item_taxes=cn_item_taxes, cn_taxes=cn_taxes,
        payments=pay, customers=cust_df, customer_links=links.reset_index(drop=True),
        problems=pd.DataFrame(problems, columns=["external_id", "kind", "lago_id", "number", "reason"], dtype=object),
    )


def customer_links(*, invoices: Sequence[Any], credit_notes: Sequence[Any],
                   customers: Sequence[Any]) -> pd.DataFrame:
    """``customer_lago_id -> ns_id`` from every customer block seen (a NetSuite link wins)."""
    rows = [(c.get("lago_id"), netsuite_link(c)) for c in customers if type(c) is dict]
    for doc in (*invoices, *credit_notes):
        cust = doc.get("customer") if type(doc) is dict else None
        if type(cust) is dict:
            rows.append((cust.get("lago_id"), netsuite_link(cust)))
    links = pd.DataFrame(rows, columns=["customer_lago_id", "ns_id"], dtype=object)
    links = links[of_type(links["customer_lago_id"], str)]
    links = links.sort_values("ns_id", na_position="first").drop_duplicates("customer_lago_id", keep="last")
    return links.reset_index(drop=True)


def fees_like_credits(credits: _Children) -> pd.DataFrame:
    """Invoice credits (coupons, progressive-billing and credit-note credits) with their item fields."""
    df = credits.frame(["lago_id", "amount_cents", "before_taxes"], "invoice_id")
    items = _frame([_obj(c.get("item")) for c in credits.dicts],
                   ["type", "code", "name", "lago_item_id"], "item_")
    return pd.concat([df, items], axis=1)


def _flatten_simple(kind: str, docs: list[Any], columns: list[str],
                    problems: list[tuple[Any, ...]]) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Documents without children (payments, customers) -> one object frame and the kept documents."""
    good = []
    pos = []
    for i, doc in enumerate(docs):
        if _identity(kind, i, doc, problems) is not None:
            good.append(doc)
            pos.append(i)
    df = _frame(good, columns)
    df["pos"] = pd.Series(pos, dtype="int64")
    return df, good


def _flatten_credit_notes(docs: list[Any], problems: list[tuple[Any, ...]]) -> tuple[pd.DataFrame, ...]:
    """Credit notes -> header, items (with their fee's fields), items' fee taxes, applied taxes."""
    heads, items, item_taxes, taxes, extra = [], _Children(), _Children(), _Children(), []
    latest = _latest(docs)
    for pos, doc in enumerate(docs):
        lago_id = _identity("creditnote", pos, doc, problems)
        if lago_id is None or latest[lago_id] != pos:
            continue
        heads.append(doc)
        cust = doc.get("customer")
        cust = cust if type(cust) is dict else _EMPTY
        item_list = _dicts_or_none(doc.get("items"))
        tax_list = _dicts_or_none(doc.get("applied_taxes") or [])
        extra.append((pos, cust.get("lago_id"), netsuite_link(cust), item_list is not None, tax_list is not None))
        if item_list:
            items.add(lago_id, item_list)
            for it in item_list:
                fee = _obj(it.get("fee"))
                if fee.get("applied_taxes"):
                    item_taxes.add(lago_id, [dict(t, item_id=it.get("lago_id")) for t in fee["applied_taxes"]
                                             if type(t) is dict])
        if tax_list:
            taxes.add(lago_id, tax_list)
    head = pd.concat([_frame(heads, CREDIT_NOTE_COLS),
                      pd.DataFrame(extra, columns=["pos", "customer_lago_id", "customer_ns_id", "items_ok",
                                                   "taxes_ok"], dtype=object)], axis=1)
    item_df = items.frame(["lago_id", "amount_cents"], "credit_note_id")
    fee_dicts = [_obj(it.get("fee")) for it in items.dicts]
    item_df = pd.concat([item_df, _frame(fee_dicts, FEE_COLS, "fee_"),
                         _frame([_obj(f.get("item")) for f in fee_dicts],
                                ITEM_COLS, "item_"),
                         _frame([_obj(f.get("properties"))
                                 for f in fee_dicts], PROPERTY_COLS, "prop_")], axis=1)
    item_df["has_fee_taxes"] = pd.Series([bool(f.get("applied_taxes")) for f in fee_dicts], dtype=bool)
    return (head, item_df, item_taxes.frame([*TAX_COLS, "item_id"], "credit_note_id"),
            taxes.frame(TAX_COLS, "credit_note_id"))


_PREFIXES = (("item_", "item."), ("fee_", "fee."), ("prop_", "properties."))
def _nonblank_value(v: object) -> bool:
    return type(v) is str and v.strip() != ""


def _nonblank(s: pd.Series) -> pd.Series:
    is_str = of_type(s, str)
    text = s.where(is_str, "")
    return is_str & by_unique(text, lambda u: u.map(_nonblank_value)).astype(bool)


def _iso_date(s: pd.Series) -> pd.Series:
    is_str = of_type(s, str)
    text = s.where(is_str, "")
    return is_str & by_unique(text, lambda t: t.str.match(r"^\d{4}-\d{2}-\d{2}", na=False)).astype(bool)


def _missing(v: object) -> bool:
    return v is None or (type(v) is float and v != v)


_CHECKS = {
    "int": (is_int64, "is not an integer"),
    "str": (_nonblank, "is not a non-empty string"),
    "date": (_iso_date, "is not an ISO date"),
    "currency": (lambda s: s.isin(KNOWN_CURRENCIES), "is not a known ISO 4217 currency"),
    "decimal": (is_decimal_text, "is not a decimal number"),
    "bool": (lambda s: of_type(s, bool), "is not a boolean"),
    "list": (lambda s: of_type(s, list), "is not a list"),
}


def column_problems(df: pd.DataFrame, spec: dict[str, str], *, names: pd.Series, key: str = "key",
                    where: str | Callable[[pd.DataFrame], pd.Series] = "") -> pd.DataFrame:
    """Check column types vectorised; one ``(key, reason)`` row per bad value.

    ``spec`` maps a column to a check (``int``, ``str``, ``date``, ``currency``, ``decimal``,
    ``bool``, ``list``); a trailing ``?`` allows null. ``names`` maps a document key to how it is
    named ("invoice INV-1"); ``where`` is the path prefix of a row ("fees[2].") or a function
    computing it for the bad rows only.
    """
    out = []
    for col, check in spec.items():
        optional = check.endswith("?")
        test, text = _CHECKS[check.rstrip("?")]
        values = df[col]
        ok = test(values).astype(bool)
        if optional:
            ok |= values.isna()
        bad = ~ok
        if not bad.any():
            continue
        rows = df[bad]
        field = col
        for short, long in _PREFIXES:
            if col.startswith(short):
                field = long + col.removeprefix(short)
                break
        path = (where(rows) if callable(where) else where) + field
        shown = values[bad].map(lambda v, t=text: "is missing" if _missing(v) else f"{t}: {v!r:.60}")
        out.append(pd.DataFrame({"key": rows[key], "reason": rows[key].map(names) + ": " + path + " " + shown}))
    if not out:
        return pd.DataFrame({"key": pd.Series(dtype=object), "reason": pd.Series(dtype=object)})
    return pd.concat(out, ignore_index=True)

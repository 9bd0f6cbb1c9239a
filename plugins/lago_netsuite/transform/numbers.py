"""Vectorised number and date helpers: NetSuite's 15-character limit, JSON numbers, M/D/YYYY.

NetSuite keeps about 15 significant characters of a number, so ``rate`` and ``quantity`` are
trimmed (with rounding) before they are sent; ``amount`` is always sent explicitly from integer
minor units, so trimming never changes a total. Decimal work is only done on the few values that
need it (unique values, or the rows that are too long), never per row of a large batch.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import numpy as np
import pandas as pd

from lago_netsuite.money import json_number

MAX_CHARS = 15
HUGE_QUANTITY_INT_DIGITS = 11  # an integer part of 11+ digits is >= 1e10
_PLAIN = r"^-?(?:0|[1-9]\d*)(?:\.\d+)?$"
_PLAIN_RE = re.compile(_PLAIN)
_ANY_DECIMAL = r"^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$"
_ANY_RE = re.compile(_ANY_DECIMAL)


def of_type(values: pd.Series, *types: type) -> pd.Series:
    """True where a value's exact type is one of ``types`` (``bool`` is not an ``int`` here)."""
    return values.map(type).isin(types)


def by_unique(values: pd.Series, fn: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """Apply a vectorised ``fn`` to the distinct values only and spread the result back.

    Dates, rates and codes repeat massively across a batch; string work on a million rows then
    costs what it costs on a few thousand. (Values equal under ``==`` share a result, so use it
    for text work, not for type checks.)
    """
    try:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    except TypeError:  # unhashable values (a malformed document): no sharing, same result
        return fn(values)
    if len(uniques) * 2 > len(values):
        return fn(values)
    res = fn(pd.Series([*uniques, None], dtype=object)).to_numpy(dtype=object)
    return pd.Series(res[np.where(codes < 0, len(uniques), codes)], index=values.index, dtype=object)


def _is_decimal_value(v: object) -> bool:
    t = type(v)
    if isinstance(v, str):
        return _ANY_RE.match(v) is not None
    if t is int:
        return True
    return t is float and v == v and v not in (float("inf"), float("-inf"))


def is_decimal_text(values: pd.Series) -> pd.Series:
    """True where the value is a finite decimal number (string, int or float, not bool)."""
    kind = values.map(type)
    ok = kind.isin([str, int, float])
    # bool is excluded above, so 1 and True cannot share a distinct value below
    return ok & by_unique(values.where(ok, None), lambda u: u.map(_is_decimal_value)).astype(bool)


def _plain_text(value: object) -> str | None:
    """One value as a plain decimal string without exponent or trailing zeros."""
    try:
        d = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not d.is_finite():
        return None
    text = format(d, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _plain_fast(value: object) -> str | None:
    """Plain decimal text of one value; the common case (a plain string) avoids Decimal."""
    if type(value) is str and _PLAIN_RE.match(value):
        if "." in value:
            value = value.rstrip("0").rstrip(".")
        return "0" if value == "-0" else value
    if value is None or type(value) is bool:
        return None
    return _plain_text(value)


def normalize_text(values: pd.Series) -> pd.Series:
    """Decimal values (str/int/float) as plain strings: no exponent, no trailing zeros."""
    return by_unique(values, lambda u: u.map(_plain_fast))


def _trim_value(value: object) -> str | None:
    text = _plain_fast(value)
    if text is None or len(text) <= MAX_CHARS:
        return text
    return _trim_one(text)


def _trim_one(text: str) -> str | None:
    """Round one plain decimal string to at most 15 characters (Lago's rule), or None if impossible."""
    point = text.find(".")
    if point < 0:
        return None if len(text) > MAX_CHARS else text
    decimals = MAX_CHARS - 1 - point
    if decimals < 0:
        return None
    rounded = Decimal(text).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    out = _plain_text(rounded)
    return out if out is not None and len(out) <= MAX_CHARS else None


def trim_to_15(values: pd.Series) -> pd.Series:
    """Plain decimal strings of at most 15 characters (the point included), rounded half-up.

    ``4.12121212123337777`` -> ``4.1212121212334``. None where a value cannot fit (an integer part
    of more than 15 digits) or is not a number. Computed once per distinct value.
    """
    return by_unique(values, lambda u: u.map(_trim_value))


def _is_huge(text: object) -> bool:
    if type(text) is not str:
        return False
    body = text.lstrip("-")
    point = body.find(".")
    return (point if point >= 0 else len(body)) >= HUGE_QUANTITY_INT_DIGITS


def is_huge_quantity(text: pd.Series) -> pd.Series:
    """True where a plain decimal string is >= 1e10 in absolute value (NetSuite's quantity limit)."""
    return by_unique(text, lambda u: u.map(_is_huge)).astype(bool)


def _pair_codes(minor: pd.Series, exponent: pd.Series | int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Factorize (minor, exponent) pairs: ``(codes, unique minors, unique exponents)``."""
    m = np.asarray(minor, dtype=np.int64)
    e = np.broadcast_to(np.asarray(exponent, dtype=np.int64), m.shape)
    codes, uniq = pd.factorize(m * 8 + e)  # exponents are 0..4, |minor| far below 2**59
    um = np.floor_divide(uniq, 8)
    return codes, um, uniq - um * 8


def minor_to_text(minor: pd.Series, exponent: pd.Series | int) -> pd.Series:
    """Exact major-unit strings of integer minor amounts (``1234, 2`` -> ``"12.34"``)."""
    codes, um, ue = _pair_codes(minor, exponent)
    texts = np.array([_plain_text(Decimal(int(m)).scaleb(-int(e))) for m, e in zip(um, ue, strict=True)],
                     dtype=object)
    return pd.Series(texts[codes], index=minor.index, dtype=object)


def json_amounts(minor: pd.Series, exponent: pd.Series | int) -> list[int | float]:
    """JSON numbers for integer minor amounts, each made by ``money.json_number`` (once per value)."""
    codes, um, ue = _pair_codes(minor, exponent)
    numbers = np.array([json_number(Decimal(int(m)).scaleb(-int(e)) if e else int(m))
                        for m, e in zip(um, ue, strict=True)] or [0], dtype=object)
    return numbers[codes].tolist()


def json_decimals(text: pd.Series) -> list[int | float | None]:
    """JSON numbers for plain decimal strings (rates, quantities), via ``money.json_number``."""
    codes, uniq = pd.factorize(text, use_na_sentinel=True)
    numbers = np.array([*(json_number(Decimal(t)) for t in uniq), None], dtype=object)
    return numbers[np.where(codes < 0, len(uniq), codes)].tolist()


def scaled_int(text: pd.Series, scale: int) -> pd.Series:
    """Exact integers ``value * 10**scale`` for plain decimal strings (e.g. tax rates in 1e-6 %)."""
    uniq = pd.unique(text.dropna())
    lookup = {}
    for t in uniq:
        v = Decimal(t).scaleb(scale)
        lookup[t] = int(v) if v == v.to_integral_value() else int(v.to_integral_value(rounding=ROUND_HALF_UP))
    return text.map(lookup).fillna(0).astype("int64")


def div_round_half_up(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Integer ``num / den`` rounded half away from zero (den > 0), exactly, on int64 arrays."""
    num = np.asarray(num, dtype=np.int64)
    den = np.asarray(den, dtype=np.int64)
    mag = (2 * np.abs(num) + den) // (2 * den)
    return np.sign(num) * mag


def ns_date(values: pd.Series) -> pd.Series:
    """ISO dates or timestamps as NetSuite's ``M/D/YYYY``; None where missing or not a real date."""
    return by_unique(values.where(of_type(values, str), None), _ns_date)


def _ns_date(values: pd.Series) -> pd.Series:
    text = values.where(of_type(values, str), None)
    head = text.str.slice(0, 10)
    ok = head.str.match(r"^\d{4}-\d{2}-\d{2}$", na=False).astype(bool)
    real = pd.to_datetime(head.where(ok), format="%Y-%m-%d", errors="coerce").notna()
    ok = ok & real
    out = (head.str.slice(5, 7).str.lstrip("0") + "/" + head.str.slice(8, 10).str.lstrip("0") + "/"
           + head.str.slice(0, 4))
    return out.where(ok, None)

"""Number and date helpers: NetSuite's 15 characters, JSON numbers, M/D/YYYY."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from lago_netsuite.transform.numbers import (
    is_huge_quantity,
    json_amounts,
    json_decimals,
    minor_to_text,
    normalize_text,
    ns_date,
    trim_to_15,
)
from lago_netsuite.transform.taxes import muldiv_half_up


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("4.12121212123337777", "4.1212121212334"),  # the example: 15 characters, point included
        ("312.50000", "312.5"),
        ("12.0", "12"),
        ("0.000000000000001234", "0"),
        ("123456789012.123456", "123456789012.12"),
        ("9.99999999999999999", "10"),
        ("2.00000000000000049", "2"),
        ("1E-5", "0.00001"),
        (20.0, "20"),
        (7, "7"),
        ("0", "0"),
        ("123456789012345", "123456789012345"),
        ("1234567890123456", None),
        ("not a number", None),
        (None, None),
    ],
    ids=["issue-example", "trailing-zeros", "integral", "tiny-rounds-to-zero", "long-integer-part",
         "rounds-up-to-integer", "rounds-down", "exponent", "float", "int", "zero", "15-digit-integer",
         "16-digit-integer-cannot-fit", "garbage", "missing"],
)
def test_trim_to_15_characters(value: object, expected: str | None) -> None:
    got = trim_to_15(pd.Series([value], dtype=object)).iloc[0]
    assert got == expected
    if expected is not None:
        assert len(got) <= 15


def test_trim_is_the_same_for_repeated_values() -> None:
    values = pd.Series(["4.12121212123337777"] * 10 + ["1.5"] * 10, dtype=object)
    out = trim_to_15(values)
    assert out.tolist() == ["4.1212121212334"] * 10 + ["1.5"] * 10


@pytest.mark.parametrize(("text", "huge"), [("9999999999.99", False), ("10000000000", True), ("-10000000000.5", True),
                                            ("0.5", False)], ids=["just-below", "1e10", "negative", "small"])
def test_huge_quantity(text: str, huge: bool) -> None:
    assert bool(is_huge_quantity(pd.Series([text])).iloc[0]) is huge


@pytest.mark.parametrize(
    ("minor", "exp", "text", "number"),
    [(1234, 2, "12.34", 12.34), (1200, 2, "12", 12), (1234, 0, "1234", 1234), (1234, 3, "1.234", 1.234),
     (-5, 2, "-0.05", -0.05), (0, 3, "0", 0)],
    ids=["eur", "eur-integral", "jpy", "kwd", "negative", "zero"],
)
def test_minor_amounts_to_text_and_json(minor: int, exp: int, text: str, number: float) -> None:
    assert minor_to_text(pd.Series([minor]), pd.Series([exp])).iloc[0] == text
    value = json_amounts(pd.Series([minor]), pd.Series([exp]))[0]
    assert value == number and type(value) is type(number)


def test_json_decimals_keep_missing_values() -> None:
    assert json_decimals(pd.Series(["1", "2.5", None], dtype=object)) == [1, 2.5, None]


def test_normalize_text_handles_exponents_and_signs() -> None:
    assert normalize_text(pd.Series(["1.50", "-0.0", "2e3", 5.0], dtype=object)).tolist() == ["1.5", "0", "2000", "5"]


@pytest.mark.parametrize(("iso", "ns"), [("2024-03-01T00:00:00Z", "3/1/2024"), ("2024-12-31", "12/31/2024"),
                                         ("2024-02-30", None), (None, None), ("03/01/2024", None)],
                         ids=["timestamp", "date", "not-a-date", "missing", "wrong-format"])
def test_netsuite_dates(iso: str | None, ns: str | None) -> None:
    assert ns_date(pd.Series([iso], dtype=object)).iloc[0] == ns


def test_muldiv_rounds_half_away_from_zero_and_handles_big_numbers() -> None:
    out = muldiv_half_up(np.array([5, -5, 7]), np.array([1, 1, 1]), np.array([2, 2, 0]))
    assert out.tolist() == [3, -3, 0]  # half away from zero; a zero divisor gives 0
    # a * b overflows int64, the quotient does not: computed exactly with Python ints
    big = muldiv_half_up(np.array([10**15]), np.array([10**8]), np.array([7 * 10**9]))
    assert big[0] == int((Decimal(10**23) / (7 * 10**9)).to_integral_value(rounding="ROUND_HALF_UP"))

from __future__ import annotations

from decimal import Decimal

import pytest

from lago_netsuite import money


@pytest.mark.parametrize(
    ("currency", "exp"),
    [("JPY", 0), ("EUR", 2), ("USD", 2), ("KWD", 3), ("BHD", 3), ("CLF", 4), ("eur", 2)],
    ids=lambda v: str(v),
)
def test_exponent_follows_iso_4217(currency: str, exp: int) -> None:
    assert money.exponent(currency) == exp


def test_unknown_currency_is_refused() -> None:
    with pytest.raises(money.UnknownCurrencyError, match="XXX"):
        money.exponent("XXX")


@pytest.mark.parametrize(
    ("minor", "currency", "major"),
    [(1234, "EUR", "12.34"), (1234, "JPY", "1234"), (1234, "KWD", "1.234"), (-5, "USD", "-0.05"), (0, "KWD", "0")],
    ids=["eur", "jpy", "kwd", "negative", "zero"],
)
def test_minor_major_round_trip(minor: int, currency: str, major: str) -> None:
    assert money.to_major(minor, currency) == Decimal(major)
    assert money.to_minor(Decimal(major), currency) == minor


def test_to_minor_refuses_to_round() -> None:
    with pytest.raises(money.InexactAmountError, match="JPY"):
        money.to_minor("1.5", "JPY")
    with pytest.raises(money.InexactAmountError):
        money.to_minor("0.0001", "KWD")


def test_to_major_rejects_floats() -> None:
    with pytest.raises(TypeError):
        money.to_major(12.5, "EUR")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "text"),
    [("4.1212121212334", "4.1212121212334"), ("0.1", "0.1"), ("12.345", "12.345"), ("100", "100"),
     ("-0.05", "-0.05"), ("99999999999.999", "99999999999.999")],
    ids=["rate-15-chars", "tenth", "kwd", "integer", "negative", "large-kwd"],
)
def test_json_number_keeps_the_digits(value: str, text: str) -> None:
    import json

    assert json.dumps(money.json_number(Decimal(value))) == text


def test_json_number_refuses_more_than_15_digits() -> None:
    with pytest.raises(money.InexactAmountError):
        money.json_number(Decimal("1.23456789012345678"))

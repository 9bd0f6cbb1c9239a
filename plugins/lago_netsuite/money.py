"""Exact money: integer minor units and Decimal, with each currency's own exponent.

Lago sends amounts as integer minor units of the document currency (``amount_cents``), where the
minor unit depends on the currency: JPY has none, EUR two, KWD three. Every sum in this project is
done on those integers or on ``Decimal``; a JSON number is produced only at the edge, by
:func:`json_number`.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

# ISO 4217 minor units for the currencies whose exponent is not 2. Every other well-formed code
# listed in ``KNOWN_CURRENCIES`` has two decimals.
_EXPONENT_OVERRIDES: dict[str, int] = {
    # no minor unit
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    # three decimals
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    # four decimals
    "CLF": 4, "UYW": 4,
}

# The currencies Lago accepts (its API's Currency enum) — a code outside this set is a data error.
KNOWN_CURRENCIES: frozenset[str] = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BWP BYN
    BZD CAD CDF CHF CLF CLP CNY COP CRC CVE CZK DJF DKK DOP DZD EGP ETB EUR FJD FKP GBP GEL GIP GMD
    GNF GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IQD ISK JMD JOD JPY KES KGS KHR KMF KRW KWD KYD KZT
    LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRO MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK
    NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SEK SGD SHP SLL SOS SRD
    STD SZL THB TJS TND TOP TRY TTD TWD TZS UAH UGX USD UYI UYU UYW UZS VND VUV WST XAF XCD XOF XPF
    YER ZAR ZMW""".split()
)


class UnknownCurrencyError(ValueError):
    """Raised for a currency code that is not a known ISO 4217 code."""


class InexactAmountError(ValueError):
    """Raised when an amount has more decimals than its currency allows."""


def exponent(currency: str) -> int:
    """Return the number of decimals of ``currency`` (ISO 4217 minor unit).

    Raises:
        UnknownCurrencyError: the code is not a currency Lago knows.
    """
    code = currency.upper() if isinstance(currency, str) else currency
    if code not in KNOWN_CURRENCIES:
        raise UnknownCurrencyError(f"unknown currency {currency!r}")
    return _EXPONENT_OVERRIDES.get(code, 2)


def exponents(currencies: list[str] | tuple[str, ...]) -> dict[str, int]:
    """Return ``{code: exponent}`` for the known codes among ``currencies`` (unknown ones left out)."""
    out: dict[str, int] = {}
    for code in set(currencies):
        if isinstance(code, str) and code.upper() in KNOWN_CURRENCIES:
            out[code] = _EXPONENT_OVERRIDES.get(code.upper(), 2)
    return out


def to_major(minor: int, currency: str) -> Decimal:
    """Convert integer minor units to an exact Decimal in major units (``1234, "EUR"`` → ``12.34``)."""
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise TypeError(f"minor units must be an int, got {type(minor).__name__}")
    return Decimal(minor).scaleb(-exponent(currency))


def to_minor(major: Decimal | str | int, currency: str) -> int:
    """Convert a major-unit amount to integer minor units, refusing to round.

    Raises:
        InexactAmountError: the amount has more decimals than the currency allows.
    """
    try:
        value = Decimal(str(major)) if not isinstance(major, Decimal) else major
    except InvalidOperation as exc:
        raise InexactAmountError(f"not a number: {major!r}") from exc
    scaled = value.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise InexactAmountError(
            f"{major} {currency} has more than {exponent(currency)} decimals"
        )
    return int(scaled)


def json_number(value: Decimal | int) -> int | float:
    """Turn an exact amount into the JSON number the RESTlet contract carries.

    Contract numbers keep at most 15 significant digits, and every decimal of at most 15
    significant digits survives the float round trip exactly (``repr`` gives it back), so the
    float produced here serialises to the same digits as the Decimal.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, Decimal):
        raise TypeError(f"expected Decimal or int, got {type(value).__name__}")
    if value == value.to_integral_value() and abs(value) < Decimal(10) ** 15:
        return int(value)
    digits = len(value.normalize().as_tuple().digits)
    if digits > 15:
        raise InexactAmountError(f"{value} has more than 15 significant digits")
    return float(value)

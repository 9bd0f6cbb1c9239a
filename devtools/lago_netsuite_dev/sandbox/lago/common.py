"""Small helpers shared by the Lago dataset generator: exact rounding, Lago's JSON number formats, ids.

Lago keeps money as integer minor units and BigDecimal columns; Rails serialises BigDecimal as a
plain decimal string that always carries a fractional part (``"10.0"``), and a few fee fields as
floats in major units. These helpers reproduce those formats from ``Decimal`` values so the
generator never does float arithmetic on money.
"""

from __future__ import annotations

import calendar
import random
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal
from functools import lru_cache

ZERO = Decimal(0)
HUNDRED = Decimal(100)
#: Scale of ``fees.precise_coupons_amount_cents`` in Lago's schema (numeric(30, 5)).
COUPON_SCALE = Decimal("0.00001")
#: Scale of ``fees.precise_unit_amount`` and ``precise_amount_cents`` (numeric(30/40, 15)).
PRECISE_SCALE = Decimal("1e-15")


def round_half_up(value: Decimal) -> int:
    """Round to an integer the way Ruby's ``round`` does (half away from zero)."""
    return int(value.to_integral_value(rounding=ROUND_HALF_UP))


_WIDE = Context(prec=60, rounding=ROUND_HALF_UP)


def quantize(value: Decimal, scale: Decimal) -> Decimal:
    """Round ``value`` half away from zero to ``scale`` (e.g. ``COUPON_SCALE``)."""
    return value.quantize(scale, context=_WIDE)


def rails_decimal(value: Decimal) -> str:
    """Format a Decimal as Rails serialises a BigDecimal: plain digits, at least one decimal.

    ``Decimal("10")`` → ``"10.0"``, ``Decimal("0.12300")`` → ``"0.123"``, ``Decimal("1E+10")`` →
    ``"10000000000.0"``.
    """
    text = str(value)
    if "E" in text:
        text = format(value, "f")
    if "." in text:
        text = text.rstrip("0")
        return text + "0" if text[-1] == "." else text
    return "0.0" if text in ("0", "-0") else text + ".0"


_SCALES = {e: Decimal(10) ** e for e in range(0, 5)}


def major_float(minor: Decimal | int, currency_exponent: int) -> float:
    """Convert (precise) minor units to the float in major units Lago's fee serialiser sends."""
    return float(Decimal(minor) / _SCALES[currency_exponent])


def rate_float(rate: Decimal) -> float:
    """A tax rate percent as the JSON float Lago sends (``Decimal("7.25")`` → ``7.25``)."""
    return float(rate)


def new_uuid(rng: random.Random) -> str:
    """Return a random (version 4) UUID string drawn from ``rng``, so ids are reproducible."""
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}


def iso_datetime(value: datetime) -> str:
    """Format a UTC datetime (naive or aware, whole seconds) as Lago does: ``2024-03-01T10:12:33Z``."""
    return value.replace(tzinfo=None, microsecond=0).isoformat() + "Z"


def parse_datetime(stamp: str) -> datetime:
    """Parse Lago's ``2024-03-01T10:12:33Z`` into a naive UTC datetime."""
    return datetime.fromisoformat(stamp[:-1] if stamp.endswith("Z") else stamp).replace(tzinfo=None)


@lru_cache(maxsize=8192)
def day_start(day: date) -> datetime:
    """Midnight of ``day`` (naive, UTC by convention)."""
    return datetime(day.year, day.month, day.day)


def at(day: date, seconds: int) -> str:
    """ISO timestamp ``seconds`` after midnight UTC of ``day`` (may run into later days)."""
    return iso_datetime(day_start(day) + timedelta(seconds=seconds))


def _clamped(year: int, month: int, day_of_month: int) -> date:
    """``day_of_month`` of that month, or the month's last day when it is shorter."""
    return date(year, month, min(day_of_month, calendar.monthrange(year, month)[1]))


@lru_cache(maxsize=8192)
def month_before(day: date) -> date:
    """Same day one month earlier, clamped to the month's length (billing period start)."""
    year, month = (day.year, day.month - 1) if day.month > 1 else (day.year - 1, 12)
    return _clamped(year, month, day.day)


@lru_cache(maxsize=8192)
def period_bounds(day: date) -> tuple[str, str, str, str]:
    """Billing period for an invoice issued on ``day``: arrears (from, to), advance (from, to).

    Charges are billed in arrears for the month before ``day``; an in-advance subscription fee
    covers the month starting on ``day``.
    """
    start = month_before(day)
    end = day - timedelta(days=1)
    next_start = _month_after(day)
    return (
        f"{start.isoformat()}T00:00:00Z",
        f"{end.isoformat()}T23:59:59Z",
        f"{day.isoformat()}T00:00:00Z",
        f"{(next_start - timedelta(days=1)).isoformat()}T23:59:59Z",
    )


def _month_after(day: date) -> date:
    year, month = (day.year, day.month + 1) if day.month < 12 else (day.year + 1, 1)
    return _clamped(year, month, day.day)


def to_decimal(value: object) -> Decimal:
    """Read a Lago JSON number or decimal string as an exact Decimal (floats via ``repr``)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        return Decimal(value)
    raise TypeError(f"not a number: {value!r}")

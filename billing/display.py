"""How money, dates and times read for people: the one place every surface formats them.

Portal pages, the invoice PDF, the admin and CSV exports call these; templates reach them through
the ``money``/``money_exact``/``local_date``/``local_datetime`` filters. Amounts are rounded with
``billing.money.round_money`` (the one rounding helper); dates and times are shown in the billing
time zone (SPEC 3), whatever zone the value was stored in.
"""

import datetime as dt
from decimal import Decimal

from billing.calendar import billing_tz
from billing.money import round_money

MINUS = "\u2212"  # one minus sign for people: U+2212, never a hyphen


def money(amount: Decimal, currency: str) -> str:
    """'1,234.50 CNY', '−100.00 USD': two decimals (the currency's unit), thousands separated."""
    rounded = round_money(Decimal(amount), currency)
    text = f"{abs(rounded):,f}"
    sign = MINUS if rounded < 0 else ""
    return f"{sign}{text} {currency}"


def money_exact(amount: Decimal, currency: str) -> str:
    """An exact charge amount where it is the point: at least two decimals, more only when the
    amount has them ('0.0396 USD'), trailing zeros dropped."""
    value = Decimal(amount)
    normalized = value.normalize()
    if normalized.as_tuple().exponent > -2:  # type: ignore[operator]
        normalized = value.quantize(Decimal("0.01"))
    sign = MINUS if normalized < 0 else ""
    return f"{sign}{abs(normalized):,f} {currency}"


def local_date(value: dt.date | dt.datetime) -> str:
    """'5 Dec 2026': a datetime is first moved to the billing time zone."""
    if isinstance(value, dt.datetime):
        value = value.astimezone(billing_tz()).date()
    return f"{value.day} {value:%b %Y}"


def local_datetime(value: dt.datetime) -> str:
    """'5 Dec 2026 00:30 UTC+08:00', in the billing time zone."""
    local = value.astimezone(billing_tz())
    offset = local.strftime("%z")
    return f"{local_date(local)} {local:%H:%M} UTC{offset[:3]}:{offset[3:]}"


def rfc3339(value: dt.datetime) -> str:
    """'2026-12-05T00:30:00+08:00': machine-readable, in the billing time zone with its offset."""
    return value.astimezone(billing_tz()).isoformat(timespec="seconds")


def unit_plural(unit: str, quantity) -> str:
    """'1 day', '30 days', '2 blocks of DAUs', '3 minutes': the unit for a quantity. A unit
    already plural ('DAUs', 'units') stays as it is."""
    if not unit or quantity == 1:
        return unit
    head, sep, tail = unit.partition(" of ")
    if sep:
        return f"{unit_plural(head, quantity)}{sep}{tail}"
    return unit if unit.endswith("s") else f"{unit}s"

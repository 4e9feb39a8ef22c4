"""How numbers read in explanations and ``details`` (no rounding of money happens here)."""

from datetime import date
from decimal import Decimal

CENT = Decimal("0.01")


def qty(value: Decimal | int) -> str:
    """A quantity for people: no trailing zeros, thousands separated (22,000; 2.5; 0.65)."""
    normalized = Decimal(value).normalize()
    return f"{normalized:,f}"


def money_text(amount: Decimal, currency: str = "") -> str:
    """An amount for people: at least two decimals, more only when the exact amount has
    them (0.20 USD, 0.0396 USD, 2,000.00 CNY)."""
    normalized = amount.normalize()
    if normalized.as_tuple().exponent > -2:  # type: ignore[operator]
        normalized = amount.quantize(CENT)
    text = f"{normalized:,f}"
    return f"{text} {currency}" if currency else text


def price_text(unit_price: Decimal, per_quantity: Decimal, unit: str, currency: str = "") -> str:
    """'0.99 USD per 1,000 min', '0.001 CNY per unit'."""
    money = f"{qty(unit_price)} {currency}" if currency else qty(unit_price)
    if per_quantity == 1:
        return f"{money} per {unit}"
    return f"{money} per {qty(per_quantity)} {unit}"


def dec(value: Decimal | int) -> str:
    """A Decimal for JSON ``details``: plain notation, never an exponent."""
    return f"{Decimal(value):f}"


def day_text(day: date) -> str:
    return day.isoformat()

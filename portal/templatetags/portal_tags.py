"""Template filters for amounts, quantities and dates. Money and dates go through
``billing.display``, the one formatter the portal, the PDF, the API and CSV share."""

import datetime as dt
from decimal import Decimal

from django import template
from django.utils.html import format_html

from billing import display
from billing.rating.text import qty

register = template.Library()


@register.filter
def money(amount, currency=""):
    """'1,000.00 CNY', '−50.00 CNY': two decimals for people (an exact charge amount is
    rounded; ``money_exact`` shows it in full where it is the point)."""
    if amount is None or amount == "":
        return ""
    return display.money(Decimal(amount), currency).strip()


@register.filter
def money_exact(amount, currency=""):
    """'0.0396 USD': every decimal the exact amount has (a charge's detail)."""
    if amount is None or amount == "":
        return ""
    return display.money_exact(Decimal(amount), currency).strip()


@register.filter
def money_tip(amount, currency=""):
    """The rounded amount, with the exact one in a tooltip when they differ."""
    if amount is None or amount == "":
        return ""
    rounded = display.money(Decimal(amount), currency).strip()
    exact = display.money_exact(Decimal(amount), currency).strip()
    if exact == rounded:
        return rounded
    return format_html('<span title="exactly {}">{}</span>', exact, rounded)


@register.filter
def negate_money(amount, currency=""):
    """A deduction in a totals column: '−100.00 CNY'."""
    if amount is None or amount == "":
        return ""
    return display.money(-Decimal(amount), currency).strip()


@register.filter
def local_date(value):
    """'5 Dec 2026', in the billing time zone."""
    if not value:
        return ""
    return display.local_date(value)


@register.filter
def local_datetime(value):
    """'5 Dec 2026 00:30 UTC+08:00', in the billing time zone."""
    if not value:
        return ""
    return display.local_datetime(value)


@register.filter
def quantity(value):
    """'22,000', '2.5', '0.65': no trailing zeros, thousands separated."""
    if value is None or value == "":
        return ""
    return qty(Decimal(value))


@register.filter
def units(value, unit):
    """'1 day', '30 days', '2 blocks of DAUs' style plurals for a quantity and its unit."""
    if value is None or value == "":
        return ""
    number = Decimal(value)
    text = qty(number)
    if not unit:
        return text
    return f"{text} {pluralize_unit(unit, number)}"


def pluralize_unit(unit: str, number: Decimal) -> str:
    return display.unit_plural(unit, number)


@register.filter
def balance(amount, currency=""):
    """An account balance for the customer: negative is owed, positive is a credit."""
    amount = Decimal(amount)
    if amount < 0:
        return f"you owe {display.money(-amount, currency)}"
    if amount > 0:
        return f"{display.money(amount, currency)} in credit"
    return f"settled (0.00 {currency})".replace(" )", ")")


@register.filter
def add_days(day, days):
    """A date ``days`` later: the day after a term ends is the day it renews."""
    return day + dt.timedelta(days=int(days)) if day else day


@register.filter
def get_item(mapping, key):
    """``mapping[key]``, or None: a template reads a dict by a variable key."""
    return mapping.get(key) if mapping else None

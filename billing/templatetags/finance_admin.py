"""Filters for the finance admin pages: money, dates and times through ``billing.display``."""

from decimal import Decimal

from django import template

from billing import display
from billing.reports.statement import balance_words

register = template.Library()


@register.filter
def money(amount, currency=""):
    """'1,234.50 CNY' (two decimals, thousands separated, one minus sign)."""
    if amount is None or amount == "":
        return ""
    return display.money(Decimal(amount), currency)


@register.filter
def local_date(value):
    return display.local_date(value) if value else ""


@register.filter
def local_datetime(value):
    return display.local_datetime(value) if value else ""


@register.filter
def balance(amount, currency=""):
    return balance_words(Decimal(amount), currency)


@register.filter
def month_label(month):
    return f"{month:%b %Y}"

"""Template filters for amounts and quantities, with the same wording as explanations."""

from decimal import Decimal

from django import template

from billing.rating.text import money_text, qty

register = template.Library()


@register.filter
def money(amount, currency=""):
    """'1,000.00 CNY'; an exact charge amount keeps its extra places ('0.0396 USD')."""
    if amount is None or amount == "":
        return ""
    return money_text(Decimal(amount), currency)


@register.filter
def quantity(value):
    """'22,000', '2.5', '0.65': no trailing zeros, thousands separated."""
    if value is None or value == "":
        return ""
    return qty(Decimal(value))


@register.filter
def balance(amount, currency=""):
    """An account balance for the customer: negative is owed, positive is a credit."""
    amount = Decimal(amount)
    if amount < 0:
        return f"you owe {money_text(-amount, currency)}"
    if amount > 0:
        return f"{money_text(amount, currency)} in credit"
    return f"settled (0.00 {currency})".replace(" )", ")")


@register.filter
def add_days(day, days):
    """A date ``days`` later: the day after a term ends is the day it renews."""
    import datetime as dt

    return day + dt.timedelta(days=int(days)) if day else day

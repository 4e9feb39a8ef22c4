"""Money in the admin for people (issue 15): every list, form and inline shows amounts through
``billing.display`` (two decimals, thousands separated, the currency, one minus sign); exact
charge amounts and unit prices keep their places where they are the point. Columns are
callables reading fields already loaded, so list pages keep their query counts."""

from collections.abc import Callable

from django.contrib import admin
from django.utils.html import format_html

from billing import display


def _currency_of(obj, path: str) -> str:
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def money_column(
    field: str, description: str | None = None, *, currency: str = "currency", exact=False
) -> Callable:
    """A list or read-only column showing ``obj.<field>`` in ``obj.<currency>`` (a dotted
    path, e.g. ``price_book.currency``); sorts by the field."""
    formatter = display.money_exact if exact else display.money

    @admin.display(description=description or field.replace("_", " "), ordering=field)
    def column(obj):
        amount = getattr(obj, field)
        if amount is None:
            return "—"
        return formatter(amount, _currency_of(obj, currency))

    column.__name__ = f"{field}_display"
    return column


def snapshot_fields(snapshot: dict):
    """The billing snapshot of an issued invoice as labelled fields, not JSON."""
    if not snapshot:
        return "— (taken when the invoice is finalized)"
    labels = {"name": "Name", "billing_email": "Billing e-mail", "email": "Billing e-mail",
              "billing_address": "Billing address"}  # fmt: skip
    rows = [
        format_html("<tr><th>{}</th><td>{}</td></tr>", labels.get(key, key), value or "—")
        for key, value in snapshot.items()
    ]
    return format_html(
        '<table class="billing-snapshot">{}</table>',
        format_html("".join(["{}"] * len(rows)), *rows),
    )


AMOUNT = money_column("amount")  # documents with their own currency field

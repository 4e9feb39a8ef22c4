"""Action forms of the finance admin: one form per action, each feeding one service."""

import datetime as dt

from django import forms

from billing.calendar import billing_tz
from billing.form_fields import StrictDateField, StrictDecimalField, StrictIntegerField

# --------------------------------------------------------------------------------------------
# Action forms: one form per action, each calling one service
# --------------------------------------------------------------------------------------------


class AmountReasonForm(forms.Form):
    # The strict parsers (billing/parsing.py): "1e3", "1_0.00", "١٠" are refused here as in
    # the API; at most 12 digits before the point (finance.money_parse's bound).
    amount = StrictDecimalField(places=2)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)


class AdjustmentForm(AmountReasonForm):
    amount = StrictDecimalField(
        places=2, allow_negative=True, help_text="Positive adds to the bill; negative credits."
    )


class PaymentForm(forms.Form):
    amount = StrictDecimalField(places=2)
    reference = forms.CharField(max_length=100, required=False, help_text="Bank reference.")
    received_on = StrictDateField(required=False, help_text="YYYY-MM-DD; empty for today.")


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)


class ConfirmForm(forms.Form):
    pass


class RerateConfirmForm(forms.Form):
    confirm = forms.CharField(widget=forms.HiddenInput, max_length=200)


class PriceRevisionForm(forms.Form):
    # Digits before the point as the model's columns hold them (numeric(18,6) is 12).
    effective_from = StrictDateField(help_text="The first day the new price applies.")
    unit_price = StrictDecimalField(places=6, integer_digits=12)
    per_quantity = StrictDecimalField(places=4, integer_digits=14)
    included_quantity = StrictDecimalField(places=4, integer_digits=20, required=False)
    deduction_ratio = StrictDecimalField(places=4, integer_digits=8, required=False)
    validity_months = StrictIntegerField(required=False)
    note = forms.CharField(max_length=255, help_text="Why the price changes (kept in the audit).")


def csv_text(value: str) -> str:
    """A text cell a spreadsheet will not run: one starting with = + - @, a tab or a carriage
    return is prefixed with an apostrophe (OWASP "CSV injection"). Only text cells: amounts
    are Decimals and keep their minus sign."""
    if value and value[0] in "=+-@\t\r":
        return "'" + value
    return value


def received_at(day: dt.date | None):
    if day is None:
        return None
    return dt.datetime.combine(day, dt.time(12), tzinfo=billing_tz())

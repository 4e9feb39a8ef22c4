"""Action forms of the finance admin: one form per action, each feeding one service."""

import datetime as dt

from django import forms

from billing.calendar import billing_tz

# --------------------------------------------------------------------------------------------
# Action forms: one form per action, each calling one service
# --------------------------------------------------------------------------------------------


class AmountReasonForm(forms.Form):
    amount = forms.DecimalField(max_digits=14, decimal_places=2)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)


class AdjustmentForm(AmountReasonForm):
    amount = forms.DecimalField(
        max_digits=14, decimal_places=2, help_text="Positive adds to the bill; negative credits."
    )


class PaymentForm(forms.Form):
    amount = forms.DecimalField(max_digits=14, decimal_places=2, min_value=0)
    reference = forms.CharField(max_length=100, required=False, help_text="Bank reference.")
    received_on = forms.DateField(required=False, help_text="Leave empty for today.")


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)


class ConfirmForm(forms.Form):
    pass


class RerateConfirmForm(forms.Form):
    confirm = forms.CharField(widget=forms.HiddenInput)


class PriceRevisionForm(forms.Form):
    effective_from = forms.DateField(help_text="The first day the new price applies.")
    unit_price = forms.DecimalField(max_digits=18, decimal_places=6, min_value=0)
    per_quantity = forms.DecimalField(max_digits=18, decimal_places=4, min_value=0)
    included_quantity = forms.DecimalField(max_digits=24, decimal_places=4, required=False)
    deduction_ratio = forms.DecimalField(max_digits=12, decimal_places=4, required=False)
    validity_months = forms.IntegerField(min_value=1, required=False)
    note = forms.CharField(max_length=255, help_text="Why the price changes (kept in the audit).")


def received_at(day: dt.date | None):
    if day is None:
        return None
    return dt.datetime.combine(day, dt.time(12), tzinfo=billing_tz())

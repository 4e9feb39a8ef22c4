"""Forms of the customer portal. They only parse input; the services validate the business
rules and raise BillingError, which the views show next to the field it names."""

import datetime as dt

from django import forms
from django.utils import timezone

from accounts import permissions
from accounts.models import Role
from billing.form_fields import StrictModelChoiceField
from billing.models import Region


class AccountChoiceMixin:
    """An ``account`` field limited to the user's accounts, hidden when there is only one."""

    def _set_accounts(self, accounts):
        field = StrictModelChoiceField(queryset=accounts, empty_label=None, label="Account")
        only = list(accounts[:2])
        self._only_account = only[0] if len(only) == 1 else None
        if self._only_account is not None:
            field.initial = self._only_account.pk
            field.widget = forms.HiddenInput()
            field.required = False
        self.fields["account"] = field

    def clean_account(self):
        # A user of one account need not name it; an id outside the user's accounts is
        # refused by the queryset ("Select a valid choice").
        return self.cleaned_data.get("account") or self._only_account


class ApplicationCreateForm(AccountChoiceMixin, forms.Form):
    name = forms.CharField(max_length=100, label="Application name")
    region = forms.ChoiceField(choices=Region.choices, label="Data center region")

    def __init__(self, *args, accounts, **kwargs):
        super().__init__(*args, **kwargs)
        self._set_accounts(accounts)


class ApiKeyCreateForm(AccountChoiceMixin, forms.Form):
    name = forms.CharField(
        max_length=100,
        required=False,
        label="Name",
        help_text="What the key is for, e.g. 'usage reporter, production'.",
    )
    scopes = forms.MultipleChoiceField(
        choices=[(scope, f"{scope}: {what}") for scope, what in permissions.SCOPES.items()],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Scopes",
        help_text="None chosen: the account's full rights (owners only).",
    )
    expires_on = forms.DateField(
        required=False,
        label="Expires on",
        help_text="Optional: the key stops working at the end of this day (billing time zone).",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def clean_expires_on(self):
        day = self.cleaned_data.get("expires_on")
        if day is not None and day < timezone.localdate():
            raise forms.ValidationError("Choose today or a later day.")
        return day

    def clean(self):
        cleaned = super().clean()
        day = cleaned.get("expires_on")
        cleaned["expires_at"] = (
            timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time()))
            if day
            else None
        )
        return cleaned

    def __init__(self, *args, accounts, **kwargs):
        super().__init__(*args, **kwargs)
        self._set_accounts(accounts)


class ItemForm(forms.Form):
    """Buy an add-on option or a resource pack by its billable item code; ``digest``: the plan
    the customer confirmed (absent: show the confirmation)."""

    item = forms.CharField(max_length=60)
    digest = forms.CharField(max_length=64, required=False)


class BillingProfileForm(forms.Form):
    """The buyer on invoices: editable by the account's owner, frozen on each invoice at
    finalization."""

    billing_name = forms.CharField(
        max_length=200, required=False, label="Legal name",
        help_text="As it should read on invoices; empty: the account name.",
    )  # fmt: skip
    billing_address = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), required=False, label="Billing address"
    )
    tax_id = forms.CharField(max_length=64, required=False, label="Tax ID")
    billing_email = forms.EmailField(label="Billing e-mail")


class EditionForm(forms.Form):
    edition = forms.SlugField(max_length=20)
    digest = forms.CharField(max_length=64, required=False)


class InviteForm(AccountChoiceMixin, forms.Form):
    email = forms.EmailField(label="E-mail address")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER, label="Role")

    def __init__(self, *args, accounts, **kwargs):
        super().__init__(*args, **kwargs)
        self._set_accounts(accounts)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class AcceptWithPasswordForm(forms.Form):
    password1 = forms.CharField(widget=forms.PasswordInput, label="Choose a password")
    password2 = forms.CharField(widget=forms.PasswordInput, label="The password again")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password1") != cleaned.get("password2"):
            raise forms.ValidationError("The two passwords differ.")
        return cleaned


class TokenForm(forms.Form):
    token = forms.CharField(
        max_length=20,
        label="Code",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

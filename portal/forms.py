"""Forms of the customer portal. They only parse input; the services validate the business
rules and raise BillingError, which the views show next to the field it names."""

from django import forms

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

    def __init__(self, *args, accounts, **kwargs):
        super().__init__(*args, **kwargs)
        self._set_accounts(accounts)


class ItemForm(forms.Form):
    """Buy an add-on option or a resource pack by its billable item code."""

    item = forms.CharField(max_length=60)


class EditionForm(forms.Form):
    edition = forms.SlugField(max_length=20)

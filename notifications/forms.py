from django import forms

from notifications.models import Alert, EventType
from portal.forms import AccountChoiceMixin


class EndpointForm(AccountChoiceMixin, forms.Form):
    url = forms.CharField(max_length=500, label="URL", help_text="https://…, a public address")
    event_types = forms.MultipleChoiceField(
        choices=[(t, t) for t in EventType.values],
        widget=forms.CheckboxSelectMultiple,
        label="Events",
    )
    description = forms.CharField(max_length=200, required=False)

    def __init__(self, *args, accounts, **kwargs):
        super().__init__(*args, **kwargs)
        self._set_accounts(accounts)


class AlertForm(AccountChoiceMixin, forms.Form):
    kind = forms.ChoiceField(choices=Alert.Kind.choices)
    application = forms.IntegerField(
        required=False, label="SDKAppID", help_text="Empty: the whole account (spend only)"
    )
    currency = forms.ChoiceField(
        choices=[("", "—"), ("CNY", "CNY"), ("USD", "USD")], required=False
    )
    amount = forms.DecimalField(
        required=False, max_digits=14, decimal_places=2, help_text="Spend: the amount"
    )
    percent = forms.DecimalField(
        required=False, max_digits=5, decimal_places=2, label="Share left (%)", help_text="e.g. 20"
    )

    def __init__(self, *args, accounts, **kwargs):
        super().__init__(*args, **kwargs)
        self._set_accounts(accounts)

"""Validated query filters (django-filter): a bad value is a 400 naming the parameter."""

from django import forms
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema_field

from billing.form_fields import StrictDateField, StrictIntegerField, StrictMonthField
from billing.models import Charge, Currency, Invoice, InvoiceState, Metric, UsageEvent


class MonthFormField(StrictMonthField):
    """'YYYY-MM' to the first day of the month (ASCII digits; the message never carries the
    client's text: django-filter formats it with %, and "%s" was a 500). "?month=" is a 400."""

    refuse_blank = True


class IdFormField(StrictIntegerField):
    refuse_blank = True


class DayFormField(StrictDateField):
    refuse_blank = True


@extend_schema_field({"type": "string", "pattern": r"^\d{4}-\d{2}$", "example": "2025-03"})
class MonthFilter(filters.Filter):
    field_class = MonthFormField


@extend_schema_field({"type": "integer", "minimum": 1})
class IdFilter(filters.NumberFilter):
    field_class = IdFormField


@extend_schema_field({"type": "string", "format": "date"})
class DayFilter(filters.DateFilter):
    field_class = DayFormField


class DayRangeForm(forms.Form):
    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("from"), cleaned.get("to")
        if start and end and start > end:
            self.add_error("to", forms.ValidationError("to is before from.", code="invalid"))
        return cleaned


class InvoiceFilter(filters.FilterSet):
    month = MonthFilter(field_name="month", help_text="YYYY-MM, e.g. 2025-03.")
    state = filters.ChoiceFilter(choices=InvoiceState.choices)
    currency = filters.ChoiceFilter(choices=Currency.choices)
    account = IdFilter(
        field_name="account_id", min_value=1, help_text="Staff: the invoices of one account."
    )

    class Meta:
        model = Invoice
        fields = ["month", "state", "currency", "account"]


def _day_range_filterset(name: str, model, day_field: str, extra: dict) -> type:
    """A filter set with ``from`` and ``to`` (inclusive days): ``from`` is a Python keyword,
    so the class is built with type()."""
    attrs = {
        "from": DayFilter(
            field_name=day_field, lookup_expr="gte", help_text="First day, YYYY-MM-DD."
        ),
        "to": DayFilter(
            field_name=day_field, lookup_expr="lte", help_text="Last day (included), YYYY-MM-DD."
        ),
        **extra,
        "Meta": type("Meta", (), {"model": model, "fields": [], "form": DayRangeForm}),
    }
    return type(name, (filters.FilterSet,), attrs)


UsageFilter = _day_range_filterset(
    "UsageFilter",
    UsageEvent,
    "billing_day",
    {"metric": filters.ChoiceFilter(choices=Metric.choices)},
)
ChargeFilter = _day_range_filterset("ChargeFilter", Charge, "day", {})

"""List filters the finance home links to (issue 15)."""

from django.contrib import admin

from billing.calendar import billing_today
from billing.models import Invoice
from billing.reports.home import AGING_BUCKETS, AGING_BY_KEY


class AgingFilter(admin.SimpleListFilter):
    """Finalized invoices by days past due, the buckets of the home page's receivables."""

    title = "days past due"
    parameter_name = "aging"

    def lookups(self, request, model_admin):
        return [(bucket.key, bucket.label) for bucket in AGING_BUCKETS]

    def queryset(self, request, queryset):
        bucket = AGING_BY_KEY.get(self.value() or "")
        if self.value() and bucket is None:
            return queryset.none()
        if bucket is None:
            return queryset
        return queryset.filter(
            state=Invoice.State.FINALIZED, **bucket.due_date_range(billing_today())
        )

"""Finance staff's view of the bills. Money is never deleted from here; totals, charges,
usage and the audit trail are read-only; issued invoices are read-only in every form."""

from django.contrib import admin

from billing.models import (
    Application,
    AuditRecord,
    Charge,
    EditionPeriod,
    Invoice,
    InvoiceLine,
    JobRun,
    PrepaidTerm,
    PriceEntry,
    ResourcePack,
    UsageEvent,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by services: viewable, never added, changed or deleted here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class EditionPeriodInline(ReadOnlyInline):
    model = EditionPeriod
    fields = ("edition", "starts_on", "ends_on", "created_by")
    readonly_fields = fields


class PrepaidTermInline(ReadOnlyInline):
    model = PrepaidTerm
    fields = ("item", "starts_on", "ends_on", "amount", "currency", "cut_on", "credit_amount")
    readonly_fields = fields


class ResourcePackInline(ReadOnlyInline):
    model = ResourcePack
    fields = ("item", "units_total", "valid_from", "valid_until", "amount", "currency")
    readonly_fields = fields


@admin.register(Application)
class ApplicationAdmin(ReadOnlyAdmin):
    list_display = ("sdkappid", "name", "account", "region", "status")
    list_filter = ("region", "status")
    search_fields = ("sdkappid", "name", "account__name")
    list_select_related = ("account",)
    inlines = [EditionPeriodInline, PrepaidTermInline, ResourcePackInline]


class InvoiceLineInline(ReadOnlyInline):
    model = InvoiceLine
    fields = ("kind", "application", "description", "quantity", "unit_price", "amount")
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("application")


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "account", "month", "currency", "state", "total", "due_date")
    list_filter = ("state", "currency", "month")
    search_fields = ("number", "account__name", "lines__application__sdkappid")
    list_select_related = ("account",)
    date_hierarchy = "month"
    inlines = [InvoiceLineInline]


@admin.register(Charge)
class ChargeAdmin(ReadOnlyAdmin):
    list_display = (
        "application",
        "day",
        "item",
        "quantity",
        "billable_quantity",
        "amount",
        "currency",
    )
    list_filter = ("currency", "period", "item__product")
    search_fields = ("application__sdkappid", "application__name", "item__code")
    list_select_related = ("application", "item")
    date_hierarchy = "day"


@admin.register(UsageEvent)
class UsageEventAdmin(ReadOnlyAdmin):
    list_display = ("application", "event_id", "metric", "timestamp", "value", "dimension")
    list_filter = ("metric",)
    search_fields = ("application__sdkappid", "event_id")
    list_select_related = ("application",)
    show_full_result_count = False


@admin.register(PriceEntry)
class PriceEntryAdmin(ReadOnlyAdmin):
    list_display = (
        "item",
        "price_book",
        "effective_from",
        "unit_price",
        "per_quantity",
        "included_quantity",
        "deduction_ratio",
        "source",
    )
    list_filter = ("price_book", "source")
    search_fields = ("item__code", "item__name")
    list_select_related = ("item", "price_book")


@admin.register(AuditRecord)
class AuditRecordAdmin(ReadOnlyAdmin):
    list_display = ("at", "actor", "action", "target_type", "target_id", "account")
    list_filter = ("action", "target_type")
    search_fields = ("target_id", "account__name", "actor__username")
    list_select_related = ("actor", "account")


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyAdmin):
    list_display = (
        "job",
        "period",
        "state",
        "chunks_done",
        "chunks_total",
        "started_at",
        "finished_at",
    )
    list_filter = ("job", "state")

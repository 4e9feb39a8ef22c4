"""Documents around invoices, the audit trail and job runs in the finance admin (read-only)."""

from django.contrib import admin

from billing.admin.base import ReadOnlyAdmin
from billing.models import (
    Adjustment,
    AuditRecord,
    CreditNote,
    JobRun,
    Payment,
)

# --------------------------------------------------------------------------------------------
# Documents around invoices, the audit trail, jobs
# --------------------------------------------------------------------------------------------


@admin.register(CreditNote)
class CreditNoteAdmin(ReadOnlyAdmin):
    list_display = ("number", "invoice", "amount", "currency", "created_by", "created_at")
    search_fields = ("number", "invoice__number", "invoice__account__name")
    list_select_related = ("invoice", "created_by")


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "account", "amount", "currency", "invoice", "reference")
    list_filter = ("currency",)
    search_fields = ("reference", "account__name", "invoice__number")
    list_select_related = ("account", "invoice")


@admin.register(Adjustment)
class AdjustmentAdmin(ReadOnlyAdmin):
    list_display = ("invoice", "amount", "reason", "created_by", "created_at")
    search_fields = ("reason", "invoice__account__name")
    list_select_related = ("invoice", "created_by")


@admin.register(AuditRecord)
class AuditRecordAdmin(ReadOnlyAdmin):
    list_display = ("at", "actor", "action", "target_type", "target_id", "account", "reason")
    list_filter = ("action", "target_type")
    search_fields = ("target_id", "account__name", "actor__username")
    list_select_related = ("actor", "account")
    fields = ("at", "actor", "action", "target_type", "target_id", "account", "reason")
    readonly_fields = (*fields, "before", "after")

    def get_fields(self, request, obj=None):
        return (*self.fields, "before", "after")


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

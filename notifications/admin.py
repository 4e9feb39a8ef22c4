"""Operators see the outbox, deliveries with their attempts, e-mail and alerts, read-only,
with the counts of pending and failed deliveries on the lists."""

from django.contrib import admin
from django.db.models import Count, Q

from notifications.models import (
    Alert,
    DeliveryAttempt,
    EmailNotice,
    Event,
    WebhookDelivery,
    WebhookEndpoint,
)


class _ReadOnly(admin.ModelAdmin):
    change_list_template = "admin/notifications/change_list.html"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        counts = WebhookDelivery.objects.aggregate(
            pending=Count("pk", filter=Q(state="pending")),
            failed=Count("pk", filter=Q(state="failed")),
        )
        undispatched = Event.objects.filter(dispatched_at__isnull=True).count()
        extra = {"delivery_counts": counts, "undispatched_events": undispatched}
        return super().changelist_view(request, {**(extra_context or {}), **extra})


class _AttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    fields = ["attempted_at", "status_code", "duration_ms", "succeeded", "replay", "error"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Event)
class EventAdmin(_ReadOnly):
    list_display = ["id", "type", "account", "created_at", "dispatched_at"]
    list_filter = ["type", ("dispatched_at", admin.EmptyFieldListFilter)]
    search_fields = ["id", "account__name", "dedupe_key"]
    list_select_related = ["account"]
    readonly_fields = [
        "id",
        "type",
        "account",
        "application",
        "data",
        "dedupe_key",
        "created_at",
        "dispatched_at",
    ]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(_ReadOnly):
    list_display = [
        "id",
        "event",
        "endpoint",
        "state",
        "attempts",
        "last_status",
        "next_attempt_at",
        "delivered_at",
    ]
    list_filter = ["state"]
    search_fields = ["event__id", "endpoint__url", "endpoint__account__name"]
    list_select_related = ["event", "endpoint"]
    readonly_fields = [
        "event",
        "endpoint",
        "state",
        "attempts",
        "last_status",
        "next_attempt_at",
        "delivered_at",
        "created_at",
    ]
    inlines = [_AttemptInline]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(_ReadOnly):
    list_display = ["id", "url", "account", "created_at", "disabled_at", "deleted_at"]
    list_select_related = ["account"]
    search_fields = ["url", "account__name"]
    # The secret is never shown here.
    fields = readonly_fields = [
        "account",
        "url",
        "event_types",
        "description",
        "created_at",
        "disabled_at",
        "disabled_reason",
        "deleted_at",
    ]


@admin.register(EmailNotice)
class EmailNoticeAdmin(_ReadOnly):
    list_display = ["id", "kind", "account", "subject", "created_at", "sent_at"]
    list_filter = ["kind", ("sent_at", admin.EmptyFieldListFilter)]
    list_select_related = ["account"]
    readonly_fields = [
        "key",
        "kind",
        "account",
        "event",
        "to",
        "subject",
        "created_at",
        "sent_at",
        "error",
    ]


@admin.register(Alert)
class AlertAdmin(_ReadOnly):
    list_display = ["id", "kind", "account", "application", "currency", "amount", "share"]
    list_select_related = ["account", "application"]
    readonly_fields = [
        "account",
        "kind",
        "application",
        "currency",
        "amount",
        "share",
        "created_at",
        "created_by",
    ]

"""Applications, charges and usage in the finance admin (read-only)."""

from django.contrib import admin
from django.db.models import OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.html import format_html

from billing import selectors
from billing.admin.base import ReadOnlyAdmin, ReadOnlyInline, html_table
from billing.models import (
    AddOnSubscription,
    Application,
    Charge,
    ChargeCoverage,
    EditionPeriod,
    PrepaidTerm,
    ResourcePack,
    UsageEvent,
)
from billing.money import ZERO

# --------------------------------------------------------------------------------------------
# Applications, charges, usage
# --------------------------------------------------------------------------------------------


class EditionPeriodInline(ReadOnlyInline):
    model = EditionPeriod
    fields = ("edition", "starts_on", "ends_on", "created_by")
    readonly_fields = fields
    show_change_link = False


class AddOnSubscriptionInline(ReadOnlyInline):
    model = AddOnSubscription
    fields = ("addon", "item", "starts_on", "ends_on")
    readonly_fields = fields
    show_change_link = False


class PrepaidTermInline(ReadOnlyInline):
    model = PrepaidTerm
    fields = ("item", "starts_on", "ends_on", "amount", "currency", "cut_on", "credit_amount")
    readonly_fields = fields
    show_change_link = False


class ResourcePackInline(ReadOnlyInline):
    model = ResourcePack
    fields = ("item", "units_total", "units_left", "valid_from", "valid_until", "amount")
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request):
        used = Coalesce(
            Subquery(
                ChargeCoverage.objects.filter(pack=OuterRef("pk"))
                .order_by()
                .values("pack")
                .annotate(s=Sum("units_used"))
                .values("s")
            ),
            Value(ZERO),
        )
        return super().get_queryset(request).select_related("item").annotate(units_used=used)

    @admin.display(description="units left")
    def units_left(self, pack):
        return pack.units_total - pack.units_used


@admin.register(Application)
class ApplicationAdmin(ReadOnlyAdmin):
    list_display = ("sdkappid", "name", "account", "region", "status")
    list_filter = ("region", "status")
    search_fields = ("sdkappid", "name", "account__name")
    list_select_related = ("account",)
    fields = ("sdkappid", "name", "account", "region", "status", "status_reason", "recent_charges")
    readonly_fields = fields
    inlines = [EditionPeriodInline, AddOnSubscriptionInline, PrepaidTermInline, ResourcePackInline]

    @admin.display(description="recent charges (last 31)")
    def recent_charges(self, application):
        charges = (
            Charge.objects.filter(application=application)
            .select_related("item")
            .order_by("-day", "item__sort_order")[:31]
        )
        rows = [
            (
                format_html(
                    '<a href="{}">{}</a>',
                    reverse("admin:billing_charge_change", args=[c.pk]),
                    c.day,
                ),
                c.item.name,
                c.billable_quantity.normalize(),
                f"{c.amount} {c.currency}",
                c.explanation,
            )
            for c in charges
        ]
        return html_table(["day", "item", "billable", "amount", "explanation"], rows)


class ChargeCoverageInline(ReadOnlyInline):
    model = ChargeCoverage
    fields = ("source", "pack", "usage_quantity", "units_used")
    readonly_fields = fields
    show_change_link = False


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
    list_filter = ("currency", "period", "item__product", "item")
    search_fields = ("application__sdkappid", "application__name", "item__code")
    list_select_related = ("application", "item")
    date_hierarchy = "day"
    show_full_result_count = False
    list_max_show_all = 1000
    fields = (
        "application",
        "item",
        "day",
        "period",
        "quantity",
        "covered_quantity",
        "billable_quantity",
        "unit_price",
        "per_quantity",
        "amount",
        "currency",
        "price_entry",
        "explanation",
        "usage_behind",
        "details",
    )
    readonly_fields = fields
    inlines = [ChargeCoverageInline]

    @admin.display(description="usage behind this charge")
    def usage_behind(self, charge):
        rows = [
            (
                row["metric"],
                row["dimension"] or "",
                row["events"],
                row["total"].normalize() if row["total"] is not None else "",
                row["users"],
            )
            for row in selectors.charge_usage_aggregate(charge)
        ]
        return html_table(
            ["metric", "dimension", "events", "sum of values", "distinct users"], rows
        )


@admin.register(UsageEvent)
class UsageEventAdmin(ReadOnlyAdmin):
    list_display = ("application", "event_id", "metric", "timestamp", "value", "dimension")
    list_filter = ("metric",)
    search_fields = ("=application__sdkappid", "=event_id")
    list_select_related = ("application",)
    show_full_result_count = False

"""Finance staff's view of the bills (SPEC 6, issue 4).

Money is never deleted from here; totals, charges, usage and the audit trail are read-only;
issued invoices are read-only in every form. What finance staff may do to a bill is a set of
actions, each a form that calls one service of ``billing.services.finance`` (which writes the
audit record in the same transaction). Finance staff hold the model permissions of the finance
group; support staff only ``view_*`` and see no action."""

import csv
import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import DecimalField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from billing import display, selectors
from billing.admin_display import money_column, snapshot_fields
from billing.admin_filters import AgingFilter
from billing.calendar import billing_today, billing_tz
from billing.errors import BillingError
from billing.models import (
    AddOnSubscription,
    Adjustment,
    Application,
    AuditRecord,
    Charge,
    ChargeCoverage,
    CreditNote,
    EditionPeriod,
    Invoice,
    InvoiceLine,
    JobRun,
    Payment,
    PrepaidTerm,
    PriceEntry,
    ResourcePack,
    UsageEvent,
)
from billing.money import ZERO
from billing.services import finance
from billing.services.invoicing import invoice_finalize

MONEY_OUTPUT = DecimalField(max_digits=20, decimal_places=2)


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

    def has_delete_permission(self, request, obj=None):
        return False


def _table(headers: list[str], rows: list[tuple]):
    """A small HTML table for a read-only field."""
    if not rows:
        return "—"
    head = format_html_join("", "<th>{}</th>", ((h,) for h in headers))
    body = format_html_join(
        "",
        "<tr>{}</tr>",
        ((format_html_join("", "<td>{}</td>", ((cell,) for cell in row)),) for row in rows),
    )
    return format_html('<table class="billing-table"><tr>{}</tr>{}</table>', head, body)


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


def _received_at(day: dt.date | None):
    if day is None:
        return None
    return dt.datetime.combine(day, dt.time(12), tzinfo=billing_tz())


class ActionViewsMixin:
    """Object actions as admin views: GET shows the form, POST calls the service; a
    ``BillingError`` is shown on the field it names and nothing is written."""

    action_template = "admin/billing/action_form.html"
    object_actions: dict[str, dict] = {}

    def _action_view(self, request, object_id, *, action: str, perm: str, form_class, perform):
        obj = get_object_or_404(self.get_queryset(request), pk=object_id)
        if not request.user.has_perm(perm):
            raise PermissionDenied
        spec = self.object_actions[action]
        form = form_class(
            request.POST if request.method == "POST" else None,
            initial=spec.get("initial", lambda o: {})(obj),
        )
        if request.method == "POST" and form.is_valid():
            try:
                message = perform(request, obj, form.cleaned_data)
            except BillingError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                self.message_user(request, message, messages.SUCCESS)
                return HttpResponseRedirect(
                    reverse(
                        f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk]
                    )
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": obj,
            "title": f"{spec['label']}: {obj}",
            "form": form,
            "action_label": spec["label"],
            "action_help": spec.get("help", ""),
            "summary": self.action_summary(obj),
        }
        return TemplateResponse(request, self.action_template, context)

    def action_summary(self, obj) -> list[tuple[str, object]]:
        return []

    def available_actions(self, request, obj) -> list[dict]:
        out = []
        for name, spec in self.object_actions.items():
            if request.user.has_perm(spec["perm"]) and spec["when"](obj):
                url = reverse(
                    f"admin:{obj._meta.app_label}_{obj._meta.model_name}_{name}", args=[obj.pk]
                )
                out.append({"url": url, "label": spec["label"]})
        return out

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        obj = self.get_object(request, object_id)
        if obj is not None:
            extra_context["object_actions"] = self.available_actions(request, obj)
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        info = self.model._meta.app_label, self.model._meta.model_name
        extra = [
            path(
                f"<int:object_id>/{name.replace('_', '-')}/",
                self.admin_site.admin_view(getattr(self, f"{name}_view")),
                name=f"{info[0]}_{info[1]}_{name}",
            )
            for name in self.object_actions
        ]
        return extra + super().get_urls()


# --------------------------------------------------------------------------------------------
# Invoices
# --------------------------------------------------------------------------------------------


_LINE_UNIT_PRICE = money_column("unit_price", "unit price", currency="invoice.currency", exact=True)
_LINE_AMOUNT = money_column("amount", currency="invoice.currency")


class InvoiceLineInline(ReadOnlyInline):
    model = InvoiceLine
    fields = ("kind", "application", "description", "quantity", _LINE_UNIT_PRICE, _LINE_AMOUNT)
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("application", "invoice")


_AMOUNT = money_column("amount")


class CreditNoteInline(ReadOnlyInline):
    model = CreditNote
    fields = ("number", _AMOUNT, "reason", "created_by", "created_at")
    readonly_fields = fields
    show_change_link = False


class PaymentInline(ReadOnlyInline):
    model = Payment
    fields = (_AMOUNT, "received_at", "reference", "recorded_by")
    readonly_fields = fields
    show_change_link = False
    fk_name = "invoice"


def _sum_of(model, field="amount"):
    return Coalesce(
        Subquery(
            model.objects.filter(invoice=OuterRef("pk"))
            .order_by()
            .values("invoice")
            .annotate(s=Sum(field))
            .values("s"),
            output_field=MONEY_OUTPUT,
        ),
        Value(ZERO),
        output_field=MONEY_OUTPUT,
    )


class MonthFilter(admin.SimpleListFilter):
    title = "month"
    parameter_name = "month"

    def lookups(self, request, model_admin):
        months = Invoice.objects.order_by("-month").values_list("month", flat=True).distinct()
        return [(f"{m:%Y-%m}", f"{m:%B %Y}") for m in months[:36]]

    def queryset(self, request, queryset):
        if self.value():
            try:
                month = dt.date.fromisoformat(f"{self.value()}-01")
            except ValueError:
                return queryset.none()
            return queryset.filter(month=month)
        return queryset


class OverdueFilter(admin.SimpleListFilter):
    title = "overdue"
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", "Overdue"), ("no", "Not overdue")]

    def queryset(self, request, queryset):
        overdue = {"state": Invoice.State.FINALIZED, "due_date__lt": billing_today()}
        if self.value() == "yes":
            return queryset.filter(**overdue)
        if self.value() == "no":
            return queryset.exclude(**overdue)
        return queryset


def _is_draft(invoice):
    return invoice.state == Invoice.State.DRAFT


def _is_issued(invoice):
    return invoice.state in (Invoice.State.FINALIZED, Invoice.State.PAID)


def _is_finalized(invoice):
    return invoice.state == Invoice.State.FINALIZED


CSV_COLUMNS = [
    "number",
    "account",
    "month",
    "currency",
    "state",
    "total",
    "credited",
    "paid",
    "amount_due",
    "finalized_at",
    "due_date",
]


@admin.register(Invoice)
class InvoiceAdmin(ActionViewsMixin, ReadOnlyAdmin):
    list_display = (
        "__str__",
        "account",
        "month_label",
        "currency",
        "state",
        "total_display",
        "amount_due_display",
        "due_date",
    )
    list_filter = (MonthFilter, "state", "currency", OverdueFilter, AgingFilter)
    search_fields = ("number", "account__name", "lines__application__sdkappid")
    list_select_related = ("account",)
    list_max_show_all = 1000
    inlines = [InvoiceLineInline, CreditNoteInline, PaymentInline]
    actions = ["finalize_selected", "export_csv"]
    fields = (
        "account",
        "month",
        "currency",
        "state",
        "number",
        "total_display",
        "credited_display",
        "paid_display",
        "amount_due_display",
        "finalized_at",
        "due_date",
        "paid_at",
        "voided_at",
        "void_reason",
        "billing_details",
    )
    readonly_fields = fields
    object_actions = {
        "adjust": {
            "label": "Add an adjustment",
            "perm": "billing.add_adjustment",
            "when": _is_draft,
            "help": "A positive or negative line on this draft, with the reason the customer "
            "will read.",
        },
        "credit_note": {
            "label": "Issue a credit note",
            "perm": "billing.add_creditnote",
            "when": _is_issued,
            "help": "Reduces what is due; never more than the total less earlier credit notes.",
        },
        "payment": {
            "label": "Record a payment",
            "perm": "billing.add_payment",
            "when": _is_finalized,
            "initial": lambda invoice: {"amount": selectors.invoice_amount_due(invoice)},
        },
        "finalize": {
            "label": "Finalize now",
            "perm": "billing.change_invoice",
            "when": _is_draft,
            "help": "Issues the next number, freezes the lines and the total, sets the due date.",
        },
        "void": {
            "label": "Void",
            "perm": "billing.change_invoice",
            "when": _is_finalized,
            "help": "Only an unpaid invoice with no credit notes. The number stays used.",
        },
        "rerate": {
            "label": "Re-rate this month",
            "perm": "billing.change_invoice",
            "when": _is_draft,
        },
    }

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset.annotate(
            credited_sum=_sum_of(CreditNote), paid_sum=_sum_of(Payment)
        ).select_related("account")

    @admin.display(description="month", ordering="month")
    def month_label(self, invoice):
        return f"{invoice.month:%Y-%m}"

    @admin.display(description="credited")
    def credited(self, invoice):
        return invoice.credited_sum

    @admin.display(description="paid")
    def paid(self, invoice):
        return invoice.paid_sum

    @admin.display(description="amount due")
    def amount_due(self, invoice):
        if invoice.state != Invoice.State.FINALIZED:
            return ZERO
        return max(ZERO, invoice.total - invoice.credited_sum - invoice.paid_sum)

    @admin.display(description="total", ordering="total")
    def total_display(self, invoice):
        return display.money(invoice.total, invoice.currency)

    @admin.display(description="credited")
    def credited_display(self, invoice):
        return display.money(invoice.credited_sum, invoice.currency)

    @admin.display(description="paid")
    def paid_display(self, invoice):
        return display.money(invoice.paid_sum, invoice.currency)

    @admin.display(description="amount due")
    def amount_due_display(self, invoice):
        return display.money(self.amount_due(invoice), invoice.currency)

    @admin.display(description="billing details (snapshot at finalization)")
    def billing_details(self, invoice):
        return snapshot_fields(invoice.billing_snapshot)

    def action_summary(self, invoice):
        return [
            ("Account", invoice.account),
            ("Month", f"{invoice.month:%B %Y}"),
            ("State", invoice.get_state_display()),
            ("Total", display.money(invoice.total, invoice.currency)),
            ("Amount due", display.money(selectors.invoice_amount_due(invoice), invoice.currency)),
        ]

    # -- object actions ----------------------------------------------------------------------

    def adjust_view(self, request, object_id):
        def perform(request, invoice, data):
            finance.adjustment_add(
                invoice=invoice, amount=data["amount"], reason=data["reason"], actor=request.user
            )
            amount = display.money(data["amount"], invoice.currency)
            return f"Adjustment of {amount} added to {invoice}."

        return self._action_view(
            request,
            object_id,
            action="adjust",
            perm="billing.add_adjustment",
            form_class=AdjustmentForm,
            perform=perform,
        )

    def credit_note_view(self, request, object_id):
        def perform(request, invoice, data):
            note = finance.credit_note_issue(
                invoice=invoice, amount=data["amount"], reason=data["reason"], actor=request.user
            )
            return f"Credit note {note.number} of {note.amount} {note.currency} issued."

        return self._action_view(
            request,
            object_id,
            action="credit_note",
            perm="billing.add_creditnote",
            form_class=AmountReasonForm,
            perform=perform,
        )

    def payment_view(self, request, object_id):
        def perform(request, invoice, data):
            payment = finance.payment_record(
                account=invoice.account,
                currency=invoice.currency,
                amount=data["amount"],
                actor=request.user,
                invoice=invoice,
                reference=data["reference"],
                received_at=_received_at(data["received_on"]),
            )
            amount = display.money(payment.amount, payment.currency)
            return f"Payment of {amount} recorded on {invoice}."

        return self._action_view(
            request,
            object_id,
            action="payment",
            perm="billing.add_payment",
            form_class=PaymentForm,
            perform=perform,
        )

    def finalize_view(self, request, object_id):
        def perform(request, invoice, data):
            invoice = invoice_finalize(invoice=invoice, actor=request.user)
            total = display.money(invoice.total, invoice.currency)
            return f"Invoice {invoice.number} finalized: {total}."

        return self._action_view(
            request,
            object_id,
            action="finalize",
            perm="billing.change_invoice",
            form_class=ConfirmForm,
            perform=perform,
        )

    def void_view(self, request, object_id):
        def perform(request, invoice, data):
            finance.invoice_void(invoice=invoice, reason=data["reason"], actor=request.user)
            return f"Invoice {invoice.number} is void."

        return self._action_view(
            request,
            object_id,
            action="void",
            perm="billing.change_invoice",
            form_class=ReasonForm,
            perform=perform,
        )

    def rerate_view(self, request, object_id):
        """GET: the preview (every charge that changes, before and after, and the totals);
        POST with the preview's digest: apply exactly that."""
        invoice = get_object_or_404(self.get_queryset(request), pk=object_id)
        if not request.user.has_perm("billing.change_invoice"):
            raise PermissionDenied
        change_url = reverse("admin:billing_invoice_change", args=[invoice.pk])
        form = RerateConfirmForm(request.POST if request.method == "POST" else None)
        try:
            if request.method == "POST" and form.is_valid():
                result = finance.rerate_period(
                    invoice=invoice, actor=request.user, confirm=form.cleaned_data["confirm"]
                )
                self.message_user(
                    request,
                    f"Re-rated {invoice.month:%B %Y}: {len(result.changes)} charges changed.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(change_url)
            result = finance.rerate_period(invoice=invoice, actor=request.user)
        except BillingError as error:
            self.message_user(request, error.message, messages.ERROR)
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": invoice,
            "title": f"Re-rate {invoice.month:%B %Y}: {invoice.account}",
            "result": result,
            "form": RerateConfirmForm(initial={"confirm": result.digest}),
            "currencies": sorted(set(result.totals_before) | set(result.totals_after)),
        }
        return TemplateResponse(request, "admin/billing/rerate.html", context)

    # -- changelist actions ------------------------------------------------------------------

    def has_finance_permission(self, request):
        return request.user.has_perm("billing.change_invoice")

    @admin.action(description="Finalize the selected drafts now", permissions=["finance"])
    def finalize_selected(self, request, queryset):
        done, skipped = [], 0
        for invoice in queryset.order_by("pk"):
            if not invoice.is_draft:
                skipped += 1
                continue
            done.append(invoice_finalize(invoice=invoice, actor=request.user).number)
        if done:
            self.message_user(request, f"Finalized {', '.join(done)}.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                f"{skipped} selected invoices were not drafts; left as they are.",
                "warning",
            )

    @admin.action(description="Export the selected invoices as CSV", permissions=["view"])
    def export_csv(self, request, queryset):
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="invoices.csv"'
        writer = csv.writer(response)
        writer.writerow(CSV_COLUMNS)
        for invoice in queryset.order_by("month", "number", "pk"):
            writer.writerow(
                [
                    invoice.number or f"draft-{invoice.pk}",
                    invoice.account.name,
                    f"{invoice.month:%Y-%m}",
                    invoice.currency,
                    invoice.state,
                    invoice.total,
                    invoice.credited_sum,
                    invoice.paid_sum,
                    self.amount_due(invoice),
                    invoice.finalized_at.isoformat() if invoice.finalized_at else "",
                    invoice.due_date or "",
                ]
            )
        return response


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
    fields = ("item", "starts_on", "ends_on", _AMOUNT, "cut_on", money_column("credit_amount"))
    readonly_fields = fields
    show_change_link = False


class ResourcePackInline(ReadOnlyInline):
    model = ResourcePack
    fields = ("item", "units_total", "units_left", "valid_from", "valid_until", _AMOUNT)
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
                display.money_exact(c.amount, c.currency),
                c.explanation,
            )
            for c in charges
        ]
        return _table(["day", "item", "billable", "amount", "explanation"], rows)


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
        money_column("amount", exact=True),
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
        money_column("unit_price", "unit price", exact=True),
        "per_quantity",
        money_column("amount", exact=True),
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
        return _table(["metric", "dimension", "events", "sum of values", "distinct users"], rows)


@admin.register(UsageEvent)
class UsageEventAdmin(ReadOnlyAdmin):
    list_display = ("application", "event_id", "metric", "timestamp", "value", "dimension")
    list_filter = ("metric",)
    search_fields = ("=application__sdkappid", "=event_id")
    list_select_related = ("application",)
    show_full_result_count = False


# --------------------------------------------------------------------------------------------
# The price book
# --------------------------------------------------------------------------------------------


@admin.register(PriceEntry)
class PriceEntryAdmin(ActionViewsMixin, ReadOnlyAdmin):
    """A price is never edited: "New version" creates a row effective from a chosen date."""

    list_display = (
        "item",
        "price_book",
        "effective_from",
        money_column("unit_price", "unit price", currency="price_book.currency", exact=True),
        "per_quantity",
        "included_quantity",
        "deduction_ratio",
        "source",
    )
    list_filter = ("price_book", "source")
    search_fields = ("item__code", "item__name")
    list_select_related = ("item", "price_book")
    fields = (
        "item",
        "price_book",
        "effective_from",
        money_column("unit_price", "unit price", currency="price_book.currency", exact=True),
        "per_quantity",
        "included_quantity",
        "deduction_ratio",
        "validity_months",
        "source",
        "note",
        "created_by",
        "created_at",
    )
    readonly_fields = fields
    object_actions = {
        "revise": {
            "label": "New version of this price",
            "perm": "billing.add_priceentry",
            "when": lambda entry: True,
            "help": "Creates a new version from the date given; this one is kept as it is. "
            "Draft months already rated keep their charges until re-rated.",
            "initial": lambda entry: {
                "unit_price": entry.unit_price,
                "per_quantity": entry.per_quantity,
                "included_quantity": entry.included_quantity,
                "deduction_ratio": entry.deduction_ratio,
                "validity_months": entry.validity_months,
            },
        }
    }

    def action_summary(self, entry):
        per = f"{entry.per_quantity.normalize():f}"
        return [
            ("Item", f"{entry.item.name} ({entry.item.code})"),
            ("Price book", entry.price_book),
            ("Effective from", entry.effective_from),
            ("Price", f"{display.money_exact(entry.unit_price, entry.currency)} per {per}"),
        ]

    def revise_view(self, request, object_id):
        def perform(request, entry, data):
            values = {name: data[name] for name in finance.PRICE_FIELDS}
            created = finance.price_entry_revise(
                entry=entry,
                effective_from=data["effective_from"],
                note=data["note"],
                actor=request.user,
                **values,
            )
            return f"New price version from {created.effective_from}: {created.unit_price}."

        return self._action_view(
            request,
            object_id,
            action="revise",
            perm="billing.add_priceentry",
            form_class=PriceRevisionForm,
            perform=perform,
        )


# --------------------------------------------------------------------------------------------
# Documents around invoices, the audit trail, jobs
# --------------------------------------------------------------------------------------------


@admin.register(CreditNote)
class CreditNoteAdmin(ReadOnlyAdmin):
    list_display = ("number", "invoice", _AMOUNT, "created_by", "created_at")
    search_fields = ("number", "invoice__number", "invoice__account__name")
    list_select_related = ("invoice", "created_by")
    fields = ("number", "invoice", _AMOUNT, "reason", "created_by", "created_at")
    readonly_fields = fields


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ("received_at", "account", _AMOUNT, "invoice", "reference")
    list_filter = ("currency",)
    search_fields = ("reference", "account__name", "invoice__number")
    list_select_related = ("account", "invoice")
    fields = ("account", _AMOUNT, "received_at", "invoice", "reference", "recorded_by",
              "created_at")  # fmt: skip
    readonly_fields = fields


@admin.register(Adjustment)
class AdjustmentAdmin(ReadOnlyAdmin):
    list_display = ("invoice", money_column("amount", currency="invoice.currency"), "reason",
                    "created_by", "created_at")  # fmt: skip
    search_fields = ("reason", "invoice__account__name")
    list_select_related = ("invoice", "created_by")
    fields = ("invoice", money_column("amount", currency="invoice.currency"), "reason",
              "created_by", "created_at")  # fmt: skip
    readonly_fields = fields


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

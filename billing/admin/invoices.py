"""Invoices in the finance admin: lines, credit notes and payments as inlines, and the actions
that change money (each calls one service of ``billing.services.finance``)."""

import csv
import datetime as dt

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse

from billing import selectors
from billing.admin.actions import ActionViewsMixin
from billing.admin.base import MONEY_OUTPUT, ReadOnlyAdmin, ReadOnlyInline
from billing.admin.forms import (
    AdjustmentForm,
    AmountReasonForm,
    ConfirmForm,
    PaymentForm,
    ReasonForm,
    RerateConfirmForm,
    csv_text,
    received_at,
)
from billing.calendar import billing_today
from billing.errors import BillingError
from billing.models import (
    CreditNote,
    Invoice,
    InvoiceLine,
    Payment,
)
from billing.money import ZERO
from billing.services import finance
from billing.services.closing import invoice_finalize

# --------------------------------------------------------------------------------------------
# Invoices
# --------------------------------------------------------------------------------------------


class InvoiceLineInline(ReadOnlyInline):
    model = InvoiceLine
    fields = ("kind", "application", "description", "quantity", "unit_price", "amount")
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("application")


class CreditNoteInline(ReadOnlyInline):
    model = CreditNote
    fields = ("number", "amount", "currency", "reason", "created_by", "created_at")
    readonly_fields = fields
    show_change_link = False


class PaymentInline(ReadOnlyInline):
    model = Payment
    fields = ("amount", "currency", "received_at", "reference", "recorded_by")
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
        "total",
        "amount_due",
        "due_date",
    )
    list_filter = (MonthFilter, "state", "currency", OverdueFilter)
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
        "total",
        "credited",
        "paid",
        "amount_due",
        "finalized_at",
        "due_date",
        "paid_at",
        "voided_at",
        "void_reason",
        "billing_snapshot",
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

    def action_summary(self, invoice):
        return [
            ("Account", invoice.account),
            ("Month", f"{invoice.month:%B %Y}"),
            ("State", invoice.get_state_display()),
            ("Total", f"{invoice.total} {invoice.currency}"),
            ("Amount due", f"{selectors.invoice_amount_due(invoice)} {invoice.currency}"),
        ]

    # -- object actions ----------------------------------------------------------------------

    def adjust_view(self, request, object_id):
        def perform(request, invoice, data):
            finance.adjustment_add(
                invoice=invoice, amount=data["amount"], reason=data["reason"], actor=request.user
            )
            return f"Adjustment of {data['amount']} {invoice.currency} added to {invoice}."

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
                received_at=received_at(data["received_on"]),
            )
            return f"Payment of {payment.amount} {payment.currency} recorded on {invoice}."

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
            return f"Invoice {invoice.number} finalized: {invoice.total} {invoice.currency}."

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
                    csv_text(invoice.number or f"draft-{invoice.pk}"),
                    csv_text(invoice.account.name),
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

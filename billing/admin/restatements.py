"""Finance staff review restatements in the admin (SPEC 6, issue 17): late usage of closed
months, the lines before and after, and two actions, approve (with the digest of the version
shown) and reject (with a reason), each calling one service of
``billing.services.restatements`` that writes the audit record in the same transaction."""

from django import forms
from django.contrib import admin

from billing.admin.actions import ActionViewsMixin
from billing.admin.base import ReadOnlyAdmin, ReadOnlyInline
from billing.admin.forms import ReasonForm
from billing.errors import BillingError
from billing.models import Restatement, RestatementLine
from billing.services import restatements


class ApproveForm(forms.Form):
    digest = forms.CharField(widget=forms.HiddenInput)


class RestatementLineInline(ReadOnlyInline):
    model = RestatementLine
    fields = (
        "application",
        "item",
        "days",
        "quantity_before",
        "quantity_after",
        "amount_before",
        "amount_after",
        "difference",
        "explanation",
    )
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("application", "item")


def _is_pending(restatement: Restatement) -> bool:
    return restatement.state == Restatement.State.PENDING


@admin.register(Restatement)
class RestatementAdmin(ActionViewsMixin, ReadOnlyAdmin):
    list_display = (
        "__str__",
        "account",
        "month_label",
        "currency",
        "state",
        "late_events",
        "amount_before",
        "amount_after",
        "difference",
        "auto_approved",
        "computed_at",
    )
    list_filter = ("state", "currency", "month")
    search_fields = ("account__name",)
    list_select_related = ("account",)
    inlines = [RestatementLineInline]
    fields = (
        "account",
        "month",
        "currency",
        "state",
        "closed_invoice",
        "late_events",
        "amount_before",
        "amount_after",
        "difference",
        "digest",
        "computed_at",
        "auto_approved",
        "decided_by",
        "decided_at",
        "reason",
        "invoice",
        "credit_note",
    )
    readonly_fields = fields
    object_actions = {
        "approve": {
            "label": "Approve and bill the difference",
            "perm": "billing.change_restatement",
            "when": _is_pending,
            "initial": lambda restatement: {"digest": restatement.digest},
            "help": 'Bills exactly the lines shown: as lines "Late usage for <month>" on the '
            "running month's draft, or a credit note against the closed invoice when the "
            "difference is negative. If late usage arrived since, nothing is billed and the "
            "restatement is recomputed for a new review.",
        },
        "reject": {
            "label": "Reject",
            "perm": "billing.change_restatement",
            "when": _is_pending,
            "help": "Nothing is billed; the reason is kept in the audit trail.",
        },
    }

    @admin.display(description="month", ordering="month")
    def month_label(self, restatement):
        return f"{restatement.month:%Y-%m}"

    def action_summary(self, restatement):
        rows = [
            ("Account", restatement.account),
            ("Month", restatement.month_label),
            ("Closed invoice", restatement.closed_invoice or "none in this currency"),
            ("Late events", restatement.late_events),
        ]
        for line in restatement.lines.select_related("application", "item").order_by("sort_key"):
            rows.append(
                (
                    f"{line.item.name}, {line.application}",
                    f"{line.amount_before} -> {line.amount_after} {restatement.currency} "
                    f"(difference {line.difference}): {line.explanation}",
                )
            )
        rows.append(("Difference", f"{restatement.difference} {restatement.currency}"))
        return rows

    def approve_view(self, request, object_id):
        def perform(request, restatement, data):
            try:
                approved = restatements.restatement_approve(
                    restatement=restatement, digest=data["digest"], actor=request.user
                )
            except BillingError as error:  # the digest is hidden: show it above the form
                raise BillingError(error.message, code=error.code, field=None) from error
            if approved.credit_note_id:
                return f"Approved: credit note {approved.credit_note.number} issued."
            return (
                f"Approved: {approved.difference} {approved.currency} billed on the draft "
                f"{approved.invoice} as late usage for {approved.month_label}."
            )

        return self._action_view(
            request,
            object_id,
            action="approve",
            perm="billing.change_restatement",
            form_class=ApproveForm,
            perform=perform,
        )

    def reject_view(self, request, object_id):
        def perform(request, restatement, data):
            restatements.restatement_reject(
                restatement=restatement, reason=data["reason"], actor=request.user
            )
            return f"Rejected: nothing of {restatement} is billed."

        return self._action_view(
            request,
            object_id,
            action="reject",
            perm="billing.change_restatement",
            form_class=ReasonForm,
            perform=perform,
        )

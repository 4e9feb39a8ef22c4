from django.contrib import admin

from accounts.models import Account, ApiKey, Membership
from accounts.throttling import ThrottledAdminAuthenticationForm
from billing.admin import ReadOnlyInline
from billing.models import Application, Invoice
from billing.selectors import account_balances


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)


class ApplicationInline(ReadOnlyInline):
    model = Application
    fields = ("sdkappid", "name", "region", "status")
    readonly_fields = fields


class InvoiceInline(ReadOnlyInline):
    model = Invoice
    fields = ("number", "month", "currency", "state", "total", "due_date")
    readonly_fields = fields
    ordering = ("-month", "currency")


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    """Finance may correct an account's billing details; money is shown, never edited here."""

    list_display = ("name", "billing_email", "overdue_since", "created_at")
    list_filter = (("overdue_since", admin.EmptyFieldListFilter),)
    search_fields = ("name", "billing_email", "applications__sdkappid")
    fields = ("name", "billing_email", "billing_address", "balance", "overdue_since", "created_at")
    readonly_fields = ("balance", "overdue_since", "created_at")
    inlines = [MembershipInline, ApplicationInline, InvoiceInline]

    @admin.display(description="balance (payments + credits − invoiced)")
    def balance(self, account):
        balances = account_balances(account_id=account.pk)
        if not balances:
            return "0 (nothing invoiced or paid)"
        return ", ".join(f"{amount} {currency}" for currency, amount in balances.items())

    def has_delete_permission(self, request, obj=None):
        return False  # an account holds invoices and payments


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("prefix", "account", "is_service", "name", "created_at", "revoked_at")
    list_filter = ("is_service",)
    search_fields = ("prefix", "account__name")
    list_select_related = ("account",)
    readonly_fields = (
        "prefix",
        "key_hash",
        "account",
        "is_service",
        "created_by",
        "created_at",
        "last_used_at",
    )

    def has_add_permission(self, request):
        return False  # keys are created by create_api_key or the portal, shown once

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the prefix stays traceable


# The admin's login form counts failures and locks out like the portal's (issue 4, issue 5).
admin.site.login_form = ThrottledAdminAuthenticationForm


def _admin_login_answering_429(request, extra_context=None, _login=admin.site.login):
    """The admin's login view, answering 429 Too Many Requests while locked out (README,
    "Reliability": the portal's login does the same)."""
    response = _login(request, extra_context)
    form = (getattr(response, "context_data", None) or {}).get("form")
    if getattr(form, "locked_out", False):
        response.status_code = 429
    return response


admin.site.login = _admin_login_answering_429

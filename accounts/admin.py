from django.contrib import admin

from accounts.models import Account, ApiKey, Membership
from accounts.throttling import ThrottledAdminAuthenticationForm


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ("name", "billing_email", "overdue_since", "created_at")
    list_filter = ("overdue_since",)
    search_fields = ("name", "billing_email")
    readonly_fields = ("overdue_since",)
    inlines = [MembershipInline]

    def has_delete_permission(self, request, obj=None):
        return False  # an account holds invoices and payments


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("prefix", "account", "is_service", "name", "created_at", "revoked_at")
    list_filter = ("is_service",)
    search_fields = ("prefix", "account__name")
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


# The admin's login form counts failures and locks out like the portal's (issue 4, issue 5).
admin.site.login_form = ThrottledAdminAuthenticationForm

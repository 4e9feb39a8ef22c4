"""Who may manage webhooks and alerts, and read entitlements: the one place to adapt when
roles and key scopes land (issue 19: managing them becomes an owner/billing-role action)."""

from rest_framework.permissions import BasePermission

from billing.api.authentication import is_account_key, is_service_key


def portal_may_manage(*, user, account) -> bool:
    """A portal user may manage the account's webhook endpoints and alerts. Today: any
    member (issue 19 narrows this to the owner and billing roles)."""
    return account.memberships.filter(user=user).exists()


class WebhookManager(BasePermission):
    """Webhook endpoints: an account key (its account's endpoints) or a service key (the
    platform's endpoints, for application.entitlements_changed of every application)."""

    message = "Webhook endpoints are managed with an account key or a service key."

    def has_permission(self, request, view) -> bool:
        return is_account_key(request) or is_service_key(request)


class AlertManager(BasePermission):
    message = "Alerts are managed with an account key."

    def has_permission(self, request, view) -> bool:
        return is_account_key(request)


class EntitlementsReader(BasePermission):
    """Service keys (any application) and the owning account's keys (404 for others)."""

    message = "Entitlements are read with a service key or the owning account's key."

    def has_permission(self, request, view) -> bool:
        return is_account_key(request) or is_service_key(request)

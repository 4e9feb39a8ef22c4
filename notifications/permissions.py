"""Who may manage webhooks and alerts, and read entitlements: the one place to adapt when
roles and key scopes land (issue 19: managing them becomes an owner/billing-role action)."""

from django.core.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission

from accounts import permissions as policy
from billing.api.authentication import is_account_key, is_service_key


def portal_managed_account_ids(*, user) -> list[int]:
    """The accounts whose webhook endpoints and alerts the portal user manages: those where
    their role allows ``alerts.manage`` (owner, billing; accounts/permissions.py). A member of
    accounts none of which allows it is refused with 403 naming the role needed."""
    allowed = policy.accounts_allowing(user=user, action="alerts.manage")
    roles = policy.roles_by_account(user=user)
    if roles and not allowed:
        raise PermissionDenied(policy.role_refusal("alerts.manage", next(iter(roles.values()))))
    return allowed


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

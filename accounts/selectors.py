"""Reads about accounts and keys, always scoped to the user asking."""

from django.db.models import QuerySet

from accounts import permissions
from accounts.models import ApiKey


def api_keys_for_user(*, user) -> QuerySet[ApiKey]:
    """The keys of every account the user belongs to (never service keys), active first."""
    return (
        ApiKey.objects.filter(account__memberships__user=user, is_service=False)
        .select_related("account", "created_by")
        .order_by("revoked_at", "-created_at", "-pk")
    )


def may_edit_billing_profile(*, user, account) -> bool:
    """Who may change an account's billing profile: the roles the access policy allows
    (owner and billing)."""
    role = permissions.membership_role(user=user, account_id=account.pk)
    return permissions.role_allows(role, "billing_profile.write")

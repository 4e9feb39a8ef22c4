"""Reads about accounts and keys, always scoped to the user asking."""

from django.db.models import QuerySet

from accounts.models import ApiKey, Membership


def api_keys_for_user(*, user) -> QuerySet[ApiKey]:
    """The keys of every account the user belongs to (never service keys), active first."""
    return (
        ApiKey.objects.filter(account__memberships__user=user, is_service=False)
        .select_related("account", "created_by")
        .order_by("revoked_at", "-created_at", "-pk")
    )


def may_edit_billing_profile(*, user, account) -> bool:
    """Who may change an account's billing profile: its owner. (Issue 19's roles widen this
    to the billing role here, in one place.)"""
    return Membership.objects.filter(
        user=user, account=account, role=Membership.Role.OWNER
    ).exists()

"""Reads that are more than a lookup. Views, the API and the admin call these."""

from django.db.models import QuerySet

from billing.models import Application


def applications_for_user(*, user) -> QuerySet[Application]:
    """The applications of every account the user is a member of."""
    return (
        Application.objects.filter(account__memberships__user=user)
        .select_related("account")
        .order_by("account__name", "sdkappid")
    )

"""Reads of the API: every queryset is scoped to what the caller may see."""

import datetime as dt

from django.db.models import (
    Case,
    CharField,
    Count,
    Max,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)

from billing.models import (
    AddOnSubscription,
    Application,
    Charge,
    CreditNote,
    EditionPeriod,
    Invoice,
    InvoiceLine,
    Metric,
    Payment,
    ResourcePack,
    UsageEvent,
)
from billing.parsing import is_ascii_digits


def invoices_visible(*, account_id: int | None) -> QuerySet[Invoice]:
    """An account key sees its account's invoices; staff (account_id None) see all."""
    invoices = Invoice.objects.all()
    if account_id is not None:
        invoices = invoices.filter(account_id=account_id)
    return invoices


def invoice_by_reference(*, account_id: int | None, reference: str) -> Invoice | None:
    """An invoice by its number, or by its id (drafts have no number yet), with its lines."""
    invoices = invoices_visible(account_id=account_id).prefetch_related(
        Prefetch(
            "lines",
            queryset=InvoiceLine.objects.select_related("application", "item").order_by(
                "sort_key", "id"
            ),
        ),
        Prefetch("credit_notes", queryset=CreditNote.objects.order_by("created_at", "id")),
        Prefetch(
            "payments",
            queryset=Payment.objects.select_related("invoice").order_by("received_at", "id"),
        ),
    )
    if is_ascii_digits(reference):  # "١٤" and "²" are not ids (str.isdigit() says they are)
        if len(reference) > 18:
            return None
        return invoices.filter(pk=int(reference)).first()
    return invoices.filter(number=reference).first()


def applications_of_account(*, account_id: int, today: dt.date) -> QuerySet[Application]:
    """The account's applications, each annotated with its edition today and a scheduled
    change (a downgrade waits for the end of the term), in one query."""
    periods = EditionPeriod.objects.filter(application=OuterRef("pk"))
    current = periods.filter(starts_on__lte=today).order_by("-starts_on")
    scheduled = periods.filter(starts_on__gt=today).order_by("starts_on")
    return Application.objects.filter(account_id=account_id).annotate(
        edition=Subquery(current.values("edition__code")[:1]),
        scheduled_edition=Subquery(scheduled.values("edition__code")[:1]),
        scheduled_starts_on=Subquery(scheduled.values("starts_on")[:1]),
    )


def addon_subscriptions_of(*, application: Application) -> QuerySet[AddOnSubscription]:
    return AddOnSubscription.objects.filter(application=application).select_related("addon", "item")


def resource_packs_of(*, application: Application) -> QuerySet[ResourcePack]:
    return ResourcePack.objects.filter(application=application).select_related("item")


def charges_of(*, application: Application) -> QuerySet[Charge]:
    return Charge.objects.filter(application=application).select_related("item")


def usage_events_of(*, application: Application) -> QuerySet[UsageEvent]:
    return UsageEvent.objects.filter(application=application)


def usage_by_day(events: QuerySet[UsageEvent]) -> QuerySet:
    """Per billing day, metric and (video) resolution: the number of events and the quantity
    as SPEC 7 aggregates it: distinct users for im.login, the highest count for
    im.group_count, the sum otherwise. One GROUP BY query; rows are dicts."""
    resolution = Case(
        When(metric=Metric.TRTC_VIDEO_SECONDS, then="dimension"),
        default=Value(None),
        output_field=CharField(),
    )
    return events.values("billing_day", "metric", resolution=resolution).annotate(
        events=Count("id"),
        total=Sum("value"),
        peak=Max("value"),
        users=Count("dimension", distinct=True),
    )


def usage_quantity(row: dict):
    if row["metric"] == Metric.IM_LOGIN:
        return row["users"]
    if row["metric"] == Metric.IM_GROUP_COUNT:
        return row["peak"]
    return row["total"]

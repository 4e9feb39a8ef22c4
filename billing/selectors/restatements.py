"""Reads about late usage of closed months and its restatements (SPEC 6, 7): what finance
staff review, and what a customer sees of the late usage received for a closed month."""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Max, Min, QuerySet, Sum

from billing.calendar import month_end, month_start
from billing.models import (
    Application,
    Invoice,
    InvoiceLine,
    Metric,
    PriceBook,
    Restatement,
    RestatementLine,
    UsageEvent,
)
from billing.rating.text import qty

# What a customer reads for each metric's late quantity (SPEC 7 units).
METRIC_LABELS = {
    Metric.IM_LOGIN: ("IM logins", "logins"),
    Metric.IM_GROUP_COUNT: ("IM group count reports", "reports"),
    Metric.IM_MODERATION_TEXT: ("Moderated texts", "messages"),
    Metric.IM_MODERATION_IMAGE: ("Moderated images", "images"),
    Metric.IM_MODERATION_AUDIO_SECONDS: ("Moderated audio", "seconds"),
    Metric.IM_MODERATION_VIDEO_SECONDS: ("Moderated video", "seconds"),
    Metric.TRTC_AUDIO_SECONDS: ("TRTC audio", "seconds"),
    Metric.TRTC_VIDEO_SECONDS: ("TRTC video", "seconds"),
    Metric.TRTC_AI_SECONDS: ("Conversational AI", "seconds"),
    Metric.TRTC_STT_SECONDS: ("Speech-to-text", "seconds"),
}


def pending_restatements() -> QuerySet[Restatement]:
    """Restatements waiting for finance staff, oldest month first (the admin home, the API)."""
    return (
        Restatement.objects.filter(state=Restatement.State.PENDING)
        .select_related("account", "closed_invoice")
        .order_by("month", "account__name", "currency", "pk")
    )


def restatements_list(*, state: str | None = None) -> QuerySet[Restatement]:
    restatements = Restatement.objects.select_related("account", "closed_invoice", "invoice")
    if state:
        restatements = restatements.filter(state=state)
    return restatements.order_by("-pk")


def restatement_lines(restatement: Restatement) -> list[RestatementLine]:
    return list(restatement.lines.select_related("application", "item").order_by("sort_key", "pk"))


@dataclass(frozen=True)
class LateEventGroup:
    """Late events of one application, metric and dimension (user or resolution aside)."""

    application_id: int
    metric: str
    currency: str
    events: int
    last_event_id: int
    total: Decimal
    first_day: dt.date
    last_day: dt.date


def _currency_of(region_products: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """(region, product code) -> the currency of that price book (SPEC 2)."""
    regions = {region for region, _ in region_products}
    return {
        (region, product): currency
        for region, product, currency in PriceBook.objects.filter(region__in=regions).values_list(
            "region", "product__code", "currency"
        )
    }


def late_event_groups(*, account_id: int, month: dt.date) -> list[LateEventGroup]:
    """The late events of an account's closed month (accepted after it was finalized), per
    application and metric, with the currency they bill in, in one GROUP BY."""
    first = month_start(month)
    rows = list(
        UsageEvent.objects.filter(
            application__account_id=account_id,
            billing_day__range=(first, month_end(first)),
            late=True,
        )
        .values_list("application_id", "application__region", "metric")
        .annotate(
            events=Count("id"),
            last=Max("id"),
            total=Sum("value"),
            first_day=Min("billing_day"),
            last_day=Max("billing_day"),
        )
        .order_by("application_id", "metric")
    )
    currencies = _currency_of({(region, metric.split(".")[0]) for _, region, metric, *_ in rows})
    return [
        LateEventGroup(
            application_id=application_id,
            metric=metric,
            currency=currencies.get((region, metric.split(".")[0]), ""),
            events=events,
            last_event_id=last,
            total=total,
            first_day=first_day,
            last_day=last_day,
        )
        for application_id, region, metric, events, last, total, first_day, last_day in rows
    ]


@dataclass
class LateUsageRow:
    application: Application
    metric: str
    label: str
    quantity: str  # "1,200 seconds"
    events: int


@dataclass
class LateUsage:
    """What a customer sees on a closed invoice: the late usage received for its month, and
    what became of it (under review, billed on a later invoice, or not billed)."""

    month: dt.date
    rows: list[LateUsageRow] = field(default_factory=list)
    restatements: list[Restatement] = field(default_factory=list)
    billed_lines: list[InvoiceLine] = field(default_factory=list)

    @property
    def status(self) -> str:
        states = {r.state for r in self.restatements}
        if Restatement.State.PENDING in states or not self.restatements:
            return "under review"
        if states == {Restatement.State.REJECTED}:
            return "not billed"
        return "billed"


def late_usage_for_invoice(*, invoice: Invoice) -> LateUsage | None:
    """The late usage of a closed invoice's month in its currency, for its customer; None
    for a draft or when none arrived."""
    if invoice.is_draft:
        return None
    groups = [
        group
        for group in late_event_groups(account_id=invoice.account_id, month=invoice.month)
        if group.currency == invoice.currency
    ]
    if not groups:
        return None
    applications = Application.objects.in_bulk({group.application_id for group in groups})
    rows = []
    for group in groups:
        label, unit = METRIC_LABELS.get(group.metric, (group.metric, "units"))
        rows.append(
            LateUsageRow(
                application=applications[group.application_id],
                metric=group.metric,
                label=label,
                quantity=f"{qty(group.total)} {unit}",
                events=group.events,
            )
        )
    restatements = list(
        Restatement.objects.filter(
            account_id=invoice.account_id, currency=invoice.currency, month=invoice.month
        )
        .select_related("invoice", "credit_note")
        .order_by("pk")
    )
    billed = list(
        InvoiceLine.objects.filter(
            restatement__in=[r for r in restatements if r.state == Restatement.State.APPROVED]
        )
        .select_related("invoice")
        .order_by("invoice__month", "sort_key", "pk")
    )
    return LateUsage(month=invoice.month, rows=rows, restatements=restatements, billed_lines=billed)

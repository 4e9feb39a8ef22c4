"""Usage as it arrives: what the raw events of the days not rated yet add up to.

Rating runs the day after (SPEC 3), so today's usage has no charge yet. These reads aggregate
the accepted events themselves, the way the rating rules will (SPEC 7: distinct users for
``im.login``, the day's highest ``im.group_count``, the sum of every other metric), and say
that nothing of it is rated. The application page and ``GET /api/v1/applications/{sdkappid}/
usage`` show it; alerts (issue 16) can call ``unrated_usage`` for an application's usage so
far today.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Case, CharField, Count, Max, QuerySet, Sum, Value, When

from billing.calendar import billing_today
from billing.models import Metric, RatedDay, UsageEvent

# How a metric reads for people: its unit, and the quantity's wording.
METRIC_TEXT = {
    Metric.IM_LOGIN: ("Daily active users", "user"),
    Metric.IM_GROUP_COUNT: ("Groups (highest count)", "group"),
    Metric.IM_MODERATION_TEXT: ("Moderated text messages", "message"),
    Metric.IM_MODERATION_IMAGE: ("Moderated images", "image"),
    Metric.IM_MODERATION_AUDIO_SECONDS: ("Moderated audio", "second"),
    Metric.IM_MODERATION_VIDEO_SECONDS: ("Moderated video", "second"),
    Metric.TRTC_AUDIO_SECONDS: ("TRTC audio", "second"),
    Metric.TRTC_VIDEO_SECONDS: ("TRTC video", "second"),
    Metric.TRTC_AI_SECONDS: ("TRTC AI", "second"),
    Metric.TRTC_STT_SECONDS: ("TRTC speech to text", "second"),
}
UNRATED_WINDOW_DAYS = 7  # how far back unrated days are looked for


def usage_by_day(events: QuerySet[UsageEvent]) -> QuerySet:
    """Per billing day, metric and (video) resolution: the number of events and the quantity
    as SPEC 7 aggregates it. One GROUP BY query; rows are dicts (``usage_quantity`` reads
    one)."""
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


def rated_days(*, application_id: int, days: set[dt.date]) -> set[dt.date]:
    """Which of ``days`` are rated (and not made stale by a late event) for the application."""
    if not days:
        return set()
    return set(
        RatedDay.objects.filter(
            application_id=application_id, day__in=days, state=RatedDay.State.RATED
        ).values_list("day", flat=True)
    )


@dataclass
class UnratedUsage:
    day: dt.date
    metric: str
    label: str
    resolution: str | None
    events: int
    quantity: Decimal
    unit: str


def unrated_usage(*, application_id: int, today: dt.date | None = None) -> list[UnratedUsage]:
    """The usage of the application's days not rated yet (today's always, the days after the
    last rated one, days a late event made stale) within the last week, newest day first: two
    queries."""
    today = today or billing_today()
    since = today - dt.timedelta(days=UNRATED_WINDOW_DAYS)
    events = UsageEvent.objects.filter(
        application_id=application_id, billing_day__range=(since, today)
    )
    # Days after the last rated one (today, and yesterday until the job ran), and days a late
    # event made stale.
    states = dict(
        RatedDay.objects.filter(
            application_id=application_id, day__range=(since, today)
        ).values_list("day", "state")
    )
    last_rated = max((d for d, s in states.items() if s == RatedDay.State.RATED), default=None)
    rows = list(usage_by_day(events).order_by("-billing_day", "metric", "resolution"))
    result = []
    for row in rows:
        day = row["billing_day"]
        fresh = last_rated is None or day > last_rated
        if not (fresh or states.get(day) == RatedDay.State.STALE):
            continue
        label, unit = METRIC_TEXT.get(row["metric"], (row["metric"], ""))
        if row["resolution"]:
            label = f"{label}, {row['resolution'].upper()}"
        result.append(
            UnratedUsage(
                day=row["billing_day"],
                metric=row["metric"],
                label=label,
                resolution=row["resolution"],
                events=row["events"],
                quantity=Decimal(usage_quantity(row) or 0),
                unit=unit,
            )
        )
    return result

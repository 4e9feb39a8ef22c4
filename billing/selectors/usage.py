"""Usage aggregation: the GROUP BY queries over the usage table that rating, estimates and
the charge pages read (a billing day, a month's DAU and groups, what a charge was rated from),
and what earlier days left of packs and the free allowance."""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Max, Q, Sum
from django.db.models.functions import ExtractHour

from billing.calendar import billing_tz, month_end, month_start
from billing.models import (
    AddOn,
    AddOnSubscription,
    Charge,
    ChargeCoverage,
    Metric,
    ResourcePack,
    UsageEvent,
)
from billing.money import ZERO
from billing.rating.im_overage import DayMeasure
from billing.rating.types import PackBalance
from billing.selectors.editions import PeriodRow, edition_periods_by_application, period_covering

MODERATION_COUNT_METRICS = {
    Metric.IM_MODERATION_TEXT: "text",
    Metric.IM_MODERATION_IMAGE: "image",
}


MODERATION_TIMED_METRICS = {
    Metric.IM_MODERATION_AUDIO_SECONDS: "audio",
    Metric.IM_MODERATION_VIDEO_SECONDS: "video",
}


TRTC_SIMPLE_METRICS = {
    Metric.TRTC_AUDIO_SECONDS: "trtc.audio",
    Metric.TRTC_AI_SECONDS: "trtc.ai",
    Metric.TRTC_STT_SECONDS: "trtc.stt",
}


@dataclass
class DayUsage:
    """One application's aggregated usage of one billing day."""

    moderation_counts: dict[str, Decimal] = field(default_factory=dict)
    moderation_seconds: dict[str, dict[int, Decimal]] = field(
        default_factory=lambda: {"audio": {}, "video": {}}
    )
    trtc_seconds: dict[str, Decimal] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not (
            any(self.moderation_counts.values())
            or any(any(hours.values()) for hours in self.moderation_seconds.values())
            or any(self.trtc_seconds.values())
        )


def aggregate_day(application_ids: list[int], day: dt.date) -> dict[int, DayUsage]:
    """Two GROUP BY queries over the day's events of the given applications."""
    usage: dict[int, DayUsage] = defaultdict(DayUsage)
    events = UsageEvent.objects.filter(application_id__any=application_ids, billing_day=day)
    simple = (
        events.filter(
            metric__in=[*MODERATION_COUNT_METRICS, *TRTC_SIMPLE_METRICS, Metric.TRTC_VIDEO_SECONDS]
        )
        .values_list("application_id", "metric", "dimension")
        .annotate(total=Sum("value"))
        .order_by()
    )
    for application_id, metric, dimension, total in simple:
        day_usage = usage[application_id]
        if metric in MODERATION_COUNT_METRICS:
            day_usage.moderation_counts[MODERATION_COUNT_METRICS[metric]] = total
        elif metric == Metric.TRTC_VIDEO_SECONDS:
            day_usage.trtc_seconds[f"trtc.video.{dimension}"] = total
        else:
            day_usage.trtc_seconds[TRTC_SIMPLE_METRICS[metric]] = total
    # SPEC 4.4: audio and video seconds are added up per clock hour of the billing time zone.
    timed = (
        events.filter(metric__in=list(MODERATION_TIMED_METRICS))
        .annotate(hour=ExtractHour("timestamp", tzinfo=billing_tz()))
        .values_list("application_id", "metric", "hour")
        .annotate(seconds=Sum("value"))
        .order_by()
    )
    for application_id, metric, hour, seconds in timed:
        usage[application_id].moderation_seconds[MODERATION_TIMED_METRICS[metric]][hour] = seconds
    return usage


@dataclass
class DayInputs:
    """What rating one application's day reads besides its usage: the packs valid on the day
    with what earlier days left of them (per ``covers``), and the free allowance minutes
    earlier days of the month used."""

    packs: dict[str, list[PackBalance]] = field(default_factory=dict)
    allowance_used: Decimal = ZERO


def _pack_balances(application_ids: list[int], day: dt.date) -> dict[tuple, list[PackBalance]]:
    """Packs valid on ``day`` with what earlier days left of them, per (application, covers),
    each list in the order application, valid_until, id."""
    packs = (
        ResourcePack.objects.filter(
            application_id__any=application_ids, valid_from__lte=day, valid_until__gte=day
        )
        .annotate(
            used=Sum("chargecoverage__units_used", filter=Q(chargecoverage__charge__day__lt=day))
        )
        .order_by("application_id", "valid_until", "id")
    )
    balances: dict[tuple, list[PackBalance]] = defaultdict(list)
    for pack in packs:
        left = pack.units_total - (pack.used or ZERO)
        if left > 0:
            balances[(pack.application_id, pack.covers)].append(
                PackBalance(pack.pk, left, pack.valid_until)
            )
    return balances


def _allowance_used(application_ids: list[int], day: dt.date) -> dict[int, Decimal]:
    """Free allowance minutes used by the days of ``day``'s month before it."""
    rows = (
        ChargeCoverage.objects.filter(
            charge__application_id__any=application_ids,
            charge__day__gte=month_start(day),
            charge__day__lt=day,
            source=ChargeCoverage.Source.ALLOWANCE,
        )
        .values("charge__application_id")
        .annotate(used=Sum("units_used"))
        .order_by()
    )
    return {row["charge__application_id"]: row["used"] or ZERO for row in rows}


def day_inputs(application_ids: list[int], day: dt.date) -> dict[int, DayInputs]:
    """``DayInputs`` of many applications in two queries."""
    balances = _pack_balances(application_ids, day)
    used = _allowance_used(application_ids, day)
    inputs = {pk: DayInputs(allowance_used=used.get(pk, ZERO)) for pk in application_ids}
    for (application_id, covers), packs in balances.items():
        inputs[application_id].packs[covers] = packs
    return inputs


def month_measures(
    application_ids: list[int],
    first: dt.date,
    last: dt.date,
    periods: dict[int, list[PeriodRow]] | None = None,
) -> dict[int, list[DayMeasure]]:
    """Per application: DAU (distinct users) and peak group count per day, with that day's
    edition, in one GROUP BY."""
    rows = (
        UsageEvent.objects.filter(
            application_id__any=application_ids,
            billing_day__range=(first, last),
            metric__in=[Metric.IM_LOGIN, Metric.IM_GROUP_COUNT],
        )
        .values("application_id", "billing_day")
        .annotate(
            dau=Count("dimension", distinct=True, filter=Q(metric=Metric.IM_LOGIN)),
            groups=Max("value", filter=Q(metric=Metric.IM_GROUP_COUNT)),
        )
        .order_by("application_id", "billing_day")
    )
    if periods is None:
        periods = edition_periods_by_application(application_ids)
    measures: dict[int, list[DayMeasure]] = defaultdict(list)
    for row in rows:
        period = period_covering(periods.get(row["application_id"], []), row["billing_day"])
        if period is not None:
            measures[row["application_id"]].append(
                DayMeasure(
                    row["billing_day"],
                    period.edition.code,
                    row["dau"] or 0,
                    int(row["groups"] or 0),
                )
            )
    return measures


def postpaid_subscriptions(
    application_ids: list[int], first: dt.date, last: dt.date
) -> dict[int, list[AddOnSubscription]]:
    """Postpaid add-ons (message history) running at some point between first and last."""
    found: dict[int, list[AddOnSubscription]] = {pk: [] for pk in application_ids}
    subscriptions = (
        AddOnSubscription.objects.filter(
            application_id__any=application_ids,
            addon__billing=AddOn.Billing.POSTPAID,
            starts_on__lte=last,
        )
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=first))
        .select_related("item")
    )
    for subscription in subscriptions:
        found[subscription.application_id].append(subscription)
    return found


# Which metrics (and which dimension) each billable item is rated from (SPEC 4, 7).
_ITEM_METRICS: dict[str, tuple[list[str], str | None]] = {
    "im.moderation.unit": (
        [
            "im.moderation.text",
            "im.moderation.image",
            "im.moderation.audio_seconds",
            "im.moderation.video_seconds",
        ],
        None,
    ),
    "trtc.audio": (["trtc.audio_seconds"], None),
    "trtc.ai": (["trtc.ai_seconds"], None),
    "trtc.stt": (["trtc.stt_seconds"], None),
}


def charge_usage_aggregate(charge) -> list[dict]:
    """The usage events behind a charge, aggregated as the job aggregated them: per metric and
    dimension, the number of events, the sum of their values and the distinct users. A daily
    charge reads its day; a monthly one (IM overage) its whole month."""
    from django.db.models import Count

    from billing.models import UsageEvent

    code = charge.item.code
    if code.startswith("trtc.video."):
        metrics, dimension = ["trtc.video_seconds"], code.removeprefix("trtc.video.")
    elif code.startswith("im.overage.dau."):
        metrics, dimension = ["im.login"], None
    elif code.startswith("im.overage.groups."):
        metrics, dimension = ["im.group_count"], None
    else:
        metrics, dimension = _ITEM_METRICS.get(code, ([], None))
    if not metrics:
        return []
    events = UsageEvent.objects.filter(application_id=charge.application_id, metric__in=metrics)
    if charge.period == Charge.Period.MONTH:
        events = events.filter(billing_day__range=(charge.day, month_end(charge.day)))
    else:
        events = events.filter(billing_day=charge.day)
    if dimension is not None:
        events = events.filter(dimension=dimension)
    # A login's dimension is its user: counted distinct, not grouped by.
    group = ["metric"] if metrics == ["im.login"] else ["metric", "dimension"]
    rows = (
        events.values(*group)
        .annotate(events=Count("id"), total=Sum("value"), users=Count("dimension", distinct=True))
        .order_by(*group)
    )
    return [{"dimension": "", **row} for row in rows]

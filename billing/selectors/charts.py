"""Usage charts of the portal: daily usage of one application, measured as billing measures it."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Max, Q, Sum
from django.db.models.functions import ExtractHour

from billing import catalog
from billing.calendar import billing_today, billing_tz
from billing.models import (
    Application,
    BillableItem,
    Metric,
)
from billing.money import ZERO
from billing.rating.moderation import counted_minutes
from billing.rating.trtc import seconds_to_minutes


@dataclass
class ChartSeries:
    label: str
    values: list[Decimal | None]  # one per day; None: nothing reported that day

    @property
    def total(self) -> Decimal:
        return sum((v for v in self.values if v is not None), ZERO)

    @property
    def peak(self) -> Decimal:
        return max((v for v in self.values if v is not None), default=ZERO)


@dataclass
class UsageChart:
    key: str
    title: str
    unit: str
    kind: str  # "line" (levels: DAU, groups) or "bar" (quantities: minutes, units)
    series: list[ChartSeries]
    summary: str  # "peak" for levels, "total" for quantities

    @property
    def has_data(self) -> bool:
        return any(v for s in self.series for v in s.values)

    def window(self, days: int) -> "UsageChart":
        """The same chart over its last ``days`` days."""
        return UsageChart(
            self.key,
            self.title,
            self.unit,
            self.kind,
            [ChartSeries(s.label, s.values[-days:]) for s in self.series],
            self.summary,
        )


@dataclass
class UsageSeries:
    days: list[dt.date]
    charts: list[UsageChart]

    def window(self, days: int) -> "UsageSeries":
        return UsageSeries(self.days[-days:], [chart.window(days) for chart in self.charts])


MODERATION_TYPES = [
    # (metric, type, label): SPEC 4.4, in the order packs cover them.
    (Metric.IM_MODERATION_TEXT, "text", "Text"),
    (Metric.IM_MODERATION_IMAGE, "image", "Images"),
    (Metric.IM_MODERATION_AUDIO_SECONDS, "audio", "Audio"),
    (Metric.IM_MODERATION_VIDEO_SECONDS, "video", "Video"),
]


def usage_series(
    *, application: Application, days: int = 90, today: dt.date | None = None
) -> UsageSeries:
    """Daily usage of one application over the ``days`` complete billing days ending
    yesterday (today is still running: its DAU or minutes so far would read as a drop), per
    metric of
    SPEC 7, measured as billing measures it: DAU is distinct users who logged in, groups the
    highest count reported, TRTC minutes per category and Conversational AI and speech-to-text
    minutes are the day's seconds turned into minutes rounded up, moderation units follow the
    30-second rule per clock hour and the region's units per item. Three GROUP BY queries."""
    last = (today or billing_today()) - dt.timedelta(days=1)
    first = last - dt.timedelta(days=days - 1)
    day_list = [first + dt.timedelta(days=n) for n in range(days)]
    index = {day: n for n, day in enumerate(day_list)}
    events = application.usageevent_set.filter(billing_day__range=(first, last))

    dau: list[Decimal | None] = [ZERO] * days
    groups: list[Decimal | None] = [None] * days
    levels = (
        events.filter(metric__in=[Metric.IM_LOGIN, Metric.IM_GROUP_COUNT])
        .values("billing_day")
        .annotate(
            dau=Count("dimension", distinct=True, filter=Q(metric=Metric.IM_LOGIN)),
            groups=Max("value", filter=Q(metric=Metric.IM_GROUP_COUNT)),
        )
        .order_by()
    )
    for row in levels:
        n = index[row["billing_day"]]
        dau[n] = Decimal(row["dau"] or 0)
        groups[n] = row["groups"]

    trtc_items = {
        item.code: item
        for item in BillableItem.objects.filter(product__code="trtc", kind="usage").order_by(
            "sort_order"
        )
    }
    minutes: dict[str, list[Decimal | None]] = {
        code: [ZERO] * days for code in trtc_items if code.startswith("trtc.")
    }
    counts: dict[str, list[Decimal]] = {"text": [ZERO] * days, "image": [ZERO] * days}
    summed = (
        events.filter(
            metric__in=[
                Metric.TRTC_AUDIO_SECONDS,
                Metric.TRTC_VIDEO_SECONDS,
                Metric.TRTC_AI_SECONDS,
                Metric.TRTC_STT_SECONDS,
                Metric.IM_MODERATION_TEXT,
                Metric.IM_MODERATION_IMAGE,
            ]
        )
        .values("billing_day", "metric", "dimension")
        .annotate(total=Sum("value"))
        .order_by()
    )
    trtc_code = {
        Metric.TRTC_AUDIO_SECONDS: "trtc.audio",
        Metric.TRTC_AI_SECONDS: "trtc.ai",
        Metric.TRTC_STT_SECONDS: "trtc.stt",
    }
    for row in summed:
        n = index[row["billing_day"]]
        metric = row["metric"]
        if metric == Metric.IM_MODERATION_TEXT:
            counts["text"][n] += row["total"]
        elif metric == Metric.IM_MODERATION_IMAGE:
            counts["image"][n] += row["total"]
        else:
            code = trtc_code.get(metric) or f"trtc.video.{row['dimension']}"
            if code in minutes:
                minutes[code][n] += seconds_to_minutes(row["total"])

    # SPEC 4.4: audio and video seconds count per clock hour of the billing time zone.
    timed_minutes: dict[str, list[Decimal]] = {"audio": [ZERO] * days, "video": [ZERO] * days}
    hourly = (
        events.filter(
            metric__in=[Metric.IM_MODERATION_AUDIO_SECONDS, Metric.IM_MODERATION_VIDEO_SECONDS]
        )
        .annotate(hour=ExtractHour("timestamp", tzinfo=billing_tz()))
        .values("billing_day", "metric", "hour")
        .annotate(seconds=Sum("value"))
        .order_by()
    )
    for row in hourly:
        kind = "audio" if row["metric"] == Metric.IM_MODERATION_AUDIO_SECONDS else "video"
        timed_minutes[kind][index[row["billing_day"]]] += counted_minutes(row["seconds"])

    # Days before the application existed are gaps, not zeros.
    born = (
        application.edition_periods.order_by("starts_on")
        .values_list("starts_on", flat=True)
        .first()
    )
    before = sum(1 for day in day_list if born and day < born)

    charts = [
        UsageChart("dau", "Daily active users", "users", "line", [ChartSeries("DAU", dau)], "peak"),
        UsageChart(
            "groups",
            "Group count (daily peak)",
            "groups",
            "line",
            [ChartSeries("Groups", groups)],
            "peak",
        ),
        UsageChart(
            "trtc_minutes",
            "Audio and video minutes by category",
            "minutes",
            "bar",
            [
                ChartSeries(trtc_items[code].name, values)
                for code, values in minutes.items()
                if code.startswith(("trtc.audio", "trtc.video"))
                and (code == "trtc.audio" or any(values))
            ],
            "total",
        ),
    ]
    # Moderation and Conversational AI charts only where the region's price book sells them.
    ratios = catalog.price_entries_in_force(
        item_codes=[f"im.moderation.{kind}" for _, kind, _ in MODERATION_TYPES],
        region=application.region,
        day=last,
    )
    if len(ratios) == len(MODERATION_TYPES):  # the region's price book sells moderation
        per_type = {**counts, **timed_minutes}
        charts.append(
            UsageChart(
                "moderation",
                "Cloud moderation deduction units",
                "units",
                "bar",
                [
                    ChartSeries(
                        label,
                        [
                            q * ratios[f"im.moderation.{kind}"].deduction_ratio
                            for q in per_type[kind]
                        ],
                    )
                    for _, kind, label in MODERATION_TYPES
                ],
                "total",
            )
        )
    ai_stt_sold = catalog.price_entries_in_force(
        item_codes=["trtc.ai", "trtc.stt"], region=application.region, day=last
    )
    if ai_stt_sold:  # SPEC 4.6: region intl
        charts.append(
            UsageChart(
                "ai_stt",
                "AI and speech-to-text minutes",
                "minutes",
                "bar",
                [
                    ChartSeries(trtc_items["trtc.ai"].name, minutes["trtc.ai"]),
                    ChartSeries(trtc_items["trtc.stt"].name, minutes["trtc.stt"]),
                ],
                "total",
            )
        )
    for chart in charts:
        for series in chart.series:
            series.values[:before] = [None] * before
    return UsageSeries(day_list, charts)

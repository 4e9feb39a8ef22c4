"""Rating: a billing day's usage into charges (daily job), a month's monthly items (monthly
job). Aggregation happens in the database; the rules are the pure functions of
``billing.rating``; charges are upserted so a rerun changes nothing.

Within one application days are rated in order: the free allowance and the packs a day may
use are what earlier days left. Re-rating a day therefore re-rates the later rated days of
the application that are still in draft months.
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, Max, Q, Sum
from django.db.models.functions import ExtractHour
from django.utils import timezone

from billing.calendar import billing_tz, days_in_month, month_end, month_start
from billing.catalog import price_entries_in_force
from billing.locks import applications_lock
from billing.models import (
    AddOn,
    AddOnSubscription,
    Application,
    BillableItem,
    Charge,
    ChargeCoverage,
    Edition,
    EditionPeriod,
    Invoice,
    Metric,
    PriceEntry,
    RatedDay,
    ResourcePack,
    UsageEvent,
)
from billing.rating.im_overage import DayMeasure, rate_im_overage_month
from billing.rating.message_history import rate_message_history_month
from billing.rating.moderation import rate_moderation_day
from billing.rating.trtc import rate_trtc_day, seconds_to_minutes
from billing.rating.types import ChargeDraft, PackBalance, Price
from billing.services.applications import period_covering, terms_renew
from billing.services.invoicing import invoices_mark_stale

ONE_DAY = dt.timedelta(days=1)
ZERO = Decimal(0)

MODERATION_COUNT_METRICS = {
    Metric.IM_MODERATION_TEXT: "text",
    Metric.IM_MODERATION_IMAGE: "image",
}
MODERATION_TIMED_METRICS = {
    Metric.IM_MODERATION_AUDIO_SECONDS: "audio",
    Metric.IM_MODERATION_VIDEO_SECONDS: "video",
}
MODERATION_ITEMS = {kind: f"im.moderation.{kind}" for kind in ("text", "image", "audio", "video")}
MODERATION_UNIT_ITEM = "im.moderation.unit"
TRTC_SIMPLE_METRICS = {
    Metric.TRTC_AUDIO_SECONDS: "trtc.audio",
    Metric.TRTC_AI_SECONDS: "trtc.ai",
    Metric.TRTC_STT_SECONDS: "trtc.stt",
}
ALLOWANCE_ITEM = "trtc.free_minutes"


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
    events = UsageEvent.objects.filter(application_id__in=application_ids, billing_day=day)
    simple = (
        events.filter(
            metric__in=[*MODERATION_COUNT_METRICS, *TRTC_SIMPLE_METRICS, Metric.TRTC_VIDEO_SECONDS]
        )
        .values("application_id", "metric", "dimension")
        .annotate(total=Sum("value"))
        .order_by()
    )
    for row in simple:
        day_usage = usage[row["application_id"]]
        metric = row["metric"]
        if metric in MODERATION_COUNT_METRICS:
            day_usage.moderation_counts[MODERATION_COUNT_METRICS[metric]] = row["total"]
        elif metric == Metric.TRTC_VIDEO_SECONDS:
            day_usage.trtc_seconds[f"trtc.video.{row['dimension']}"] = row["total"]
        else:
            day_usage.trtc_seconds[TRTC_SIMPLE_METRICS[metric]] = row["total"]
    # SPEC 4.4: audio and video seconds are added up per clock hour of the billing time zone.
    timed = (
        events.filter(metric__in=list(MODERATION_TIMED_METRICS))
        .annotate(hour=ExtractHour("timestamp", tzinfo=billing_tz()))
        .values("application_id", "metric", "hour")
        .annotate(seconds=Sum("value"))
        .order_by()
    )
    for row in timed:
        kind = MODERATION_TIMED_METRICS[row["metric"]]
        usage[row["application_id"]].moderation_seconds[kind][row["hour"]] = row["seconds"]
    return usage


def _price(entry: PriceEntry) -> Price:
    return Price(
        entry_id=entry.pk,
        unit_price=entry.unit_price,
        per_quantity=entry.per_quantity,
        included_quantity=entry.included_quantity,
        deduction_ratio=entry.deduction_ratio,
    )


class _Catalog:
    """Price entries in force and items, cached for one job run."""

    def __init__(self):
        self._entries: dict[tuple[str, dt.date], dict[str, PriceEntry]] = {}
        self.items = {item.code: item for item in BillableItem.objects.all()}
        self.editions = {edition.pk: edition for edition in Edition.objects.all()}

    def entries(self, region: str, day: dt.date) -> dict[str, PriceEntry]:
        key = (region, day)
        if key not in self._entries:
            self._entries[key] = price_entries_in_force(
                item_codes=self.items.keys(), region=region, day=day
            )
        return self._entries[key]


def _pack_balances(application: Application, covers: str, day: dt.date) -> list[PackBalance]:
    """Packs valid on ``day`` with what earlier days left of them."""
    packs = ResourcePack.objects.filter(
        application=application, covers=covers, valid_from__lte=day, valid_until__gte=day
    ).annotate(
        used=Sum("chargecoverage__units_used", filter=Q(chargecoverage__charge__day__lt=day))
    )
    return [
        PackBalance(pack.pk, pack.units_total - (pack.used or ZERO), pack.valid_until)
        for pack in packs
        if pack.units_total - (pack.used or ZERO) > 0
    ]


def _allowance_left(application: Application, entry: PriceEntry | None, day: dt.date) -> Decimal:
    if entry is None:
        return ZERO
    used = (
        ChargeCoverage.objects.filter(
            charge__application=application,
            charge__day__gte=month_start(day),
            charge__day__lt=day,
            source=ChargeCoverage.Source.ALLOWANCE,
        ).aggregate(used=Sum("units_used"))["used"]
        or ZERO
    )
    return max(ZERO, (entry.included_quantity or ZERO) - used)


def rate_day_drafts(
    application: Application, day: dt.date, usage: DayUsage, catalog: _Catalog
) -> list[ChargeDraft]:
    """The charges of one application and day, from the pure rules."""
    entries = catalog.entries(application.region, day)
    currency_of = {code: entry.price_book.currency for code, entry in entries.items()}
    drafts: list[ChargeDraft] = []
    if usage.moderation_counts or any(usage.moderation_seconds.values()):
        unit = entries[MODERATION_UNIT_ITEM]
        mod_drafts, _ = rate_moderation_day(
            text_count=usage.moderation_counts.get("text", ZERO),
            image_count=usage.moderation_counts.get("image", ZERO),
            audio_seconds_by_hour=usage.moderation_seconds["audio"],
            video_seconds_by_hour=usage.moderation_seconds["video"],
            ratios={kind: _price(entries[code]) for kind, code in MODERATION_ITEMS.items()},
            unit_price=_price(unit),
            packs=_pack_balances(application, BillableItem.Covers.MODERATION_UNITS, day),
            item_codes=MODERATION_ITEMS,
            currency=currency_of[MODERATION_UNIT_ITEM],
        )
        if mod_drafts:
            drafts.append(_moderation_charge(mod_drafts))
    if usage.trtc_seconds:
        minutes = {
            code: seconds_to_minutes(seconds)
            for code, seconds in sorted(
                usage.trtc_seconds.items(), key=lambda kv: catalog.items[kv[0]].sort_order
            )
        }
        allowance_items = [
            code
            for code in sorted(minutes, key=lambda c: catalog.items[c].sort_order)
            if catalog.items[code].uses_free_allowance
        ]
        trtc_drafts, _, _ = rate_trtc_day(
            minutes_by_item=minutes,
            prices={code: _price(entries[code]) for code in minutes},
            allowance_left=_allowance_left(application, entries.get(ALLOWANCE_ITEM), day),
            allowance_items=allowance_items,
            packs=_pack_balances(application, BillableItem.Covers.CALL_MINUTES, day),
            currency=currency_of[next(iter(minutes))],
            item_names={code: catalog.items[code].name for code in minutes},
        )
        drafts += trtc_drafts
    return drafts


def _moderation_charge(by_type: list[ChargeDraft]) -> ChargeDraft:
    """Cloud moderation is one billable item priced per deduction unit (SPEC 4.4): the day's
    types add up to one charge, each type's units and coverage kept in its explanation."""
    first = by_type[0]
    billable = sum((d.billable_quantity for d in by_type), ZERO)
    return replace(
        first,
        item_code=MODERATION_UNIT_ITEM,
        quantity=sum((d.quantity for d in by_type), ZERO),
        covered_quantity=sum((d.covered_quantity for d in by_type), ZERO),
        billable_quantity=billable,
        amount=sum((d.amount for d in by_type), ZERO),
        explanation=" ".join(d.explanation for d in by_type),
        details={"types": [d.details for d in by_type]},
        coverages=tuple(c for d in by_type for c in d.coverages),
    )


def _charge_values(draft: ChargeDraft, entry: PriceEntry) -> dict:
    return {
        "price_entry_id": entry.pk,
        "currency": entry.price_book.currency,
        "quantity": draft.quantity,
        "covered_quantity": draft.covered_quantity,
        "billable_quantity": draft.billable_quantity,
        "unit_price": draft.unit_price,
        "per_quantity": draft.per_quantity,
        "amount": draft.amount,
        "explanation": draft.explanation,
        "details": draft.details,
    }


def _coverage_key(rows) -> list[tuple]:
    return sorted(
        (row.source, row.pack_id, Decimal(row.usage_quantity), Decimal(row.units_used))
        for row in rows
    )


def charges_store(
    *,
    application: Application,
    day: dt.date,
    period: str,
    drafts: list[ChargeDraft],
    catalog: _Catalog,
    entries_by_id: dict[int, PriceEntry],
) -> int:
    """Upsert the charges of (application, day, period) to exactly ``drafts``: a charge whose
    values are unchanged is not written; one no longer produced is deleted. Returns the
    number of rows written or deleted."""
    existing = {
        charge.item_id: charge
        for charge in Charge.objects.filter(
            application=application, day=day, period=period
        ).prefetch_related("coverages")
    }
    changes = 0
    produced = set()
    for draft in drafts:
        item = catalog.items[draft.item_code]
        produced.add(item.pk)
        values = _charge_values(draft, entries_by_id[draft.price_entry_id])
        charge = existing.get(item.pk)
        if charge is not None:
            same = all(getattr(charge, key) == value for key, value in values.items())
            if same and _coverage_key(charge.coverages.all()) == _coverage_key(draft.coverages):
                continue
            for key, value in values.items():
                setattr(charge, key, value)
            charge.save()
            charge.coverages.all().delete()
        else:
            charge = Charge.objects.create(
                application=application, item=item, day=day, period=period, **values
            )
        ChargeCoverage.objects.bulk_create(
            [
                ChargeCoverage(
                    charge=charge,
                    source=coverage.source,
                    pack_id=coverage.pack_id,
                    usage_quantity=coverage.usage_quantity,
                    units_used=coverage.units_used,
                )
                for coverage in draft.coverages
            ]
        )
        changes += 1
    stale = [charge.pk for item_id, charge in existing.items() if item_id not in produced]
    if stale:
        ChargeCoverage.objects.filter(charge_id__in=stale).delete()
        Charge.objects.filter(pk__in=stale).delete()
        changes += len(stale)
    return changes


def _entries_by_id(drafts: list[ChargeDraft]) -> dict[int, PriceEntry]:
    ids = {draft.price_entry_id for draft in drafts}
    return {e.pk: e for e in PriceEntry.objects.filter(pk__in=ids).select_related("price_book")}


def _closed_months(account_ids: list[int]) -> set[tuple[int, dt.date]]:
    return set(
        Invoice.objects.filter(account_id__in=account_ids)
        .exclude(state=Invoice.State.DRAFT)
        .values_list("account_id", "month")
    )


@dataclass
class ChunkResult:
    applications: int = 0
    charges_written: int = 0
    days_rated: int = 0
    skipped_closed: int = 0


def rate_accounts_day(
    *, account_ids: list[int], day: dt.date, application_ids: list[int] | None = None
) -> ChunkResult:
    """The daily job for a chunk of accounts: renew terms due on ``day``, rate ``day`` and
    any later days a change made stale, refresh the draft invoices. One transaction: a crash
    leaves the chunk as it was and a rerun completes it."""
    result = ChunkResult()
    catalog = _Catalog()
    with transaction.atomic():
        applications = (
            Application.objects.filter(account_id__in=account_ids)
            .exclude(status=Application.Status.CLOSED)
            .order_by("pk")
        )
        if application_ids is not None:
            applications = applications.filter(pk__in=application_ids)
        # Only applications that existed on the day (an edition period has started).
        applications = list(applications.filter(edition_periods__starts_on__lte=day).distinct())
        applications_lock(app.pk for app in applications)  # ingestion waits (billing.locks)
        closed = _closed_months(account_ids)
        usage = aggregate_day([app.pk for app in applications], day)
        touched: set[tuple[int, dt.date]] = set()
        for application in applications:
            result.applications += 1
            if (application.account_id, month_start(day)) in closed:
                result.skipped_closed += 1
                continue
            terms_renew(application=application, day=day)
            days = _days_to_rate(application, day, closed)
            for rate_day in days:
                day_usage = (
                    usage[application.pk]
                    if rate_day == day
                    else aggregate_day([application.pk], rate_day)[application.pk]
                )
                result.charges_written += _rate_and_store(application, rate_day, day_usage, catalog)
                result.days_rated += 1
                touched.add((application.account_id, month_start(rate_day)))
        for account_id, month in sorted(touched):
            invoices_mark_stale(account_id=account_id, day=month)
    return result


def _days_to_rate(application: Application, day: dt.date, closed) -> list[dt.date]:
    """``day``, plus every later rated day in a draft month (they depend on ``day``'s use of
    the allowance and packs), plus stale days and what follows them."""
    rated = RatedDay.objects.filter(application=application)
    stale = list(rated.filter(state=RatedDay.State.STALE).values_list("day", flat=True))
    start = min([day, *stale])
    days = {day, *stale, *rated.filter(day__gt=start).values_list("day", flat=True)}
    return sorted(d for d in days if (application.account_id, month_start(d)) not in closed)


def rate_stale_days(application: Application, month: dt.date, catalog: _Catalog, closed) -> int:
    """Rate again the stale days of ``month`` (late events) and the rated days after them.
    Returns the number of days rated; 0 (one query) when nothing is stale."""
    stale = RatedDay.objects.filter(
        application=application,
        state=RatedDay.State.STALE,
        day__range=(month_start(month), month_end(month)),
    ).order_by("day")
    first_stale = stale.values_list("day", flat=True).first()
    if first_stale is None:
        return 0
    days = _days_to_rate(application, first_stale, closed)
    for day in days:
        _rate_and_store(
            application, day, aggregate_day([application.pk], day)[application.pk], catalog
        )
    return len(days)


def _rate_and_store(application, day, usage: DayUsage, catalog: _Catalog) -> int:
    drafts = rate_day_drafts(application, day, usage, catalog) if not usage.is_empty() else []
    changes = charges_store(
        application=application,
        day=day,
        period=Charge.Period.DAY,
        drafts=drafts,
        catalog=catalog,
        entries_by_id=_entries_by_id(drafts),
    )
    RatedDay.objects.update_or_create(
        application=application,
        day=day,
        defaults={"state": RatedDay.State.RATED, "rated_at": timezone.now()},
    )
    return changes


def stale_days_rerate(*, application_ids: list[int]) -> ChunkResult:
    """Rate again, now, the stale days of these applications (late events for days already
    rated, SPEC 7) and the rated days after them, instead of waiting for the next daily job.
    Each application is rated from its first stale day in a draft month, under the exclusive
    lock ``rate_accounts_day`` takes (billing.locks), so it never interleaves with ingestion,
    the daily job or another re-rate. Idempotent: once nothing is stale it reads and writes
    nothing more."""
    total = ChunkResult()
    stale = list(
        RatedDay.objects.filter(application_id__in=application_ids, state=RatedDay.State.STALE)
        .values_list("application_id", "application__account_id", "day")
        .order_by("application_id", "day")
    )
    closed = _closed_months(sorted({account_id for _, account_id, _ in stale}))
    first_day: dict[int, tuple[int, dt.date]] = {}
    for application_id, account_id, day in stale:
        if (account_id, month_start(day)) not in closed:
            first_day.setdefault(application_id, (account_id, day))
    for application_id, (account_id, day) in first_day.items():
        result = rate_accounts_day(
            account_ids=[account_id], day=day, application_ids=[application_id]
        )
        for name, value in vars(result).items():
            setattr(total, name, getattr(total, name) + value)
    return total


# --------------------------------------------------------------------------------------------
# Monthly items
# --------------------------------------------------------------------------------------------


def month_measures(application: Application, first: dt.date, last: dt.date) -> list[DayMeasure]:
    """DAU (distinct users) and peak group count per day, with that day's edition."""
    rows = (
        UsageEvent.objects.filter(
            application=application,
            billing_day__range=(first, last),
            metric__in=[Metric.IM_LOGIN, Metric.IM_GROUP_COUNT],
        )
        .values("billing_day")
        .annotate(
            dau=Count("dimension", distinct=True, filter=Q(metric=Metric.IM_LOGIN)),
            groups=Max("value", filter=Q(metric=Metric.IM_GROUP_COUNT)),
        )
        .order_by("billing_day")
    )
    periods = list(
        EditionPeriod.objects.filter(application=application)
        .select_related("edition")
        .order_by("starts_on")
    )
    measures = []
    for row in rows:
        period = period_covering(periods, row["billing_day"])
        if period is not None:
            measures.append(
                DayMeasure(
                    row["billing_day"],
                    period.edition.code,
                    row["dau"] or 0,
                    int(row["groups"] or 0),
                )
            )
    return measures


def rate_month_drafts(
    application: Application, month: dt.date, catalog: _Catalog, *, through: dt.date | None = None
) -> list[ChargeDraft]:
    """IM overage and postpaid add-ons of ``month`` (up to ``through`` for a preview)."""
    first = month_start(month)
    last = min(month_end(month), through) if through else month_end(month)
    entries = catalog.entries(application.region, last)
    editions = list(catalog.editions.values())
    drafts: list[ChargeDraft] = []
    dau_prices, group_prices = {}, {}
    for edition in editions:
        dau = entries.get(f"im.overage.dau.{edition.code}")
        groups = entries.get(f"im.overage.groups.{edition.code}")
        if dau is not None:
            dau_prices[edition.code] = _price(dau)
        if groups is not None:
            group_prices[edition.code] = _price(groups)
    measures = month_measures(application, first, last)
    if measures:
        hard = {e.code for e in editions if e.limits_are_hard}
        paid_codes = {m.edition_code for m in measures} - hard
        if paid_codes and paid_codes <= set(dau_prices) & set(group_prices):
            # The item billed is the overage item of the edition on the day that set the peak.
            for draft in rate_im_overage_month(
                days=measures,
                dau_prices=dau_prices,
                group_prices=group_prices,
                hard_limit_editions=hard,
                dau_item_code="im.overage.dau",
                groups_item_code="im.overage.groups",
                currency=entries[next(iter(entries))].price_book.currency,
                edition_names={e.code: e.name for e in editions},
            ):
                item_code = f"{draft.item_code}.{draft.details['edition']}"
                drafts.append(_with_item(draft, item_code))
    drafts += _message_history_drafts(application, first, last, entries)
    return drafts


def _with_item(draft: ChargeDraft, item_code: str) -> ChargeDraft:
    return replace(draft, item_code=item_code)


def _message_history_drafts(application, first, last, entries) -> list[ChargeDraft]:
    subscriptions = (
        AddOnSubscription.objects.filter(
            application=application,
            addon__billing=AddOn.Billing.POSTPAID,
            starts_on__lte=last,
        )
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=first))
        .select_related("item")
    )
    days_by_item: dict[str, set[int]] = defaultdict(set)
    for subscription in subscriptions:
        start = max(subscription.starts_on, first)
        end = min(subscription.ends_on or last, last)
        for offset in range((end - start).days + 1):
            days_by_item[subscription.item.code].add((start + dt.timedelta(days=offset)).day)
    drafts = []
    for code, days in sorted(days_by_item.items()):
        entry = entries.get(code)
        if entry is None:
            continue
        draft = rate_message_history_month(
            item_code=code,
            price=_price(entry),
            days_in_month=days_in_month(first),
            enabled_days=sorted(days),
            currency=entry.price_book.currency,
        )
        if draft is not None:
            drafts.append(draft)
    return drafts


def rate_accounts_month(*, account_ids: list[int], month: dt.date) -> ChunkResult:
    """The monthly items of a chunk of accounts, in one transaction."""
    result = ChunkResult()
    catalog = _Catalog()
    first = month_start(month)
    with transaction.atomic():
        closed = _closed_months(account_ids)
        applications = list(Application.objects.filter(account_id__in=account_ids).order_by("pk"))
        applications_lock(app.pk for app in applications)  # ingestion waits (billing.locks)
        touched = set()
        for application in applications:
            if (application.account_id, first) in closed:
                result.skipped_closed += 1
                continue
            if not application.edition_periods.filter(starts_on__lte=month_end(first)).exists():
                continue
            result.applications += 1
            # Late events since the last daily run: their days are rated before the close.
            result.days_rated += rate_stale_days(application, first, catalog, closed)
            # Terms due in the month are on its invoice even if a daily run was missed.
            terms_renew(application=application, day=month_end(first))
            drafts = rate_month_drafts(application, first, catalog)
            result.charges_written += charges_store(
                application=application,
                day=first,
                period=Charge.Period.MONTH,
                drafts=drafts,
                catalog=catalog,
                entries_by_id=_entries_by_id(drafts),
            )
            touched.add(application.account_id)
        for account_id in sorted(touched):
            invoices_mark_stale(account_id=account_id, day=first)
    return result

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
from django.db.models import Count, Max, Min, Q, Sum
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
from billing.services.applications import (
    PeriodRow,
    edition_periods_by_application,
    period_covering,
    terms_renew_bulk,
)
from billing.services.bulk import insert_rows, update_rows, upsert_rows
from billing.services.invoicing import invoices_mark_stale, invoices_refresh_deferred
from notifications import outbox

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
        self._prices: dict[tuple[str, dt.date], dict[str, Price]] = {}
        self._currencies: dict[tuple[str, dt.date], dict[str, str]] = {}
        self.items = {item.code: item for item in BillableItem.objects.all()}
        self.editions = {edition.pk: edition for edition in Edition.objects.all()}

    def entries(self, region: str, day: dt.date) -> dict[str, PriceEntry]:
        key = (region, day)
        if key not in self._entries:
            self._entries[key] = price_entries_in_force(
                item_codes=self.items.keys(), region=region, day=day
            )
            entries = self._entries[key]
            self._prices[key] = {code: _price(entry) for code, entry in entries.items()}
            self._currencies[key] = {
                code: entry.price_book.currency for code, entry in entries.items()
            }
        return self._entries[key]

    def prices(self, region: str, day: dt.date) -> dict[str, Price]:
        """The entries in force as the pure rules take them, built once per region and day."""
        self.entries(region, day)
        return self._prices[(region, day)]

    def currencies(self, region: str, day: dt.date) -> dict[str, str]:
        self.entries(region, day)
        return self._currencies[(region, day)]


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


def _allowance_left(price: Price | None, used: Decimal) -> Decimal:
    if price is None:
        return ZERO
    return max(ZERO, (price.included_quantity or ZERO) - used)


def rate_day_drafts(
    application: Application,
    day: dt.date,
    usage: DayUsage,
    catalog: _Catalog,
    inputs: DayInputs | None = None,
) -> list[ChargeDraft]:
    """The charges of one application and day, from the pure rules. ``inputs`` are read
    for the application when not given."""
    if inputs is None:
        inputs = day_inputs([application.pk], day)[application.pk]
    prices = catalog.prices(application.region, day)
    currency_of = catalog.currencies(application.region, day)
    drafts: list[ChargeDraft] = []
    if usage.moderation_counts or any(usage.moderation_seconds.values()):
        mod_drafts, _ = rate_moderation_day(
            text_count=usage.moderation_counts.get("text", ZERO),
            image_count=usage.moderation_counts.get("image", ZERO),
            audio_seconds_by_hour=usage.moderation_seconds["audio"],
            video_seconds_by_hour=usage.moderation_seconds["video"],
            ratios={kind: prices[code] for kind, code in MODERATION_ITEMS.items()},
            unit_price=prices[MODERATION_UNIT_ITEM],
            packs=inputs.packs.get(BillableItem.Covers.MODERATION_UNITS, []),
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
            prices={code: prices[code] for code in minutes},
            allowance_left=_allowance_left(prices.get(ALLOWANCE_ITEM), inputs.allowance_used),
            allowance_items=allowance_items,
            packs=inputs.packs.get(BillableItem.Covers.CALL_MINUTES, []),
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


CHARGE_FIELDS = (
    "application_id",
    "item_id",
    "day",
    "period",
    "price_entry_id",
    "currency",
    "quantity",
    "covered_quantity",
    "billable_quantity",
    "unit_price",
    "per_quantity",
    "amount",
    "explanation",
    "details",
    "rated_at",
)
UPSERT_KEY = ("application_id", "item_id", "day", "period")
COVERAGE_FIELDS = ("charge_id", "source", "pack_id", "usage_quantity", "units_used")


def charges_store(
    *,
    day: dt.date,
    period: str,
    drafts: dict[int, list[ChargeDraft]],
    catalog: _Catalog,
) -> int:
    """Upsert the charges of (application, day, period) to exactly ``drafts[application]``,
    for many applications at once: a charge whose values are unchanged is not written; one no
    longer produced is deleted. Reads in three queries; writes new charges and coverages with
    COPY. Returns the number of charges written or deleted."""
    if not drafts:
        return 0
    existing: dict[int, dict[int, Charge]] = defaultdict(dict)
    stored = (
        Charge.objects.filter(application_id__any=list(drafts), day=day, period=period)
        .order_by()
        .prefetch_related("coverages")
    )
    for charge in stored:
        existing[charge.application_id][charge.item_id] = charge
    entries_by_id = _entries_by_id([d for app_drafts in drafts.values() for d in app_drafts])
    now = timezone.now()
    new: list[tuple[tuple, tuple]] = []
    updated: list[tuple[Charge, tuple]] = []
    stale: list[int] = []
    for application_id, app_drafts in drafts.items():
        app_existing = existing.get(application_id, {})
        produced = set()
        for draft in app_drafts:
            item = catalog.items[draft.item_code]
            produced.add(item.pk)
            values = _charge_values(draft, entries_by_id[draft.price_entry_id])
            charge = app_existing.get(item.pk)
            if charge is None:
                row = {"application_id": application_id, "item_id": item.pk, "day": day,
                       "period": period, "rated_at": now, **values}  # fmt: skip
                new.append((tuple(row[name] for name in CHARGE_FIELDS), draft.coverages))
                continue
            same = all(getattr(charge, key) == value for key, value in values.items())
            if same and _coverage_key(charge.coverages.all()) == _coverage_key(draft.coverages):
                continue
            for key, value in values.items():
                setattr(charge, key, value)
            charge.rated_at = now
            updated.append((charge, draft.coverages))
        stale += [charge.pk for item_id, charge in app_existing.items() if item_id not in produced]

    replaced = [charge.pk for charge, _ in updated] + stale
    if replaced:
        ChargeCoverage.objects.filter(charge_id__any=replaced).delete()
    if stale:
        Charge.objects.filter(pk__any=stale).delete()
    changed_fields = [name for name in CHARGE_FIELDS if name not in UPSERT_KEY]
    update_rows(
        Charge,
        changed_fields,
        [(charge.pk, *(getattr(charge, name) for name in changed_fields)) for charge, _ in updated],
    )
    new_ids = insert_rows(Charge, CHARGE_FIELDS, [row for row, _ in new], ids=True)
    coverage_rows = [
        (charge_id, c.source, c.pack_id, c.usage_quantity, c.units_used)
        for charge_id, coverages in [
            *zip(new_ids, (coverages for _, coverages in new), strict=True),
            *((charge.pk, coverages) for charge, coverages in updated),
        ]
        for c in coverages
    ]
    insert_rows(ChargeCoverage, COVERAGE_FIELDS, coverage_rows)
    return len(new) + len(updated) + len(stale)


def _entries_by_id(drafts: list[ChargeDraft]) -> dict[int, PriceEntry]:
    """The price entries (with their price book) the drafts were rated under."""
    ids = {draft.price_entry_id for draft in drafts}
    return {e.pk: e for e in PriceEntry.objects.filter(pk__any=ids).select_related("price_book")}


def _closed_months(account_ids: list[int]) -> set[tuple[int, dt.date]]:
    return set(
        Invoice.objects.filter(account_id__any=account_ids)
        .exclude(state=Invoice.State.DRAFT)
        .values_list("account_id", "month")
        .order_by()
    )


@dataclass
class ChunkResult:
    applications: int = 0
    charges_written: int = 0
    days_rated: int = 0
    skipped_closed: int = 0
    invoices_finalized: int = 0


def rate_accounts_day(
    *, account_ids: list[int], day: dt.date, application_ids: list[int] | None = None
) -> ChunkResult:
    """The daily job for a chunk of accounts: renew terms due on ``day``, rate ``day`` and
    any later days a change made stale, refresh the draft invoices. One transaction: a crash
    leaves the chunk as it was and a rerun completes it.

    Reads are per chunk, not per application: the day's usage in two GROUP BY queries, packs
    and allowance in two, existing charges in two; charges and coverages are written with
    COPY and every draft invoice of the chunk is refreshed once at the end. Applications with
    more than this one day to rate (stale days, later days that depend on this one) are rated
    day by day in order, as before."""
    result = ChunkResult()
    catalog = _Catalog()
    with transaction.atomic(), invoices_refresh_deferred():
        applications = (
            Application.objects.filter(account_id__any=account_ids)
            .exclude(status=Application.Status.CLOSED)
            .order_by("pk")
        )
        if application_ids is not None:
            applications = applications.filter(pk__any=application_ids)
        applications = list(applications)
        periods = edition_periods_by_application([app.pk for app in applications])
        # Only applications that existed on the day (an edition period has started).
        applications = [
            app for app in applications if any(p.starts_on <= day for p in periods[app.pk])
        ]
        applications_lock(app.pk for app in applications)  # ingestion waits (billing.locks)
        closed = _closed_months(account_ids)
        result.applications = len(applications)
        rated = [app for app in applications if (app.account_id, month_start(day)) not in closed]
        result.skipped_closed = len(applications) - len(rated)
        terms_renew_bulk(applications=rated, day=day, periods=periods)
        days = _days_to_rate(rated, day, closed)
        one_day = [app for app in rated if days[app.pk] == [day]]
        usage = aggregate_day([app.pk for app in one_day], day)
        result.charges_written += _rate_and_store(one_day, day, usage, catalog)
        result.days_rated += len(one_day)
        for application in rated:
            if days[application.pk] == [day]:
                invoices_mark_stale(account_id=application.account_id, day=day)
                continue
            for rate_day in days[application.pk]:
                day_usage = aggregate_day([application.pk], rate_day)
                result.charges_written += _rate_and_store(
                    [application], rate_day, day_usage, catalog
                )
                result.days_rated += 1
                invoices_mark_stale(account_id=application.account_id, day=rate_day)
        outbox.usage_changed(account_ids=account_ids)
    return result


def _days_to_rate(
    applications: list[Application], day: dt.date, closed
) -> dict[int, list[dt.date]]:
    """Per application: ``day``, plus every later rated day in a draft month (they depend on
    ``day``'s use of the allowance and packs), plus stale days and what follows them."""
    ids = [app.pk for app in applications]
    stale: dict[int, list[dt.date]] = defaultdict(list)
    for application_id, stale_day in RatedDay.objects.filter(
        application_id__any=ids, state=RatedDay.State.STALE
    ).values_list("application_id", "day"):
        stale[application_id].append(stale_day)
    starts = {app.pk: min([day, *stale[app.pk]]) for app in applications}
    later: dict[int, list[dt.date]] = defaultdict(list)
    if applications:
        for application_id, rated_day in RatedDay.objects.filter(
            application_id__any=ids, day__gt=min(starts.values())
        ).values_list("application_id", "day"):
            if rated_day > starts[application_id]:
                later[application_id].append(rated_day)
    return {
        app.pk: sorted(
            d
            for d in {day, *stale[app.pk], *later[app.pk]}
            if (app.account_id, month_start(d)) not in closed
        )
        for app in applications
    }


def rate_stale_days(application: Application, month: dt.date, catalog: _Catalog, closed) -> int:
    """Rate again the stale days of ``month`` (late events) and the rated days after them.
    Returns the number of days rated; 0 (one query) when nothing is stale."""
    return rate_stale_days_of([application], month, catalog, closed)


def rate_stale_days_of(
    applications: list[Application], month: dt.date, catalog: _Catalog, closed
) -> int:
    """``rate_stale_days`` for many applications: one query finds which have stale days of
    ``month``; those are rated from their first stale day, day by day in order."""
    first_stale = dict(
        RatedDay.objects.filter(
            application_id__any=[app.pk for app in applications],
            state=RatedDay.State.STALE,
            day__range=(month_start(month), month_end(month)),
        )
        .values_list("application_id")
        .annotate(first=Min("day"))
        .order_by()
    )
    rated = 0
    for application in applications:
        if application.pk not in first_stale:
            continue
        days = _days_to_rate([application], first_stale[application.pk], closed)[application.pk]
        for day in days:
            _rate_and_store([application], day, aggregate_day([application.pk], day), catalog)
        rated += len(days)
    return rated


def _rate_and_store(
    applications: list[Application], day: dt.date, usage: dict[int, DayUsage], catalog: _Catalog
) -> int:
    """Rate one day of these applications and store the charges; mark the day rated."""
    active = [app for app in applications if app.pk in usage and not usage[app.pk].is_empty()]
    inputs = day_inputs([app.pk for app in active], day)
    drafts = {app.pk: [] for app in applications}
    for app in active:
        drafts[app.pk] = rate_day_drafts(app, day, usage[app.pk], catalog, inputs[app.pk])
    changes = charges_store(day=day, period=Charge.Period.DAY, drafts=drafts, catalog=catalog)
    now = timezone.now()
    upsert_rows(
        RatedDay,
        ("application_id", "day", "state", "rated_at"),
        [(app.pk, day, RatedDay.State.RATED, now) for app in applications],
        unique_fields=("application", "day"),
        update_fields=("state", "rated_at"),
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


def rate_month_drafts(
    application: Application,
    month: dt.date,
    catalog: _Catalog,
    *,
    through: dt.date | None = None,
    measures: list[DayMeasure] | None = None,
    subscriptions: list[AddOnSubscription] | None = None,
) -> list[ChargeDraft]:
    """IM overage and postpaid add-ons of ``month`` (up to ``through`` for a preview).
    ``measures`` and ``subscriptions`` are read for the application when not given."""
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
    if measures is None:
        measures = month_measures([application.pk], first, last).get(application.pk, [])
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
    if subscriptions is None:
        subscriptions = _postpaid_subscriptions([application.pk], first, last)[application.pk]
    drafts += _message_history_drafts(subscriptions, first, last, entries)
    return drafts


def _with_item(draft: ChargeDraft, item_code: str) -> ChargeDraft:
    return replace(draft, item_code=item_code)


def _postpaid_subscriptions(
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


def _message_history_drafts(subscriptions, first, last, entries) -> list[ChargeDraft]:
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
    """The monthly items of a chunk of accounts, in one transaction and a fixed number of
    queries (renewals aside); each draft invoice of the chunk is refreshed once."""
    result = ChunkResult()
    catalog = _Catalog()
    first = month_start(month)
    last = month_end(first)
    with transaction.atomic(), invoices_refresh_deferred():
        closed = _closed_months(account_ids)
        applications = list(Application.objects.filter(account_id__any=account_ids).order_by("pk"))
        applications_lock(app.pk for app in applications)  # ingestion waits (billing.locks)
        periods = edition_periods_by_application([app.pk for app in applications])
        rated = []
        for application in applications:
            if (application.account_id, first) in closed:
                result.skipped_closed += 1
                continue
            if not any(p.starts_on <= last for p in periods[application.pk]):
                continue
            result.applications += 1
            rated.append(application)
        # Late events since the last daily run: their days are rated before the close.
        result.days_rated += rate_stale_days_of(rated, first, catalog, closed)
        # Terms due in the month are on its invoice even if a daily run was missed.
        terms_renew_bulk(applications=rated, day=last, periods=periods)
        ids = [app.pk for app in rated]
        measures = month_measures(ids, first, last, periods)
        subscriptions = _postpaid_subscriptions(ids, first, last)
        drafts = {
            app.pk: rate_month_drafts(
                app,
                first,
                catalog,
                measures=measures.get(app.pk, []),
                subscriptions=subscriptions[app.pk],
            )
            for app in rated
        }
        result.charges_written += charges_store(
            day=first, period=Charge.Period.MONTH, drafts=drafts, catalog=catalog
        )
        for application in rated:
            invoices_mark_stale(account_id=application.account_id, day=first)
    return result

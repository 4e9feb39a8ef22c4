"""Rating: a billing day's usage into charges (daily job), a month's monthly items (monthly
job). Aggregation happens in the database; the rules are the pure functions of
``billing.rating``; charges are upserted so a rerun changes nothing.

Within one application days are rated in order: the free allowance and the packs a day may
use are what earlier days left. Re-rating a day therefore re-rates the later rated days of
the application that are still in draft months.
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from billing.calendar import month_end, month_start
from billing.locks import applications_lock
from billing.models import (
    Application,
    Charge,
    ChargeCoverage,
    PriceEntry,
    RatedDay,
)
from billing.rating.types import ChargeDraft
from billing.selectors.drafts import rate_day_drafts, rate_month_drafts
from billing.selectors.editions import edition_periods_by_application
from billing.selectors.invoices import closed_months
from billing.selectors.prices import PriceCatalog, price_entries_by_id
from billing.selectors.usage import (
    DayUsage,
    aggregate_day,
    day_inputs,
    month_measures,
    postpaid_subscriptions,
)
from billing.services.bulk import insert_rows, update_rows, upsert_rows
from billing.services.invoicing import invoices_mark_stale, invoices_refresh_deferred
from billing.services.terms import terms_renew_bulk
from notifications import outbox

ONE_DAY = dt.timedelta(days=1)
ZERO = Decimal(0)


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
    catalog: PriceCatalog,
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
    entries_by_id = price_entries_by_id([d for app_drafts in drafts.values() for d in app_drafts])
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
    catalog = PriceCatalog()
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
        closed = closed_months(account_ids)
        result.applications = len(applications)
        rated = [app for app in applications if (app.account_id, month_start(day)) not in closed]
        result.skipped_closed = len(applications) - len(rated)
        terms_renew_bulk(applications=rated, day=day, periods=periods)
        days = _days_to_rate(rated, day, closed)
        one_day = [app for app in rated if days[app.pk] == [day]]
        usage = aggregate_day([app.pk for app in one_day], day)
        result.charges_written += rate_and_store_day(one_day, day, usage, catalog)
        result.days_rated += len(one_day)
        for application in rated:
            if days[application.pk] == [day]:
                invoices_mark_stale(account_id=application.account_id, day=day)
                continue
            for rate_day in days[application.pk]:
                day_usage = aggregate_day([application.pk], rate_day)
                result.charges_written += rate_and_store_day(
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


def rate_stale_days_of(
    applications: list[Application], month: dt.date, catalog: PriceCatalog, closed
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
            rate_and_store_day([application], day, aggregate_day([application.pk], day), catalog)
        rated += len(days)
    return rated


def rate_and_store_day(
    applications: list[Application], day: dt.date, usage: dict[int, DayUsage], catalog: PriceCatalog
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
    closed = closed_months(sorted({account_id for _, account_id, _ in stale}))
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


def rate_accounts_month(*, account_ids: list[int], month: dt.date) -> ChunkResult:
    """The monthly items of a chunk of accounts, in one transaction and a fixed number of
    queries (renewals aside); each draft invoice of the chunk is refreshed once."""
    result = ChunkResult()
    catalog = PriceCatalog()
    first = month_start(month)
    last = month_end(first)
    with transaction.atomic(), invoices_refresh_deferred():
        closed = closed_months(account_ids)
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
        subscriptions = postpaid_subscriptions(ids, first, last)
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

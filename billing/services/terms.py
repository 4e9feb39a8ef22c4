"""Prepaid terms (SPEC 3, 4.1, 4.3): a term created when an edition or a prepaid add-on is
bought, and the renewals due on a day, one by one or in bulk for the daily job. A term's fee is
an invoice line of the month in which it starts (``billing.services.invoicing``)."""

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from billing import catalog
from billing.models import (
    AddOn,
    AddOnSubscription,
    Application,
    BillableItem,
    PrepaidTerm,
    ResourcePack,
)
from billing.rating.terms import term_bounds, term_start
from billing.selectors.editions import (
    PeriodRow,
    current_period,
    edition_item,
    edition_periods_by_application,
    period_covering,
)
from billing.services.bulk import insert_rows
from billing.services.invoicing import invoices_mark_stale

ONE_DAY = dt.timedelta(days=1)


def term_running(application: Application, item: BillableItem, day: dt.date):
    return (
        PrepaidTerm.objects.filter(
            application=application, item=item, starts_on__lte=day, ends_on__gte=day
        )
        .select_for_update()
        .first()
    )


def term_create(
    *,
    application: Application,
    item: BillableItem,
    anchor: dt.date,
    index: int,
    actor,
    subscription: AddOnSubscription | None = None,
) -> PrepaidTerm:
    starts_on, ends_on = term_bounds(anchor, index)
    entry = catalog.price_entry_in_force(item=item, region=application.region, day=starts_on)
    term = PrepaidTerm.objects.create(
        application=application,
        item=item,
        price_entry=entry,
        subscription=subscription,
        anchor_date=anchor,
        term_index=index,
        starts_on=starts_on,
        ends_on=ends_on,
        currency=entry.price_book.currency,
        amount=entry.unit_price,
        created_by=actor,
    )
    if item.covers == BillableItem.Covers.CALL_MINUTES:
        # The term's call minutes: a pack valid for exactly this term, paid by the term.
        ResourcePack.objects.create(
            application=application,
            item=item,
            price_entry=entry,
            covers=item.covers,
            units_total=entry.included_quantity,
            valid_from=starts_on,
            valid_until=ends_on,
            currency=term.currency,
            amount=0,
            term=term,
            created_by=actor,
        )
    invoices_mark_stale(account_id=application.account_id, day=starts_on)
    return term


def terms_renew(*, application: Application, day: dt.date, actor=None) -> list[PrepaidTerm]:
    """Create every prepaid term that starts on or before ``day`` and is due: the running
    paid edition and running prepaid add-ons renew on their anchor day (SPEC 3). Idempotent:
    a term that exists is not created again. Suspended and closed applications do not renew.
    """
    if application.status != Application.Status.ACTIVE:
        return []
    created = []
    with transaction.atomic():
        period = current_period(application, day)
        if period.edition.code != "trial":
            created += _renew_item(
                application, edition_item(period.edition), day, actor, since=period.starts_on
            )
        for subscription in application.addon_subscriptions.select_related("item", "addon"):
            if subscription.addon.billing != subscription.addon.Billing.PREPAID:
                continue
            created += _renew_item(
                application,
                subscription.item,
                day,
                actor,
                since=subscription.starts_on,
                subscription=subscription,
            )
    return created


@dataclass(frozen=True)
class _Renewal:
    """An item whose next term is due: its last term's anchor and the next index."""

    application: Application
    item_id: int
    subscription_id: int | None
    anchor: dt.date
    index: int
    ends_on: dt.date | None  # the add-on's end, if it ends


def _renewals_due(
    applications: list[Application], day: dt.date, periods: dict[int, list[PeriodRow]] | None
) -> tuple[list[_Renewal], list[Application]]:
    """What ``terms_renew(day)`` would create for these applications, worked out in three
    queries from the terms still running the day before: the renewals it settles, and the
    applications it cannot settle that way (no recent term, no edition on the day), for
    ``terms_renew`` itself."""
    active = [app for app in applications if app.status == Application.Status.ACTIVE]
    if not active:
        return [], []
    ids = [app.pk for app in active]
    if periods is None:
        periods = edition_periods_by_application(ids)
    edition_items = dict(
        BillableItem.objects.filter(kind=BillableItem.Kind.EDITION_FEE)
        .exclude(edition=None)
        .values_list("edition_id", "pk")
    )
    subscriptions: dict[int, list[AddOnSubscription]] = {pk: [] for pk in ids}
    for subscription in AddOnSubscription.objects.filter(
        application_id__any=ids, addon__billing=AddOn.Billing.PREPAID
    ):
        subscriptions[subscription.application_id].append(subscription)
    # Terms still running the day before, and the last term of an add-on that ended.
    recent: dict[tuple, list[tuple]] = {}
    terms = (
        PrepaidTerm.objects.filter(application_id__any=ids)
        .filter(
            Q(ends_on__gte=day - ONE_DAY)
            | Q(subscription__ends_on__isnull=False, ends_on__gte=F("subscription__ends_on"))
        )
        .order_by()  # no join for the model's ordering
    )
    for app_id, item_id, sub_id, *term in terms.values_list(
        "application_id", "item_id", "subscription_id", "starts_on", "anchor_date",
        "term_index", "cut_on",
    ):  # fmt: skip
        recent.setdefault((app_id, item_id, sub_id), []).append(tuple(term))
    renewals: list[_Renewal] = []
    unsettled: list[Application] = []
    for app in active:
        period = period_covering(periods.get(app.pk, []), day)
        if period is None:
            unsettled.append(app)  # terms_renew says why (no edition on the day)
            continue
        checks = [(s.item_id, s.pk, s.starts_on, s.ends_on) for s in subscriptions.get(app.pk, [])]
        if period.edition.code != "trial":
            checks.append((edition_items.get(period.edition_id), None, period.starts_on, None))
        app_renewals = []
        for item_id, sub_id, since, ends_on in checks:
            since_terms = [t for t in recent.get((app.pk, item_id, sub_id), []) if t[0] >= since]
            if not since_terms:
                app_renewals = None  # not settled by the recent terms: terms_renew looks
                break
            _, anchor, index, cut_on = max(since_terms)
            next_start = term_start(anchor, index + 1)
            if cut_on is None and next_start <= day and (ends_on is None or next_start <= ends_on):
                app_renewals.append(_Renewal(app, item_id, sub_id, anchor, index + 1, ends_on))
        if app_renewals is None:
            unsettled.append(app)
        else:
            renewals += app_renewals
    return renewals, unsettled


TERM_FIELDS = (
    "application_id", "item_id", "price_entry_id", "subscription_id", "anchor_date",
    "term_index", "starts_on", "ends_on", "currency", "amount", "created_at",
)  # fmt: skip


PACK_FIELDS = (
    "application_id", "item_id", "price_entry_id", "covers", "units_total", "valid_from",
    "valid_until", "currency", "amount", "term_id", "created_at",
)  # fmt: skip


def terms_renew_bulk(
    *,
    applications: list[Application],
    day: dt.date,
    periods: dict[int, list[PeriodRow]] | None = None,
) -> int:
    """``terms_renew(day)`` for many applications (the daily and monthly jobs): the renewals
    the recent terms settle are created together (terms, then the minute packs of call
    add-ons, with COPY), the rest go through ``terms_renew``. Returns the terms created."""
    renewals, unsettled = _renewals_due(applications, day, periods)
    created = sum(len(terms_renew(application=app, day=day)) for app in unsettled)
    if not renewals:
        return created
    items = {item.pk: item for item in BillableItem.objects.all()}
    entries: dict[tuple, object] = {}
    now = timezone.now()
    terms, owners = [], []
    for renewal in renewals:
        app, item, index = renewal.application, items[renewal.item_id], renewal.index
        while term_start(renewal.anchor, index) <= day:
            if renewal.ends_on is not None and term_start(renewal.anchor, index) > renewal.ends_on:
                break
            starts_on, ends_on = term_bounds(renewal.anchor, index)
            key = (item.pk, app.region, starts_on)
            if key not in entries:
                entries[key] = catalog.price_entry_in_force(
                    item=item, region=app.region, day=starts_on
                )
            entry = entries[key]
            terms.append(
                (app.pk, item.pk, entry.pk, renewal.subscription_id, renewal.anchor, index,
                 starts_on, ends_on, entry.price_book.currency, entry.unit_price, now)
            )  # fmt: skip
            owners.append((app, item, entry))
            index += 1
    term_ids = insert_rows(PrepaidTerm, TERM_FIELDS, terms, ids=True)
    packs = [
        (app.pk, item.pk, entry.pk, item.covers, entry.included_quantity, term[6], term[7],
         term[8], 0, term_id, now)
        for term_id, term, (app, item, entry) in zip(term_ids, terms, owners, strict=True)
        if item.covers == BillableItem.Covers.CALL_MINUTES
    ]  # fmt: skip
    insert_rows(ResourcePack, PACK_FIELDS, packs)
    for term, (app, _, _) in zip(terms, owners, strict=True):
        invoices_mark_stale(account_id=app.account_id, day=term[6])
    return created + len(terms)


def _renew_item(application, item, day, actor, *, since, subscription=None) -> list:
    """Create the terms of ``item`` due by ``day``, anchored on the first term since
    ``since`` (a scheduled downgrade starts its first term on the day it takes effect)."""
    last = (
        PrepaidTerm.objects.filter(
            application=application, item=item, subscription=subscription, starts_on__gte=since
        )
        .order_by("-starts_on")
        .first()
    )
    if last is None:
        anchor, index = since, 0
    elif last.cut_on is not None:
        return []
    else:
        anchor, index = last.anchor_date, last.term_index + 1
    created = []
    while term_start(anchor, index) <= day:
        ends_on = subscription.ends_on if subscription is not None else None
        if ends_on is not None and term_start(anchor, index) > ends_on:
            break
        created.append(
            term_create(
                application=application,
                item=item,
                anchor=anchor,
                index=index,
                actor=actor,
                subscription=subscription,
            )
        )
        index += 1
    return created

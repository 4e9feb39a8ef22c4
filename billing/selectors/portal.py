"""What a customer sees (portal pages, the REST API), always scoped to the user's accounts:
the dashboard, the application page, allowances and packs left, charges."""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Max, Q, QuerySet, Sum

from accounts.models import Account, Membership
from billing import catalog
from billing.calendar import billing_today, month_end, month_start
from billing.models import (
    AddOnSubscription,
    Application,
    BillableItem,
    Charge,
    ChargeCoverage,
    Edition,
    EditionPeriod,
    PrepaidTerm,
    RatedDay,
    ResourcePack,
)
from billing.money import ZERO, round_money
from billing.selectors.editions import edition_item_code, editions_on
from billing.selectors.estimates import MonthToDate, month_to_date
from billing.selectors.invoices import account_balances
from billing.selectors.prices import ALLOWANCE_ITEM


def applications_for_user(*, user) -> QuerySet[Application]:
    """The applications of every account the user is a member of."""
    return (
        Application.objects.filter(account__memberships__user=user)
        .select_related("account")
        .order_by("account__name", "sdkappid")
    )


def accounts_for_user(*, user) -> QuerySet[Account]:
    """The accounts the user is a member of."""
    return Account.objects.filter(memberships__user=user).order_by("name", "pk")


@dataclass
class AllowanceLeft:
    """The free TRTC minutes of the month (SPEC 4.6) and what rated days used of them."""

    included: Decimal
    used: Decimal
    rated_through: dt.date | None  # the last rated day; today's usage is rated tomorrow

    @property
    def left(self) -> Decimal:
        return max(ZERO, self.included - self.used)


@dataclass
class PackLeft:
    """A resource pack valid today and the units rated days used of it."""

    pack: ResourcePack
    used: Decimal

    @property
    def left(self) -> Decimal:
        return max(ZERO, self.pack.units_total - self.used)

    @property
    def unit(self) -> str:
        return BillableItem.Covers(self.pack.covers).label


def allowances_left(*, applications: list[Application], today: dt.date) -> dict[int, AllowanceLeft]:
    """Per application id: this month's free minutes, used and left (two queries, plus one
    per region for the price book)."""
    first = month_start(today)
    ids = [app.pk for app in applications]
    used = dict(
        ChargeCoverage.objects.filter(
            charge__application_id__in=ids,
            charge__day__range=(first, today),
            source=ChargeCoverage.Source.ALLOWANCE,
        )
        .values("charge__application_id")
        .annotate(used=Sum("units_used"))
        .values_list("charge__application_id", "used")
    )
    rated = dict(
        RatedDay.objects.filter(application_id__in=ids, state=RatedDay.State.RATED)
        .values("application_id")
        .annotate(last=Max("day"))
        .values_list("application_id", "last")
    )
    included_by_region = {}
    for region in {app.region for app in applications}:
        entry = catalog.price_entries_in_force(
            item_codes=[ALLOWANCE_ITEM], region=region, day=today
        ).get(ALLOWANCE_ITEM)
        if entry is not None:
            included_by_region[region] = entry.included_quantity or ZERO
    result = {}
    for app in applications:
        if app.region in included_by_region:
            result[app.pk] = AllowanceLeft(
                included=included_by_region[app.region],
                used=used.get(app.pk) or ZERO,
                rated_through=rated.get(app.pk),
            )
    return result


def packs_left(*, applications: list[Application], today: dt.date) -> dict[int, list[PackLeft]]:
    """Per application id: the resource packs valid today (bought packs and the monthly
    minutes of call add-ons) with their units used, earliest-expiring first (one query)."""
    packs = (
        ResourcePack.objects.filter(
            application_id__in=[app.pk for app in applications],
            valid_from__lte=today,
            valid_until__gte=today,
        )
        .select_related("item")
        .annotate(used=Sum("chargecoverage__units_used"))
        .order_by("valid_until", "pk")
    )
    result: dict[int, list[PackLeft]] = defaultdict(list)
    for pack in packs:
        result[pack.application_id].append(PackLeft(pack, pack.used or ZERO))
    return result


@dataclass
class ApplicationSummary:
    application: Application
    period: EditionPeriod | None
    pending: EditionPeriod | None
    month_to_date: dict[str, Decimal]  # currency -> this application's lines so far
    allowance: AllowanceLeft | None
    packs: list[PackLeft]

    @property
    def edition(self) -> Edition | None:
        return self.period.edition if self.period else None


@dataclass
class AccountSummary:
    account: Account
    role: str
    applications: list[ApplicationSummary]
    month_to_date: list[MonthToDate]  # per currency, adjustments included
    balances: dict[str, Decimal]  # account_balances: negative is owed, positive a credit


def dashboard_for_user(*, user, today: dt.date | None = None) -> list[AccountSummary]:
    """Each of the user's accounts with its applications: edition, month-to-date estimate per
    currency, free minutes and pack units left this month."""
    today = today or billing_today()
    memberships = Membership.objects.filter(user=user).select_related("account")
    summaries = []
    for membership in memberships.order_by("account__name", "account_id"):
        account = membership.account
        applications = list(account.applications.order_by("sdkappid"))
        current, pending = editions_on(applications, today)
        allowances = allowances_left(applications=applications, today=today)
        packs = packs_left(applications=applications, today=today)
        estimates = month_to_date(account_id=account.pk, today=today)
        per_app: dict[int, dict[str, Decimal]] = defaultdict(dict)
        for estimate in estimates:
            for line in estimate.lines:
                app_id = line.get("application_id")
                if app_id is not None:
                    totals = per_app[app_id]
                    totals[estimate.currency] = totals.get(estimate.currency, ZERO) + line["amount"]
        summaries.append(
            AccountSummary(
                account=account,
                role=membership.get_role_display(),
                applications=[
                    ApplicationSummary(
                        application=app,
                        period=current.get(app.pk),
                        pending=pending.get(app.pk),
                        month_to_date=dict(sorted(per_app[app.pk].items())),
                        allowance=allowances.get(app.pk),
                        packs=packs.get(app.pk, []),
                    )
                    for app in applications
                ],
                month_to_date=estimates,
                balances=account_balances(account_id=account.pk),
            )
        )
    return summaries


def balances_for_user(*, user) -> list[tuple[Account, dict[str, Decimal]]]:
    """Each of the user's accounts with its balance per currency (``account_balances``)."""
    return [
        (account, account_balances(account_id=account.pk))
        for account in accounts_for_user(user=user)
    ]


@dataclass
class PurchaseOption:
    """An add-on option or a resource pack the application may buy now, at today's price."""

    item: BillableItem
    price: Decimal  # rounded, in ``currency``: per month (add-ons) or once (packs)
    currency: str
    included_quantity: Decimal | None  # call minutes a month, pack units
    validity_months: int | None


@dataclass
class SubscriptionRow:
    subscription: AddOnSubscription
    term: PrepaidTerm | None  # the prepaid term running today
    price: Decimal | None  # per month, today's price (postpaid: accrues by day)
    currency: str


@dataclass
class ApplicationOverview:
    application: Application
    today: dt.date
    period: EditionPeriod
    term: PrepaidTerm | None  # the edition's prepaid term running today (none on Trial)
    pending: EditionPeriod | None  # a change that takes effect later
    edition_targets: list[Edition]  # never Trial, never the current edition
    edition_blocked: str  # why no edition change is offered, when none is
    subscriptions: list[SubscriptionRow]
    addon_options: list[PurchaseOption]
    addon_blocked: str  # why the edition may not buy value-added services
    packs: list[PackLeft]
    pack_options: list[PurchaseOption]
    allowance: AllowanceLeft | None
    month_to_date: list[MonthToDate]


def application_overview(
    *, application: Application, today: dt.date | None = None
) -> ApplicationOverview:
    """Everything the application page shows except charts and charges."""
    today = today or billing_today()
    current, pending = editions_on([application], today)
    period = current.get(application.pk)
    if period is None:  # created with a future date: show the first period
        period = application.edition_periods.select_related("edition").order_by("starts_on")[0]
    edition = period.edition
    pending_period = pending.get(application.pk)
    items = list(BillableItem.objects.select_related("addon", "edition"))
    entries = catalog.price_entries_in_force(
        item_codes=[item.code for item in items], region=application.region, day=today
    )
    running_terms = {
        (term.item_id, term.subscription_id): term
        for term in PrepaidTerm.objects.filter(
            application=application, starts_on__lte=today, ends_on__gte=today
        ).select_related("item")
    }
    term = running_terms.get(
        (next((i.pk for i in items if i.code == edition_item_code(edition)), None), None)
    )

    # Edition change targets (SPEC 4.1): never Trial; what the region's price book sells.
    edition_blocked = ""
    targets = [
        e
        for e in Edition.objects.order_by("rank")
        if e.code != "trial" and e.pk != edition.pk and edition_item_code(e) in entries
    ]
    if application.status == Application.Status.CLOSED:
        targets, edition_blocked = [], "The application is closed."
    elif pending_period is not None:
        targets = []
        edition_blocked = (
            f"A change to {pending_period.edition.name} takes effect on "
            f"{pending_period.starts_on:%d %b %Y}."
        )

    # Add-ons: what runs, and what the edition may buy now (one option of each add-on).
    subscriptions = list(
        application.addon_subscriptions.filter(Q(ends_on__isnull=True) | Q(ends_on__gte=today))
        .select_related("item", "addon")
        .order_by("item__sort_order", "starts_on")
    )
    rows = []
    for subscription in subscriptions:
        entry = entries.get(subscription.item.code)
        rows.append(
            SubscriptionRow(
                subscription=subscription,
                term=running_terms.get((subscription.item_id, subscription.pk)),
                price=round_money(entry.unit_price, entry.currency) if entry else None,
                currency=entry.currency if entry else "",
            )
        )
    running_addons = {s.addon_id for s in subscriptions if s.ends_on is None}
    addon_blocked = ""
    if application.status != Application.Status.ACTIVE:
        addon_blocked = f"The application is {application.get_status_display().lower()}."
    elif not edition.may_buy_addons:
        addon_blocked = (
            f"{edition.name} cannot buy value-added services: upgrade to Pro or Ultimate."
        )
    addon_options = []
    if application.status == Application.Status.ACTIVE:
        for item in items:
            if item.addon is None or item.code not in entries or item.addon_id in running_addons:
                continue
            if item.addon.requires_addon_edition and not edition.may_buy_addons:
                continue
            if item.edition_id is not None and item.edition_id != edition.pk:
                continue
            addon_options.append(_option(item, entries[item.code]))
    pack_options = []
    if application.status != Application.Status.CLOSED:
        pack_options = [
            _option(item, entries[item.code])
            for item in items
            if item.kind == BillableItem.Kind.RESOURCE_PACK and item.code in entries
        ]
    return ApplicationOverview(
        application=application,
        today=today,
        period=period,
        term=term,
        pending=pending_period,
        edition_targets=targets,
        edition_blocked=edition_blocked,
        subscriptions=rows,
        addon_options=addon_options,
        addon_blocked=addon_blocked,
        packs=packs_left(applications=[application], today=today).get(application.pk, []),
        pack_options=pack_options,
        allowance=allowances_left(applications=[application], today=today).get(application.pk),
        month_to_date=month_to_date(
            account_id=application.account_id, today=today, application_id=application.pk
        ),
    )


def _option(item: BillableItem, entry) -> PurchaseOption:
    return PurchaseOption(
        item=item,
        price=round_money(entry.unit_price, entry.currency),
        currency=entry.currency,
        included_quantity=entry.included_quantity,
        validity_months=entry.validity_months,
    )


@dataclass
class ChargeDay:
    """The charges of one billing day (or, for monthly items, of the month)."""

    day: dt.date
    period: str
    charges: list[Charge]
    totals: dict[str, Decimal]  # currency -> exact sum


def application_charges(
    *, application: Application, month: dt.date, item_code: str | None = None
) -> list[ChargeDay]:
    """The rated charges of one application in one month with their explanations, newest day
    first; monthly items (IM overage, message history) as their own group."""
    charges = (
        Charge.objects.filter(
            application=application, day__range=(month_start(month), month_end(month))
        )
        .select_related("item")
        .order_by("-period", "-day", "item__sort_order", "item__code")
    )
    if item_code:
        charges = charges.filter(item__code=item_code)
    groups: dict[tuple[str, dt.date], ChargeDay] = {}
    for charge in charges:
        key = (charge.period, charge.day)
        group = groups.setdefault(key, ChargeDay(charge.day, charge.period, [], {}))
        group.charges.append(charge)
        group.totals[charge.currency] = group.totals.get(charge.currency, ZERO) + charge.amount
    return list(groups.values())


def charge_months(*, application: Application) -> list[dt.date]:
    """The months in which the application has charges, newest first."""
    days = Charge.objects.filter(application=application).dates("day", "month", order="DESC")
    return list(days)

"""Reads that are more than a lookup. Views, the API and the admin call these."""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, DecimalField, Max, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce, ExtractHour

from accounts.models import Account, Membership
from billing import catalog
from billing.calendar import billing_today, billing_tz, month_end, month_start
from billing.display import local_date
from billing.errors import BillingError
from billing.models import (
    AddOnSubscription,
    Adjustment,
    Application,
    BillableItem,
    Charge,
    ChargeCoverage,
    CreditNote,
    Currency,
    Edition,
    EditionPeriod,
    Invoice,
    Metric,
    Payment,
    PrepaidTerm,
    RatedDay,
    ResourcePack,
)
from billing.money import ZERO, round_money
from billing.rating.moderation import counted_minutes
from billing.rating.terms import proration_credit, term_bounds
from billing.rating.trtc import seconds_to_minutes


def applications_for_user(*, user) -> QuerySet[Application]:
    """The applications of every account the user is a member of."""
    return (
        Application.objects.filter(account__memberships__user=user)
        .select_related("account")
        .order_by("account__name", "sdkappid")
    )


@dataclass
class MonthToDate:
    """What the running month would bill if it closed now, in one currency."""

    currency: str
    month: dt.date
    lines: list[dict]
    total: Decimal


def month_to_date(
    *, account_id: int, today: dt.date | None = None, application_id: int | None = None
) -> list[MonthToDate]:
    """Per currency: the draft's lines (usage rated so far, prepaid purchases, credits,
    adjustments) plus the monthly items computed now with the same pure rules the monthly job
    uses (IM overage so far, message history accrued so far). Nothing is written.

    With ``application_id``: only that application's lines (no account adjustments)."""
    from billing.services.applications import edition_periods_by_application
    from billing.services.invoicing import _line_specs_bulk
    from billing.services.rating import (
        _Catalog,
        _entries_by_id,
        _postpaid_subscriptions,
        month_measures,
        rate_month_drafts,
    )

    today = today or billing_today()
    month = month_start(today)
    last = min(month_end(month), today)
    job_catalog = _Catalog()
    lines: dict[str, list[dict]] = defaultdict(list)
    specs = _line_specs_bulk([account_id], month)
    for currency in Currency.values:
        lines[currency] += [
            spec
            for spec in specs.get((account_id, currency), [])
            if application_id is None or spec.get("application_id") == application_id
        ]
    adjustments = Adjustment.objects.filter(invoice__account_id=account_id, invoice__month=month)
    if application_id is not None:
        adjustments = adjustments.none()
    for adjustment in adjustments.select_related("invoice"):
        lines[adjustment.invoice.currency].append(
            {
                "kind": "adjustment",
                "description": adjustment.reason,
                "exact_amount": adjustment.amount,
            }
        )
    applications = Application.objects.filter(account_id=account_id).order_by("sdkappid")
    if application_id is not None:
        applications = applications.filter(pk=application_id)
    applications = list(applications)
    # The monthly items of every application at once: measures, add-ons and price entries
    # in one query each, whatever the number of applications.
    periods = edition_periods_by_application([app.pk for app in applications])
    applications = [
        app for app in applications if any(p.starts_on <= today for p in periods[app.pk])
    ]
    ids = [app.pk for app in applications]
    measures = month_measures(ids, month, last, periods)
    subscriptions = _postpaid_subscriptions(ids, month, last)
    drafts_of = {
        app.pk: rate_month_drafts(
            app,
            month,
            job_catalog,
            through=today,
            measures=measures.get(app.pk, []),
            subscriptions=subscriptions[app.pk],
        )
        for app in applications
    }
    entries = _entries_by_id([draft for drafts in drafts_of.values() for draft in drafts])
    for application in applications:
        for draft in drafts_of[application.pk]:
            entry = entries[draft.price_entry_id]
            lines[entry.price_book.currency].append(
                {
                    "kind": "usage",
                    "application_id": application.pk,
                    "item_code": draft.item_code,
                    "description": (
                        f"{job_catalog.items[draft.item_code].name}, {application.name} "
                        f"({application.sdkappid}), so far: {draft.explanation}"
                    ),
                    "quantity": draft.billable_quantity,
                    "unit_price": draft.unit_price,
                    "exact_amount": draft.amount,
                    # After the application's daily usage lines (sort keys of _line_specs).
                    "sort_key": f"{application.sdkappid}-3-{draft.item_code}",
                    # A monthly item as it stands today (SPEC 8): an estimate until the close.
                    "estimate": True,
                }
            )
    result = []
    for currency, currency_lines in lines.items():
        if not currency_lines:
            continue
        # The invoice's order: per application, purchases, then usage, then monthly items;
        # account adjustments last.
        currency_lines.sort(key=lambda line: line.get("sort_key") or "~")
        for line in currency_lines:
            line["amount"] = round_money(line["exact_amount"], currency)
        total = sum((line["amount"] for line in currency_lines), Decimal(0))
        result.append(MonthToDate(currency, month, currency_lines, total))
    return result


def invoice_credited(invoice: Invoice) -> Decimal:
    """The sum of the credit notes issued against an invoice."""
    return invoice.credit_notes.aggregate(s=Sum("amount"))["s"] or ZERO


def invoice_amount_due(invoice: Invoice) -> Decimal:
    """What the customer still owes on an issued invoice: its total less credit notes and
    payments made against it (never below zero; an overpayment credits the balance). A draft
    or a void invoice is not due."""
    if invoice.state in (Invoice.State.DRAFT, Invoice.State.VOID):
        return ZERO
    paid = invoice.payments.aggregate(s=Sum("amount"))["s"] or ZERO
    return max(ZERO, invoice.total - invoice_credited(invoice) - paid)


def account_balances(*, account_id: int) -> dict[str, Decimal]:
    """Per currency: payments plus credit notes minus what was invoiced (issued invoices,
    void ones excluded). Negative means the customer owes that much; positive is a credit."""
    balances: dict[str, Decimal] = {}
    issued = Invoice.objects.filter(
        account_id=account_id, state__in=[Invoice.State.FINALIZED, Invoice.State.PAID]
    )
    for currency, total in issued.values_list("currency").annotate(s=Sum("total")):
        balances[currency] = balances.get(currency, ZERO) - total
    for model, filters in (
        (Payment, {"account_id": account_id}),
        (CreditNote, {"invoice__account_id": account_id}),
    ):
        rows = model.objects.filter(**filters).values_list("currency").annotate(s=Sum("amount"))
        for currency, amount in rows:
            balances[currency] = balances.get(currency, ZERO) + amount
    return {currency: balances[currency] for currency in sorted(balances)}


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

    from billing.calendar import month_end
    from billing.models import Charge, UsageEvent

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


# --------------------------------------------------------------------------------------------
# What a customer sees (portal pages, the REST API): always scoped to the user's accounts
# --------------------------------------------------------------------------------------------

ALLOWANCE_ITEM = "trtc.free_minutes"


def accounts_for_user(*, user) -> QuerySet[Account]:
    """The accounts the user is a member of."""
    return Account.objects.filter(memberships__user=user).order_by("name", "pk")


def invoices_for_user(*, user) -> QuerySet[Invoice]:
    """Every invoice of the user's accounts, drafts included, newest month first, with what
    was credited and paid against each (``credited``, ``paid``)."""
    money = DecimalField(max_digits=18, decimal_places=2)
    credited = (
        CreditNote.objects.filter(invoice=OuterRef("pk"))
        .values("invoice")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    paid = (
        Payment.objects.filter(invoice=OuterRef("pk"))
        .values("invoice")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return (
        Invoice.objects.filter(account__memberships__user=user)
        .select_related("account")
        .annotate(
            credited=Coalesce(Subquery(credited, output_field=money), ZERO, output_field=money),
            paid=Coalesce(Subquery(paid, output_field=money), ZERO, output_field=money),
        )
        .order_by("-month", "account__name", "currency")
    )


def amount_due(invoice: Invoice, *, credited: Decimal, paid: Decimal) -> Decimal:
    """``invoice_amount_due`` with the credit notes and payments already summed (the invoice
    list annotates them, so a page of invoices costs one query): the same rule."""
    if invoice.state in (Invoice.State.DRAFT, Invoice.State.VOID):
        return ZERO
    return max(ZERO, invoice.total - credited - paid)


def credit_notes_for_user(*, user) -> QuerySet[CreditNote]:
    return (
        CreditNote.objects.filter(invoice__account__memberships__user=user)
        .select_related("invoice", "invoice__account")
        .order_by("-created_at", "-pk")
    )


def payments_for_user(*, user) -> QuerySet[Payment]:
    return (
        Payment.objects.filter(account__memberships__user=user)
        .select_related("invoice", "account")
        .order_by("-received_at", "-pk")
    )


# --- Free allowance and resource packs left --------------------------------------------------


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


def _editions_on(applications: list[Application], today: dt.date):
    """Per application id: the edition period covering today and a later scheduled one."""
    periods = EditionPeriod.objects.filter(
        application_id__in=[app.pk for app in applications]
    ).filter(Q(ends_on__isnull=True) | Q(ends_on__gte=today))
    current, pending = {}, {}
    for period in periods.select_related("edition").order_by("starts_on"):
        if period.starts_on <= today:
            current[period.application_id] = period
        else:
            pending[period.application_id] = period
    return current, pending


# --- Dashboard ---------------------------------------------------------------------------------


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
        current, pending = _editions_on(applications, today)
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


# --- Application page --------------------------------------------------------------------------


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


def _edition_item_code(edition: Edition) -> str:
    return f"im.edition.{edition.code}"


def application_overview(
    *, application: Application, today: dt.date | None = None
) -> ApplicationOverview:
    """Everything the application page shows except charts and charges."""
    today = today or billing_today()
    current, pending = _editions_on([application], today)
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
        (next((i.pk for i in items if i.code == _edition_item_code(edition)), None), None)
    )

    # Edition change targets (SPEC 4.1): never Trial; what the region's price book sells.
    edition_blocked = ""
    targets = [
        e
        for e in Edition.objects.order_by("rank")
        if e.code != "trial" and e.pk != edition.pk and _edition_item_code(e) in entries
    ]
    if application.status == Application.Status.CLOSED:
        targets, edition_blocked = [], "The application is closed."
    elif pending_period is not None:
        targets = []
        edition_blocked = (
            f"A change to {pending_period.edition.name} takes effect on "
            f"{local_date(pending_period.starts_on)}."
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


# --- Edition change preview --------------------------------------------------------------------


@dataclass
class EditionTerms:
    """What an edition includes in the application's region (SPEC 4.1)."""

    edition: Edition
    monthly_fee: Decimal
    currency: str
    dau_included: Decimal | None
    groups_included: Decimal | None


@dataclass
class EditionChangePreview:
    """The consequences of ``edition_change`` before it is confirmed, computed with the same
    rules: when it takes effect, the new term and its fee, the proration credit."""

    application: Application
    current: EditionTerms
    target: EditionTerms
    is_upgrade: bool
    takes_effect_on: dt.date
    new_term_starts_on: dt.date
    new_term_ends_on: dt.date
    current_term: PrepaidTerm | None
    credit: Decimal  # proration credit for the unused days of the current term
    credit_explanation: str
    charged_now: Decimal  # on this month's invoice: the new term's fee less the credit
    invoice_month: dt.date  # the month whose invoice carries the new term's fee
    addons_not_sold_on_target: list[str] = field(default_factory=list)

    @property
    def currency(self) -> str:
        return self.target.currency


def _edition_terms(edition: Edition, region: str, day: dt.date) -> EditionTerms:
    codes = [
        _edition_item_code(edition),
        f"im.overage.dau.{edition.code}",
        f"im.overage.groups.{edition.code}",
    ]
    entries = catalog.price_entries_in_force(item_codes=codes, region=region, day=day)
    fee = entries.get(codes[0])
    if fee is None:
        raise BillingError(
            f"{edition.name} is not sold in region {region}.", code="not_sold", field="edition"
        )
    dau, groups = entries.get(codes[1]), entries.get(codes[2])
    return EditionTerms(
        edition=edition,
        monthly_fee=round_money(fee.unit_price, fee.currency),
        currency=fee.currency,
        dau_included=dau.included_quantity if dau else None,
        groups_included=groups.included_quantity if groups else None,
    )


def edition_change_preview(
    *, application: Application, edition_code: str, today: dt.date | None = None
) -> EditionChangePreview:
    """What ``billing.services.applications.edition_change`` would do today, written nowhere.
    Raises the BillingError the change itself would raise (Trial, unchanged, pending, closed,
    finalized month), so the page can say so before anything is confirmed."""
    from billing.services.applications import edition_change_refusal_check

    day = today or billing_today()
    target = catalog.edition_by_code(edition_code)
    period = edition_change_refusal_check(application=application, target=target, day=day)
    current = period.edition
    current_term = (
        PrepaidTerm.objects.filter(
            application=application,
            item__code=_edition_item_code(current),
            starts_on__lte=day,
            ends_on__gte=day,
        )
        .select_related("item")
        .first()
    )
    is_upgrade = target.rank > current.rank
    credit, credit_explanation = ZERO, ""
    if is_upgrade:
        # SPEC 4.1 (ours): at once; a new term starts today; the unused days come back.
        takes_effect_on = day
        if current_term is not None:
            credit, credit_explanation = proration_credit(
                current_term.amount,
                current_term.starts_on,
                current_term.ends_on,
                day,
                current_term.currency,
            )
    else:
        # Downgrade: when the current term ends.
        takes_effect_on = (
            current_term.ends_on + dt.timedelta(days=1) if current_term is not None else day
        )
    target_terms = _edition_terms(target, application.region, takes_effect_on)
    new_starts, new_ends = term_bounds(takes_effect_on, 0)
    charged_now = target_terms.monthly_fee - credit if takes_effect_on == day else ZERO
    not_sold = [
        s.item.name
        for s in application.addon_subscriptions.filter(ends_on__isnull=True).select_related("item")
        if s.item.edition_id is not None and s.item.edition_id != target.pk
    ]
    return EditionChangePreview(
        application=application,
        current=_edition_terms(current, application.region, day),
        target=target_terms,
        is_upgrade=is_upgrade,
        takes_effect_on=takes_effect_on,
        new_term_starts_on=new_starts,
        new_term_ends_on=new_ends,
        current_term=current_term,
        credit=credit,
        credit_explanation=credit_explanation,
        charged_now=charged_now,
        invoice_month=month_start(takes_effect_on),
        addons_not_sold_on_target=not_sold,
    )


# --- Usage charts ------------------------------------------------------------------------------


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


# --- Charges -----------------------------------------------------------------------------------


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

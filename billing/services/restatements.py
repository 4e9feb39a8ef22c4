"""Restatements: late usage of a closed month, billed through review (SPEC 6, 7).

An event accepted for a month whose invoice is finalized (within the late-usage window) is
stored with ``late`` set and never touches that invoice. Per account, currency and closed
month with late events, a restatement rates the affected items again with the late events
included, by the pure rules of ``billing.rating``, and compares the result with what was
billed so far (the finalized invoice plus the restatements approved before):

- the finalized invoice never changes;
- late minutes may use only the free allowance the month had left (what its charges did not
  use), in day order and, within a day, in the allowance's order;
- resource packs are not drawn again (later months have used them): what the allowance does
  not cover is billed at the postpaid price;
- IM overage is recomputed from the month's new peak;
- prices are those in force on each day (the monthly items: on the month's last day);
- only the difference is billed, once approved: lines "Late usage for <month>" on the
  running month's draft, or a credit note against the closed invoice when negative.

One computation (``_plans``) serves the daily job, ``manage.py restate``, the review pages
and the approval: approval recomputes under the account's exclusive application locks
(``billing.locks``; late ingestion waits) and refuses when the result differs from what
was reviewed (its ``digest``), storing the new result for a new review.
"""

import datetime as dt
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import Max, Sum
from django.utils import timezone

from billing.audit import audit_record_create
from billing.calendar import billing_today, month_end, month_start
from billing.errors import BillingError
from billing.locks import applications_lock
from billing.models import (
    Application,
    Charge,
    ChargeCoverage,
    CreditNote,
    Currency,
    Invoice,
    InvoiceLine,
    Metric,
    Restatement,
    RestatementLine,
    UsageEvent,
)
from billing.money import ZERO, round_money
from billing.rating.moderation import rate_moderation_day
from billing.rating.text import money_text, price_text, qty
from billing.rating.trtc import rate_trtc_day, seconds_to_minutes
from billing.selectors.drafts import MODERATION_ITEMS, MODERATION_UNIT_ITEM, rate_month_drafts
from billing.selectors.prices import ALLOWANCE_ITEM, PriceCatalog
from billing.selectors.restatements import LateEventGroup, late_event_groups
from billing.selectors.usage import aggregate_day, month_measures
from billing.services.invoicing import document_number_next, invoice_total_update

State = Restatement.State
MONTHLY_METRICS = frozenset({Metric.IM_LOGIN, Metric.IM_GROUP_COUNT})
OVERAGE_PREFIX = "im.overage."


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------


def auto_approve_thresholds() -> dict[str, Decimal]:
    """RESTATEMENT_AUTO_APPROVE_BELOW, "CNY=50,USD=5": per currency, the amount below which a
    restatement is approved without review. A currency not named: 0 (always reviewed)."""
    text = settings.RESTATEMENT_AUTO_APPROVE_BELOW
    if isinstance(text, dict):
        return {currency: Decimal(str(value)) for currency, value in text.items()}
    thresholds: dict[str, Decimal] = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        currency, _, amount = part.partition("=")
        currency = currency.strip().upper()
        try:
            value = Decimal(amount.strip())
        except ArithmeticError:
            value = None
        if currency not in Currency.values or value is None or not value.is_finite() or value < 0:
            raise ImproperlyConfigured(
                f"RESTATEMENT_AUTO_APPROVE_BELOW: {part!r} is not CURRENCY=AMOUNT with a "
                f"currency among {', '.join(Currency.values)} and an amount >= 0, e.g. CNY=50."
            )
        thresholds[currency] = value
    return thresholds


# --------------------------------------------------------------------------------------------
# The computation
# --------------------------------------------------------------------------------------------


@dataclass
class PlannedLine:
    """One item of one application: billed so far and with the late events included."""

    application: Application
    item_code: str
    item_id: int
    item_name: str
    sort_order: int
    currency: str
    days: set = field(default_factory=set)
    quantity_before: Decimal = ZERO  # used in the month, as billed so far
    quantity_after: Decimal = ZERO
    exact_before: Decimal = ZERO  # the finalized charges' exact sum
    exact_after: Decimal = ZERO
    billed_before: Decimal | None = None  # rounded: the invoice's line plus approved changes
    why: list[str] = field(default_factory=list)

    @property
    def amount_before(self) -> Decimal:
        if self.billed_before is not None:
            return self.billed_before
        return round_money(self.exact_before, self.currency)

    @property
    def amount_after(self) -> Decimal:
        return round_money(self.exact_after, self.currency)

    @property
    def difference(self) -> Decimal:
        return self.amount_after - self.amount_before

    @property
    def explanation(self) -> str:
        return " ".join(self.why) or "No change from the late usage."

    @property
    def sort_key(self) -> str:
        return f"{self.application.sdkappid}-{self.sort_order:04d}-{self.item_code}"[:80]

    def as_digest(self) -> list:
        return [
            self.application.pk,
            self.item_code,
            sorted(day.isoformat() for day in self.days),
            str(self.quantity_before),
            str(self.quantity_after),
            str(self.amount_before),
            str(self.amount_after),
        ]


@dataclass
class RestatementPlan:
    account_id: int
    currency: str
    month: dt.date
    lines: list[PlannedLine]
    late_events: int
    last_event_id: int
    closed_invoice_id: int | None

    @property
    def amount_before(self) -> Decimal:
        return sum((line.amount_before for line in self.lines), ZERO)

    @property
    def amount_after(self) -> Decimal:
        return sum((line.amount_after for line in self.lines), ZERO)

    @property
    def difference(self) -> Decimal:
        return self.amount_after - self.amount_before

    @property
    def digest(self) -> str:
        payload = [
            self.account_id,
            self.currency,
            self.month.isoformat(),
            self.late_events,
            self.last_event_id,
            [line.as_digest() for line in self.lines],
        ]
        return hashlib.sha256(json.dumps(payload).encode()).hexdigest()[:32]


class _Month:
    """What the finalized month billed for some applications: charges per (application,
    item, day, period), totals per (application, item) and the allowance their charges used."""

    def __init__(self, application_ids: list[int], first: dt.date):
        last = month_end(first)
        self.charges: dict[tuple, Charge] = {}
        self.totals: dict[tuple[int, str], tuple[Decimal, Decimal]] = defaultdict(
            lambda: (ZERO, ZERO)
        )
        for charge in Charge.objects.filter(
            application_id__in=application_ids, day__range=(first, last)
        ).select_related("item"):
            code = charge.item.code
            self.charges[(charge.application_id, code, charge.day, charge.period)] = charge
            quantity, amount = self.totals[(charge.application_id, code)]
            self.totals[(charge.application_id, code)] = (
                quantity + charge.quantity,
                amount + charge.amount,
            )
        self.allowance_used: dict[int, Decimal] = defaultdict(lambda: ZERO)
        for application_id, used in (
            ChargeCoverage.objects.filter(
                charge__application_id__in=application_ids,
                charge__day__range=(first, last),
                source=ChargeCoverage.Source.ALLOWANCE,
            )
            .values_list("charge__application_id")
            .annotate(used=Sum("units_used"))
            .order_by()
        ):
            self.allowance_used[application_id] += used

    def quantity(self, application_id: int, code: str, day: dt.date, period: str) -> Decimal:
        charge = self.charges.get((application_id, code, day, period))
        return charge.quantity if charge is not None else ZERO


def _plans(account_id: int, month: dt.date) -> dict[str, RestatementPlan]:
    """Per currency with late events: the restatement of (account, month) as it stands."""
    first = month_start(month)
    groups = late_event_groups(account_id=account_id, month=first)
    if not groups:
        return {}
    catalog = PriceCatalog()
    applications = Application.objects.in_bulk({group.application_id for group in groups})
    billed = _Month(sorted(applications), first)
    lines: dict[tuple[int, str], PlannedLine] = {}

    def line_for(application: Application, code: str, currency: str) -> PlannedLine:
        key = (application.pk, code)
        if key not in lines:
            item = catalog.items[code]
            quantity, exact_amount = billed.totals[key]
            lines[key] = PlannedLine(
                application=application,
                item_code=code,
                item_id=item.pk,
                item_name=item.name,
                sort_order=item.sort_order,
                currency=currency,
                quantity_before=quantity,
                quantity_after=quantity,
                exact_before=exact_amount,
                exact_after=exact_amount,
            )
        return lines[key]

    by_application: dict[int, list[LateEventGroup]] = defaultdict(list)
    for group in groups:
        by_application[group.application_id].append(group)
    for application in sorted(applications.values(), key=lambda app: app.sdkappid):
        app_groups = by_application[application.pk]
        days = _daily_late_days(application, app_groups, first)
        _restate_days(application, days, billed, catalog, line_for)
        if any(group.metric in MONTHLY_METRICS for group in app_groups):
            _restate_overage(application, first, billed, catalog, line_for)

    _apply_approved(account_id, first, lines, line_for, applications)
    plans: dict[str, RestatementPlan] = {}
    closed = dict(
        Invoice.objects.filter(account_id=account_id, month=first)
        .exclude(state=Invoice.State.DRAFT)
        .values_list("currency", "pk")
    )
    for currency in sorted({group.currency for group in groups if group.currency}):
        currency_groups = [group for group in groups if group.currency == currency]
        currency_lines = sorted(
            (
                line
                for line in lines.values()
                if line.currency == currency
                and (line.difference != 0 or line.quantity_after != line.quantity_before)
            ),
            key=lambda line: line.sort_key,
        )
        plans[currency] = RestatementPlan(
            account_id=account_id,
            currency=currency,
            month=first,
            lines=currency_lines,
            late_events=sum(group.events for group in currency_groups),
            last_event_id=max(group.last_event_id for group in currency_groups),
            closed_invoice_id=closed.get(currency),
        )
    return plans


def _daily_late_days(application, groups: list[LateEventGroup], first: dt.date) -> list:
    """The days with late events of daily items (moderation, TRTC), in order."""
    metrics = [group.metric for group in groups if group.metric not in MONTHLY_METRICS]
    if not metrics:
        return []
    return sorted(
        UsageEvent.objects.filter(
            application=application,
            billing_day__range=(first, month_end(first)),
            metric__in=metrics,
            late=True,
        )
        .values_list("billing_day", flat=True)
        .distinct()
        .order_by("billing_day")
    )


def _restate_days(application, days, billed: _Month, catalog: PriceCatalog, line_for) -> None:
    """Late TRTC minutes and moderation units of each day, by the daily rules, with the
    allowance the month had left and no packs."""
    allowance_late = ZERO  # allowance minutes the late minutes of earlier days took
    for day in days:
        usage = aggregate_day([application.pk], day)[application.pk]
        prices = catalog.prices(application.region, day)
        currency_of = catalog.currencies(application.region, day)
        late_minutes = {}
        for code, seconds in usage.trtc_seconds.items():
            minutes = seconds_to_minutes(seconds)
            before = billed.quantity(application.pk, code, day, Charge.Period.DAY)
            if minutes > before:
                late_minutes[code] = minutes - before
        if late_minutes:
            order = sorted(late_minutes, key=lambda code: catalog.items[code].sort_order)
            allowance = prices.get(ALLOWANCE_ITEM)
            included = (allowance.included_quantity or ZERO) if allowance else ZERO
            left = max(ZERO, included - billed.allowance_used[application.pk] - allowance_late)
            drafts, used, _ = rate_trtc_day(
                minutes_by_item={code: late_minutes[code] for code in order},
                prices={code: prices[code] for code in order},
                allowance_left=left,
                allowance_items=[c for c in order if catalog.items[c].uses_free_allowance],
                packs=(),  # packs are not drawn again (SPEC 6)
                currency=currency_of[order[0]],
                item_names={code: catalog.items[code].name for code in order},
            )
            allowance_late += used
            for draft in drafts:
                line = line_for(application, draft.item_code, currency_of[draft.item_code])
                line.days.add(day)
                line.quantity_after += draft.quantity
                line.exact_after += draft.amount
                line.why.append(
                    f"{day:%d %b %Y}: {qty(draft.quantity)} min arrived late; the month had "
                    f"{qty(left)} free min left and resource packs are not drawn again. "
                    f"{draft.explanation}"
                )
                left = max(ZERO, left - (draft.quantity - draft.billable_quantity))
        timed = usage.moderation_seconds.values()
        if usage.moderation_counts or any(any(hours.values()) for hours in timed):
            _restate_moderation_day(application, day, usage, prices, currency_of, billed, line_for)


def _restate_moderation_day(application, day, usage, prices, currency_of, billed, line_for):
    """The day's deduction units by the moderation rules (30 s rule per clock hour), with the
    late events; the units added are billed at the unit price (packs are not drawn again)."""
    by_type, _ = rate_moderation_day(
        text_count=usage.moderation_counts.get("text", ZERO),
        image_count=usage.moderation_counts.get("image", ZERO),
        audio_seconds_by_hour=usage.moderation_seconds["audio"],
        video_seconds_by_hour=usage.moderation_seconds["video"],
        ratios={kind: prices[code] for kind, code in MODERATION_ITEMS.items()},
        unit_price=prices[MODERATION_UNIT_ITEM],
        packs=(),
        item_codes=MODERATION_ITEMS,
        currency=currency_of[MODERATION_UNIT_ITEM],
    )
    units_after = sum((draft.quantity for draft in by_type), ZERO)
    units_before = billed.quantity(application.pk, MODERATION_UNIT_ITEM, day, Charge.Period.DAY)
    if units_after <= units_before:
        return
    late_units = units_after - units_before
    price = prices[MODERATION_UNIT_ITEM]
    amount = price.amount_for(late_units)
    currency = currency_of[MODERATION_UNIT_ITEM]
    kinds = {code: kind for kind, code in MODERATION_ITEMS.items()}
    breakdown = ", ".join(
        f"{kinds.get(draft.item_code, draft.item_code)} {qty(draft.quantity)}" for draft in by_type
    )
    unit_price = price_text(price.unit_price, price.per_quantity, "unit", currency)
    line = line_for(application, MODERATION_UNIT_ITEM, currency)
    line.days.add(day)
    line.quantity_after += late_units
    line.exact_after += amount
    line.why.append(
        f"{day:%d %b %Y}: cloud moderation {qty(units_after)} deduction units with the late "
        f"events ({breakdown}), {qty(units_before)} billed before. {qty(late_units)} units "
        "arrived late; resource packs are not drawn again. "
        f"{qty(late_units)} units billed x {unit_price} = {money_text(amount, currency)}."
    )


def _restate_overage(application, first, billed: _Month, catalog: PriceCatalog, line_for) -> None:
    """IM overage from the month's new peak (every login and group count, late ones too)."""
    measures = month_measures([application.pk], first, month_end(first)).get(application.pk, [])
    after = {
        draft.item_code: draft
        for draft in rate_month_drafts(
            application, first, catalog, measures=measures, subscriptions=[]
        )
        if draft.item_code.startswith(OVERAGE_PREFIX)
    }
    before = {
        code: charge
        for (app_id, code, _, period), charge in billed.charges.items()
        if app_id == application.pk
        and period == Charge.Period.MONTH
        and code.startswith(OVERAGE_PREFIX)
    }
    currency_of = catalog.currencies(application.region, month_end(first))
    for code in sorted(set(before) | set(after)):
        old, new = before.get(code), after.get(code)
        old_amount, new_amount = (old.amount if old else ZERO), (new.amount if new else ZERO)
        old_blocks, new_blocks = (old.quantity if old else ZERO), (new.quantity if new else ZERO)
        if old_amount == new_amount and old_blocks == new_blocks:
            continue
        line = line_for(application, code, currency_of[code])
        peak = (new.details if new else {}).get("peak_day")
        if peak:
            line.days.add(dt.date.fromisoformat(peak))
        line.quantity_after += new_blocks - old_blocks
        line.exact_after += new_amount - old_amount
        line.why.append(
            f"Billed before: {old.explanation if old else 'no overage.'} "
            f"With the late events: {new.explanation if new else 'no overage.'}"
        )


def _apply_approved(account_id, first, lines, line_for, applications) -> None:
    """What earlier approved restatements of the month billed is part of "billed so far"."""
    approved = RestatementLine.objects.filter(
        restatement__account_id=account_id,
        restatement__month=first,
        restatement__state=State.APPROVED,
    ).select_related("application", "item", "restatement")
    billed_extra: dict[tuple[int, str], Decimal] = defaultdict(lambda: ZERO)
    last_quantity: dict[tuple[int, str], tuple[int, Decimal]] = {}
    for row in approved:
        key = (row.application_id, row.item.code)
        billed_extra[key] += row.difference
        seen = last_quantity.get(key)
        if seen is None or seen[0] < row.restatement_id:
            last_quantity[key] = (row.restatement_id, row.quantity_after)
        if key not in lines:
            applications.setdefault(row.application_id, row.application)
            line_for(row.application, row.item.code, row.restatement.currency)
    for key, extra in billed_extra.items():
        line = lines[key]
        line.billed_before = round_money(line.exact_before, line.currency) + extra
        line.quantity_before = last_quantity[key][1]


# --------------------------------------------------------------------------------------------
# Storing, refreshing, deciding
# --------------------------------------------------------------------------------------------


def _store(restatement: Restatement, plan: RestatementPlan, now) -> Restatement:
    """Write ``plan`` into a pending restatement (replacing its lines)."""
    restatement.closed_invoice_id = plan.closed_invoice_id
    restatement.late_events = plan.late_events
    restatement.last_event_id = plan.last_event_id
    restatement.amount_before = plan.amount_before
    restatement.amount_after = plan.amount_after
    restatement.difference = plan.difference
    restatement.digest = plan.digest
    restatement.computed_at = now
    restatement.save()
    restatement.lines.all().delete()
    RestatementLine.objects.bulk_create(
        [
            RestatementLine(
                restatement=restatement,
                application=line.application,
                item_id=line.item_id,
                days=sorted(day.isoformat() for day in line.days),
                quantity_before=line.quantity_before,
                quantity_after=line.quantity_after,
                amount_before=line.amount_before,
                amount_after=line.amount_after,
                difference=line.difference,
                explanation=line.explanation,
                sort_key=line.sort_key,
            )
            for line in plan.lines
        ]
    )
    return restatement


def _lock_account(account_id: int) -> None:
    """The account's applications, exclusively: late ingestion for them waits until commit."""
    ids = Application.objects.filter(account_id=account_id).values_list("pk", flat=True)
    applications_lock(ids)


@dataclass
class RefreshResult:
    created: int = 0
    recomputed: int = 0
    unchanged: int = 0
    auto_approved: int = 0
    restatements: list[Restatement] = field(default_factory=list)


def restatements_refresh(*, account_id: int, month: dt.date, today: dt.date | None = None):
    """Compute the restatements of an account's closed month (each currency with late events
    not yet decided): create or recompute the pending one, and approve it automatically when
    its difference is below RESTATEMENT_AUTO_APPROVE_BELOW. Idempotent: a rerun with no new
    late events changes nothing."""
    first = month_start(month)
    result = RefreshResult()
    thresholds = auto_approve_thresholds()
    with transaction.atomic():
        _lock_account(account_id)
        now = timezone.now()
        for currency, plan in _plans(account_id, first).items():
            existing = list(
                Restatement.objects.select_for_update()
                .filter(account_id=account_id, currency=currency, month=first)
                .order_by("pk")
            )
            pending = next((r for r in existing if r.state == State.PENDING), None)
            decided = [r for r in existing if r.state != State.PENDING]
            if pending is None and any(r.last_event_id >= plan.last_event_id for r in decided):
                result.unchanged += 1  # every late event is in a decided restatement
                continue
            if pending is not None and pending.digest == plan.digest:
                result.unchanged += 1
                result.restatements.append(pending)
                continue
            if pending is None:
                pending = Restatement(account_id=account_id, currency=currency, month=first)
                result.created += 1
            else:
                result.recomputed += 1
            _store(pending, plan, now)
            result.restatements.append(pending)
            threshold = thresholds.get(currency, ZERO)
            if ZERO <= plan.difference < threshold:
                _approve_locked(
                    pending,
                    plan,
                    actor=None,
                    today=today,
                    auto=True,
                    reason=(
                        f"Approved automatically: the difference {plan.difference} {currency} "
                        f"is below RESTATEMENT_AUTO_APPROVE_BELOW ({threshold} {currency})."
                    ),
                )
                result.auto_approved += 1
    return result


def late_months_due(*, today: dt.date | None = None) -> list[tuple[int, dt.date]]:
    """(account, month) pairs with late events that no restatement includes yet, among the
    months still within the late-usage window."""
    today = today or billing_today()
    earliest = month_start(today - dt.timedelta(days=settings.LATE_USAGE_WINDOW_DAYS + 31))
    latest: dict[tuple[int, dt.date], int] = defaultdict(int)
    for account_id, day, event_id in (
        UsageEvent.objects.filter(late=True, billing_day__gte=earliest)
        .values_list("application__account_id", "billing_day")
        .annotate(last=Max("id"))
        .order_by()
    ):
        key = (account_id, month_start(day))
        latest[key] = max(latest[key], event_id)
    if not latest:
        return []
    covered: dict[tuple[int, dt.date], int] = defaultdict(int)
    for account_id, month, last in (
        Restatement.objects.filter(account_id__in={a for a, _ in latest}, month__gte=earliest)
        .values_list("account_id", "month")
        .annotate(last=Max("last_event_id"))
        .order_by()
    ):
        covered[(account_id, month)] = last
    return sorted(key for key, last in latest.items() if covered[key] < last)


def restatements_refresh_due(*, today: dt.date | None = None) -> RefreshResult:
    """The daily job's step: restate every closed month that received late events since."""
    total = RefreshResult()
    for account_id, month in late_months_due(today=today):
        result = restatements_refresh(account_id=account_id, month=month, today=today)
        for name in ("created", "recomputed", "unchanged", "auto_approved"):
            setattr(total, name, getattr(total, name) + getattr(result, name))
        total.restatements += result.restatements
    return total


def _require_staff(actor, what: str) -> None:
    if getattr(actor, "pk", None) is None:
        raise BillingError(
            f"{what} is recorded with the staff user who makes it.", code="required", field="actor"
        )


def _require_pending(restatement: Restatement) -> None:
    if restatement.state != State.PENDING:
        by = f" by {restatement.decided_by}" if restatement.decided_by_id else ""
        raise BillingError(
            f"Restatement {restatement.pk} was already {restatement.state}{by} on "
            f"{timezone.localtime(restatement.decided_at):%Y-%m-%d %H:%M}; nothing was changed.",
            code="not_pending",
            field="state",
        )


def _running_draft(account_id: int, currency: str, today: dt.date) -> Invoice:
    month = month_start(today)
    Invoice.objects.get_or_create(account_id=account_id, currency=currency, month=month)
    invoice = Invoice.objects.select_for_update().get(
        account_id=account_id, currency=currency, month=month
    )
    if not invoice.is_draft:
        raise BillingError(
            f"The {currency} invoice of {month:%B %Y} is already {invoice.state}; the late usage "
            "is billed on a draft. Approve again once next month's draft exists.",
            code="invalid_state",
            field="state",
        )
    return invoice


def _approve_locked(restatement, plan, *, actor, today, auto: bool, reason: str) -> Restatement:
    """Bill an up-to-date pending restatement (the caller holds the locks and checked it)."""
    now = timezone.now()
    today = today or billing_today()
    label = f"{restatement.month:%B %Y}"
    before_state = restatement.state
    if plan.difference >= 0:
        invoice = _running_draft(restatement.account_id, restatement.currency, today)
        before_total = invoice.total
        lines = restatement_lines_for_billing(restatement)
        InvoiceLine.objects.bulk_create(
            [
                InvoiceLine(
                    invoice=invoice,
                    kind=InvoiceLine.Kind.LATE_USAGE,
                    application=line.application,
                    item=line.item,
                    description=(
                        f"Late usage for {label}: {line.item.name}, {line.application.name} "
                        f"({line.application.sdkappid}): {line.explanation}"
                    ),
                    quantity=max(ZERO, line.quantity_after - line.quantity_before),
                    exact_amount=line.difference,
                    amount=line.difference,
                    sort_key=f"y-late-{restatement.month:%Y%m}-{restatement.pk:08d}-{line.sort_key}"[
                        :80
                    ],
                    restatement=restatement,
                )
                for line in lines
                if line.difference != 0
            ]
        )
        invoice_total_update(invoice)
        restatement.invoice = invoice
        where = {"invoice": invoice.pk, "total_before": before_total, "total": invoice.total}
    else:
        _require_staff(actor, "A credit note for a negative restatement")
        closed = Invoice.objects.select_for_update().get(pk=restatement.closed_invoice_id)
        credited = sum((note.amount for note in closed.credit_notes.all()), ZERO)
        amount = -plan.difference
        if amount > closed.total - credited:
            raise BillingError(
                f"A credit note of {amount} {closed.currency} is more than remains on "
                f"{closed.number} ({closed.total - credited}).",
                code="exceeds_remaining",
                field="difference",
            )
        note = CreditNote.objects.create(
            invoice=closed,
            number=document_number_next("credit_note", "CN", timezone.localdate(now).year),
            currency=closed.currency,
            amount=amount,
            reason=f"Late usage for {label}: restatement {restatement.pk}",
            created_by=actor,
        )
        restatement.credit_note = note
        where = {"credit_note": note.number, "amount": amount}
    restatement.state = State.APPROVED
    restatement.auto_approved = auto
    restatement.decided_by = actor if getattr(actor, "pk", None) else None
    restatement.decided_at = now
    restatement.reason = reason
    restatement.save()
    audit_record_create(
        actor=actor,
        action="restatement.approve",
        target=restatement,
        account=restatement.account,
        before={"state": before_state, "billed": plan.amount_before, "digest": plan.digest},
        after={
            "state": restatement.state,
            "with_late_usage": plan.amount_after,
            "difference": plan.difference,
            "auto_approved": auto,
            **where,
        },
        reason=reason,
    )
    return restatement


def restatement_lines_for_billing(restatement: Restatement) -> list[RestatementLine]:
    return list(restatement.lines.select_related("application", "item").order_by("sort_key"))


def restatement_approve(
    *, restatement: Restatement, digest: str, actor, today: dt.date | None = None
) -> Restatement:
    """Finance staff approve what they reviewed (``digest``). Under the account's exclusive
    application locks the restatement is computed again; if new late usage arrived or the
    result differs from the reviewed one, nothing is billed: the new result is stored for
    review and the approval is refused (``restatement_changed``). Approving twice is refused
    (``not_pending``)."""
    _require_staff(actor, "An approval")
    if not isinstance(digest, str) or not digest:
        raise BillingError(
            "Send the digest of the restatement you reviewed.", code="required", field="digest"
        )
    changed = None
    with transaction.atomic():
        _lock_account(restatement.account_id)
        locked = Restatement.objects.select_for_update(of=("self",)).select_related(
            "account", "decided_by"
        )
        restatement = locked.get(pk=restatement.pk)
        _require_pending(restatement)
        plan = _plans(restatement.account_id, restatement.month).get(restatement.currency)
        if plan is None:
            raise BillingError(
                f"Restatement {restatement.pk} has no late usage left to bill.",
                code="invalid_state",
                field="state",
            )
        if plan.digest != restatement.digest:
            _store(restatement, plan, timezone.now())
            changed = "New late usage arrived or the month's charges changed"
        elif digest != restatement.digest:
            changed = "This is not the version of the restatement that is current"
        else:
            _approve_locked(restatement, plan, actor=actor, today=today, auto=False, reason="")
    if changed:
        raise BillingError(
            f"{changed}: restatement {restatement.pk} now shows a difference of "
            f"{restatement.difference} {restatement.currency} (digest {restatement.digest}). "
            "Nothing was billed; review it again and approve that version.",
            code="restatement_changed",
            field="digest",
        )
    return restatement


def restatement_reject(*, restatement: Restatement, reason, actor) -> Restatement:
    """Finance staff decide not to bill a pending restatement; the reason is kept. Late events
    arriving later make a new restatement, which compares with what was billed (a rejected
    difference is not billed, so it is proposed again with them)."""
    _require_staff(actor, "A rejection")
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason or len(reason) > 2000:
        raise BillingError(
            "Give a reason of 1 to 2000 characters; it is kept in the audit trail.",
            code="required" if not reason else "too_long",
            field="reason",
        )
    with transaction.atomic():
        locked = Restatement.objects.select_for_update(of=("self",)).select_related(
            "account", "decided_by"
        )
        restatement = locked.get(pk=restatement.pk)
        _require_pending(restatement)
        restatement.state = State.REJECTED
        restatement.decided_by = actor
        restatement.decided_at = timezone.now()
        restatement.reason = reason
        restatement.save()
        audit_record_create(
            actor=actor,
            action="restatement.reject",
            target=restatement,
            account=restatement.account,
            before={"state": State.PENDING, "difference": restatement.difference},
            after={"state": State.REJECTED, "digest": restatement.digest},
            reason=reason,
        )
        return restatement

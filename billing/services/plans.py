"""Plans computed once (issue 12, item 3): a preview is what the action would write, and the
action carries out exactly the plan that was confirmed.

``plan_preview`` runs the service itself inside a transaction that is rolled back, and reads
back what it wrote for the application: the edition periods, the prepaid terms started (with
their price and days), the terms cut (with their proration credit), the add-ons started and
ended, the resource packs bought. That is the plan; its ``digest`` is posted back with the
confirmation. ``plan_carry_out`` runs the service again, reads the plan back the same way and
commits only when its digest equals the confirmed one; otherwise nothing is written and the
customer is asked to review the new plan. The preview and the action cannot disagree: they
are the same computation.
"""

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from decimal import Decimal

from django.db import transaction

from billing.calendar import month_start
from billing.errors import BillingError
from billing.models import AddOnSubscription, Application, EditionPeriod, PrepaidTerm, ResourcePack
from billing.money import ZERO


@dataclass(frozen=True)
class TermStart:
    item: str  # the item's name
    item_code: str
    starts_on: dt.date
    ends_on: dt.date
    amount: Decimal
    currency: str
    invoice_month: dt.date  # the invoice that carries the fee


@dataclass(frozen=True)
class TermCredit:
    item: str
    item_code: str
    starts_on: dt.date
    ends_on: dt.date
    cut_on: dt.date
    unused_days: int
    total_days: int
    amount: Decimal  # paid for the term
    credit: Decimal
    currency: str
    invoice_month: dt.date


@dataclass(frozen=True)
class AddOnChange:
    item: str
    item_code: str
    starts_on: dt.date | None = None  # started
    ends_on: dt.date | None = None  # ended (the last day it runs)
    billing: str = ""  # "prepaid" (monthly terms) or "postpaid" (accrues by day)


@dataclass(frozen=True)
class PackBought:
    item: str
    item_code: str
    units: Decimal
    unit: str
    valid_from: dt.date
    valid_until: dt.date
    amount: Decimal
    currency: str
    invoice_month: dt.date


@dataclass(frozen=True)
class EditionStart:
    edition: str
    edition_code: str
    starts_on: dt.date


@dataclass
class Plan:
    """What one action writes for one application: everything it starts, ends and credits."""

    action: str
    sdkappid: int
    day: dt.date
    editions: list[EditionStart] = field(default_factory=list)
    terms_started: list[TermStart] = field(default_factory=list)
    terms_credited: list[TermCredit] = field(default_factory=list)
    addons_started: list[AddOnChange] = field(default_factory=list)
    addons_ended: list[AddOnChange] = field(default_factory=list)
    packs: list[PackBought] = field(default_factory=list)

    def totals(self) -> dict[str, dict]:
        """Per currency and invoice month: what the plan adds to that invoice (fees and packs
        less credits)."""
        result: dict[tuple[str, dt.date], Decimal] = {}
        for term in self.terms_started:
            key = (term.currency, term.invoice_month)
            result[key] = result.get(key, ZERO) + term.amount
        for pack in self.packs:
            key = (pack.currency, pack.invoice_month)
            result[key] = result.get(key, ZERO) + pack.amount
        for credit in self.terms_credited:
            key = (credit.currency, credit.invoice_month)
            result[key] = result.get(key, ZERO) - credit.credit
        return {
            f"{currency} {month:%Y-%m}": {"currency": currency, "month": month, "amount": amount}
            for (currency, month), amount in sorted(result.items())
        }

    @property
    def invoice_effects(self) -> list[dict]:
        return list(self.totals().values())

    @property
    def digest(self) -> str:
        """SHA-256 of the plan's content: what the confirmation posts back."""
        payload = json.dumps(asdict(self), sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()


def _state(application: Application) -> dict:
    return {
        "periods": set(application.edition_periods.values_list("pk", flat=True)),
        "terms": dict(
            PrepaidTerm.objects.filter(application=application).values_list("pk", "cut_on")
        ),
        "subscriptions": dict(
            AddOnSubscription.objects.filter(application=application).values_list("pk", "ends_on")
        ),
        "packs": set(
            ResourcePack.objects.filter(application=application, term__isnull=True).values_list(
                "pk", flat=True
            )
        ),
    }


def _read_back(action: str, application: Application, day: dt.date, before: dict) -> Plan:
    """The plan: what changed for the application since ``before``."""
    plan = Plan(action=action, sdkappid=application.sdkappid, day=day)
    periods = (
        EditionPeriod.objects.filter(application=application)
        .exclude(pk__in=before["periods"])
        .select_related("edition")
        .order_by("starts_on")
    )
    plan.editions = [EditionStart(p.edition.name, p.edition.code, p.starts_on) for p in periods]
    terms = PrepaidTerm.objects.filter(application=application).select_related("item")
    for term in terms.order_by("starts_on", "item__sort_order", "pk"):
        if term.pk not in before["terms"]:
            plan.terms_started.append(
                TermStart(
                    term.item.name,
                    term.item.code,
                    term.starts_on,
                    term.ends_on,
                    term.amount,
                    term.currency,
                    month_start(term.starts_on),
                )  # fmt: skip
            )
        elif term.cut_on is not None and before["terms"][term.pk] is None:
            total_days = (term.ends_on - term.starts_on).days + 1
            plan.terms_credited.append(
                TermCredit(
                    term.item.name,
                    term.item.code,
                    term.starts_on,
                    term.ends_on,
                    term.cut_on,
                    total_days - (term.cut_on - term.starts_on).days,
                    total_days,
                    term.amount,
                    term.credit_amount or ZERO,
                    term.currency,
                    month_start(term.cut_on),
                )  # fmt: skip
            )
    subscriptions = AddOnSubscription.objects.filter(application=application).select_related(
        "item", "addon"
    )
    for sub in subscriptions.order_by("item__sort_order", "pk"):
        if sub.pk not in before["subscriptions"]:
            plan.addons_started.append(
                AddOnChange(
                    sub.item.name, sub.item.code, starts_on=sub.starts_on, billing=sub.addon.billing
                )  # fmt: skip
            )
        elif sub.ends_on is not None and before["subscriptions"][sub.pk] is None:
            plan.addons_ended.append(
                AddOnChange(
                    sub.item.name, sub.item.code, ends_on=sub.ends_on, billing=sub.addon.billing
                )  # fmt: skip
            )
    packs = (
        ResourcePack.objects.filter(application=application, term__isnull=True)
        .exclude(pk__in=before["packs"])
        .select_related("item")
        .order_by("pk")
    )
    for pack in packs:
        plan.packs.append(
            PackBought(
                pack.item.name,
                pack.item.code,
                pack.units_total,
                pack.get_covers_display(),
                pack.valid_from,
                pack.valid_until,
                pack.amount,
                pack.currency,
                month_start(pack.valid_from),
            )  # fmt: skip
        )
    return plan


class _RollBack(Exception):
    pass


def _run(action: str, application: Application, day: dt.date, run: Callable[[], object]):
    before = _state(application)
    result = run()
    return result, _read_back(action, application, day, before)


def plan_preview(
    *, action: str, application: Application, day: dt.date, run: Callable[[], object]
) -> Plan:
    """What ``run`` (a service call for ``application`` on ``day``) would write: run it and
    roll it back. Raises the BillingError the action itself raises."""
    plan: Plan | None = None
    try:
        with transaction.atomic():
            _, plan = _run(action, application, day, run)
            raise _RollBack
    except _RollBack:
        pass
    assert plan is not None
    return plan


def plan_carry_out(
    *,
    action: str,
    application: Application,
    day: dt.date,
    run: Callable[[], object],
    confirmed_digest: str,
):
    """Run the action and commit only when it wrote exactly the confirmed plan. Returns the
    service's result and the plan; raises BillingError ``plan_changed`` (nothing written)
    when the plan is no longer the one confirmed (a price or the state changed since)."""
    with transaction.atomic():
        result, plan = _run(action, application, day, run)
        if plan.digest != confirmed_digest:
            raise BillingError(
                "The price or terms changed since this was shown: nothing was done. "
                "Review the new figures and confirm again.",
                code="plan_changed",
                field="digest",
            )
        return result, plan

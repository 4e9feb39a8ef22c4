"""Reads that are more than a lookup. Views, the API and the admin call these."""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet, Sum

from billing.calendar import billing_today, month_start
from billing.models import Adjustment, Application, CreditNote, Currency, Invoice, Payment
from billing.money import ZERO, round_money


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


def month_to_date(*, account_id: int, today: dt.date | None = None) -> list[MonthToDate]:
    """Per currency: the draft's lines (usage rated so far, prepaid purchases, credits,
    adjustments) plus the monthly items computed now with the same pure rules the monthly job
    uses (IM overage so far, message history accrued so far). Nothing is written."""
    from billing.services.invoicing import _line_specs
    from billing.services.rating import _Catalog, _entries_by_id, rate_month_drafts

    today = today or billing_today()
    month = month_start(today)
    catalog = _Catalog()
    lines: dict[str, list[dict]] = defaultdict(list)
    for currency in Currency.values:
        lines[currency] += _line_specs(account_id, currency, month)
    for adjustment in Adjustment.objects.filter(
        invoice__account_id=account_id, invoice__month=month
    ).select_related("invoice"):
        lines[adjustment.invoice.currency].append(
            {
                "kind": "adjustment",
                "description": adjustment.reason,
                "exact_amount": adjustment.amount,
            }
        )
    for application in Application.objects.filter(account_id=account_id).order_by("sdkappid"):
        if not application.edition_periods.filter(starts_on__lte=today).exists():
            continue
        drafts = rate_month_drafts(application, month, catalog, through=today)
        entries = _entries_by_id(drafts)
        for draft in drafts:
            entry = entries[draft.price_entry_id]
            lines[entry.price_book.currency].append(
                {
                    "kind": "usage",
                    "application_id": application.pk,
                    "item_code": draft.item_code,
                    "description": f"{application.name} ({application.sdkappid}), so far: "
                    + draft.explanation,
                    "quantity": draft.billable_quantity,
                    "unit_price": draft.unit_price,
                    "exact_amount": draft.amount,
                }
            )
    result = []
    for currency, currency_lines in lines.items():
        if not currency_lines:
            continue
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

"""Invoices (SPEC 3, 6): drafts rebuilt from charges, prepaid purchases, proration credits and
adjustments; finalization with gapless numbers per year and a frozen total.

A line's amount is the sum of its exact amounts rounded half-up once; an invoice total is the
sum of its rounded lines."""

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.models import Account
from billing.audit import audit_record_create
from billing.calendar import month_end, month_start
from billing.errors import BillingError
from billing.locks import applications_lock
from billing.models import (
    Application,
    Charge,
    Currency,
    DocumentSequence,
    Invoice,
    InvoiceLine,
    PrepaidTerm,
    RatedDay,
    ResourcePack,
)
from billing.money import ZERO, round_money
from billing.rating.text import qty

Kind = InvoiceLine.Kind


def _units(quantity: Decimal, unit: str) -> str:
    plural = quantity != 1 and not unit.endswith("s")
    return f"{qty(quantity)} {unit}{'s' if plural else ''}"


def _line_specs(account_id: int, currency: str, month: dt.date) -> list[dict]:
    """Every line a draft for (account, currency, month) should have, adjustments aside."""
    first, last = month_start(month), month_end(month)
    specs: list[dict] = []

    usage = (
        Charge.objects.filter(
            application__account_id=account_id, currency=currency, day__range=(first, last)
        )
        .values(
            "application_id",
            "application__sdkappid",
            "application__name",
            "item_id",
            "item__name",
            "item__unit",
            "item__sort_order",
            "unit_price",
            "per_quantity",
        )
        .annotate(quantity=Sum("billable_quantity"), exact_amount=Sum("amount"))
        .order_by("application__sdkappid", "item__sort_order", "item_id", "unit_price")
    )
    for row in usage:
        per = row["per_quantity"]
        price = f"{row['unit_price'].normalize():f} {currency} per "
        price += _units(per, row["item__unit"]) if per != 1 else row["item__unit"]
        specs.append(
            {
                "kind": Kind.USAGE,
                "application_id": row["application_id"],
                "item_id": row["item_id"],
                "description": (
                    f"{row['item__name']}, {row['application__name']} "
                    f"({row['application__sdkappid']}): "
                    f"{_units(row['quantity'], row['item__unit'])} billable at {price}"
                ),
                "quantity": row["quantity"],
                "unit_price": row["unit_price"],
                "exact_amount": row["exact_amount"],
                "sort_key": f"{row['application__sdkappid']}-2-{row['item__sort_order']:04d}",
            }
        )

    terms = PrepaidTerm.objects.filter(
        application__account_id=account_id, currency=currency
    ).select_related("application", "item")
    for term in terms.filter(starts_on__range=(first, last)):
        app = term.application
        specs.append(
            {
                "kind": Kind.PREPAID,
                "application_id": app.pk,
                "item_id": term.item_id,
                "term_id": term.pk,
                "description": (
                    f"{term.item.name}, {app.name} ({app.sdkappid}): prepaid term "
                    f"{term.starts_on:%d %b %Y} to {term.ends_on:%d %b %Y}"
                ),
                "quantity": Decimal(1),
                "unit_price": term.amount,
                "exact_amount": term.amount,
                "sort_key": f"{app.sdkappid}-1-{term.starts_on:%Y%m%d}-{term.item.sort_order:04d}",
            }
        )
    for term in terms.filter(cut_on__range=(first, last), credit_amount__gt=0):
        app = term.application
        used_days = (term.cut_on - term.starts_on).days
        total_days = (term.ends_on - term.starts_on).days + 1
        unused = total_days - used_days
        specs.append(
            {
                "kind": Kind.PRORATION,
                "application_id": app.pk,
                "item_id": term.item_id,
                "term_id": term.pk,
                "description": (
                    f"Credit for the unused days of {term.item.name}, {app.name} "
                    f"({app.sdkappid}): term {term.starts_on:%d %b %Y} to "
                    f"{term.ends_on:%d %b %Y} ended on {term.cut_on:%d %b %Y}; "
                    f"{term.amount} x {unused} / {total_days} days"
                ),
                "quantity": Decimal(unused),
                "unit_price": None,
                "exact_amount": -term.credit_amount,
                "sort_key": f"{app.sdkappid}-1-{term.cut_on:%Y%m%d}-credit",
            }
        )
    packs = ResourcePack.objects.filter(
        application__account_id=account_id,
        currency=currency,
        term__isnull=True,
        valid_from__range=(first, last),
    ).select_related("application", "item")
    for pack in packs:
        app = pack.application
        specs.append(
            {
                "kind": Kind.PREPAID,
                "application_id": app.pk,
                "item_id": pack.item_id,
                "pack_id": pack.pk,
                "description": (
                    f"{pack.item.name}, {app.name} ({app.sdkappid}): valid "
                    f"{pack.valid_from:%d %b %Y} to {pack.valid_until:%d %b %Y}"
                ),
                "quantity": Decimal(1),
                "unit_price": pack.amount,
                "exact_amount": pack.amount,
                "sort_key": f"{app.sdkappid}-1-{pack.valid_from:%Y%m%d}-pack",
            }
        )
    return specs


def invoice_refresh(*, account_id: int, currency: str, month: dt.date) -> Invoice | None:
    """Rebuild the draft invoice of (account, currency, month) from what it bills. A
    finalized, paid or void invoice is never touched. Returns the draft, or None when there is
    nothing to bill and no draft yet."""
    month = month_start(month)
    with transaction.atomic():
        invoice = (
            Invoice.objects.select_for_update()
            .filter(account_id=account_id, currency=currency, month=month)
            .first()
        )
        if invoice is not None and not invoice.is_draft:
            return invoice
        specs = _line_specs(account_id, currency, month)
        if invoice is None:
            if not specs:
                return None
            invoice, _ = Invoice.objects.get_or_create(
                account_id=account_id, currency=currency, month=month
            )
            invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        invoice.lines.exclude(kind=Kind.ADJUSTMENT).delete()
        InvoiceLine.objects.bulk_create(
            [
                InvoiceLine(
                    invoice=invoice,
                    amount=round_money(spec["exact_amount"], currency),
                    **spec,
                )
                for spec in specs
            ]
        )
        _invoice_total_update(invoice)
        return invoice


def _invoice_total_update(invoice: Invoice) -> None:
    total = invoice.lines.aggregate(total=Sum("amount"))["total"] or ZERO
    if invoice.total != total:
        invoice.total = total
        invoice.save(update_fields=["total", "updated_at"])


def invoices_mark_stale(*, account_id: int, day: dt.date) -> None:
    """Something billed in ``day``'s month changed for this account: refresh its drafts of
    that month in every currency (inside the caller's transaction)."""
    for currency in Currency.values:
        invoice_refresh(account_id=account_id, currency=currency, month=day)


def month_is_closed(*, account_id: int, day: dt.date) -> bool:
    """Whether any invoice of the account for ``day``'s month is no longer a draft."""
    return (
        Invoice.objects.filter(account_id=account_id, month=month_start(day))
        .exclude(state=Invoice.State.DRAFT)
        .exists()
    )


def _rate_stale_usage(account_id: int, month: dt.date) -> None:
    """Under the account's application locks, rate the month's days late events made stale,
    so that what is frozen includes every event accepted before it."""
    from billing.services.rating import _Catalog, _closed_months, rate_stale_days

    applications = list(Application.objects.filter(account_id=account_id).order_by("pk"))
    applications_lock(app.pk for app in applications)
    stale = RatedDay.objects.filter(
        application__account_id=account_id,
        state=RatedDay.State.STALE,
        day__range=(month_start(month), month_end(month)),
    )
    if stale.exists():
        catalog, closed = _Catalog(), _closed_months([account_id])
        for application in applications:
            rate_stale_days(application, month, catalog, closed)


def _next_number(kind: str, prefix: str, year: int) -> str:
    """The next gapless number of the year, under a row lock held until commit."""
    DocumentSequence.objects.get_or_create(kind=kind, year=year)
    sequence = DocumentSequence.objects.select_for_update().get(kind=kind, year=year)
    sequence.last_number += 1
    sequence.save(update_fields=["last_number"])
    return f"{prefix}-{year}-{sequence.last_number:06d}"


def _billing_snapshot(account: Account) -> dict:
    return {
        "name": account.name,
        "billing_email": account.billing_email,
        "billing_address": account.billing_address,
    }


def invoice_finalize(
    *, invoice: Invoice, actor=None, today: dt.date | None = None, usage_locked: bool = False
) -> Invoice:
    """Freeze a draft (SPEC 6): rate the month's stale days (late events), refresh its lines a
    last time, issue the next number of the year, store the total, the due date and a snapshot
    of the billing details. ``usage_locked``: the caller holds the account's application
    locks and has rated the stale days already (the monthly close)."""
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().select_related("account").get(pk=invoice.pk)
        if not invoice.is_draft:
            raise BillingError(
                f"Invoice {invoice.number} is already {invoice.state}.",
                code="not_draft",
                field="state",
            )
        if not usage_locked:
            _rate_stale_usage(invoice.account_id, invoice.month)
        invoice_refresh(
            account_id=invoice.account_id, currency=invoice.currency, month=invoice.month
        )
        invoice.refresh_from_db()
        now = timezone.now()
        today = today or timezone.localdate(now)
        invoice.number = _next_number("invoice", "INV", today.year)
        invoice.state = Invoice.State.FINALIZED
        invoice.finalized_at = now
        invoice.due_date = today + dt.timedelta(days=settings.INVOICE_DUE_DAYS)
        invoice.billing_snapshot = _billing_snapshot(invoice.account)
        if invoice.total == ZERO:
            invoice.state = Invoice.State.PAID
            invoice.paid_at = now
        invoice.save()
        audit_record_create(
            actor=actor,
            action="invoice.finalize",
            target=invoice,
            account=invoice.account,
            before={"state": "draft"},
            after={"state": invoice.state, "number": invoice.number, "total": invoice.total},
        )
        return invoice

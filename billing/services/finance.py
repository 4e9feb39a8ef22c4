"""What finance staff do to bills (SPEC 6): adjustments on drafts, credit notes against issued
invoices, payments, voids, re-rating a draft period and price changes.

Each function validates everything first, then writes in one transaction that also writes the
audit record (who, when, what, before and after). Invoice rows are locked with
``select_for_update`` before anything about them is read, so two concurrent credit notes or
payments on one invoice are serialized and the second sees the first."""

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from billing.audit import audit_record_create
from billing.calendar import billing_today, month_end, month_start
from billing.errors import BillingError
from billing.line_order import adjustment_key
from billing.models import (
    Adjustment,
    Application,
    Charge,
    CreditNote,
    Currency,
    Invoice,
    InvoiceLine,
    Payment,
    PriceEntry,
    RatedDay,
    Source,
)
from billing.money import CURRENCY_QUANTUM, ZERO, round_money
from billing.parsing import MIN_YEAR, ParseError, parse_money
from billing.selectors.drafts import rate_month_drafts
from billing.selectors.invoices import invoice_amount_due, invoice_credited, month_is_closed
from billing.selectors.prices import PriceCatalog
from billing.selectors.usage import aggregate_day
from billing.services.invoicing import (
    document_number_next,
    invoice_total_update,
    invoices_mark_stale,
)
from billing.services.overdue import overdue_refresh
from billing.services.rating import charges_store, rate_and_store_day
from notifications import outbox

State = Invoice.State
# No payment predates the billing calendar (billing.parsing.MIN_YEAR).
EARLIEST_PAYMENT = dt.datetime(MIN_YEAR, 1, 1, tzinfo=dt.UTC)


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def money_parse(raw, *, currency: str, field: str = "amount", allow_negative=False) -> Decimal:
    """A money amount a person typed or a client sent, by the one strict parser
    (billing.parsing.parse_money: ASCII digits with an optional point, no exponent, spaces or
    underscores; its size checked on the text before any arithmetic), with no more decimal
    places than the currency has, non-zero, positive unless ``allow_negative``."""
    if currency not in CURRENCY_QUANTUM:
        raise BillingError(f"Unknown currency {currency!r}.", code="invalid", field="currency")
    try:
        amount = parse_money(raw, places=8, allow_negative=True)
    except ParseError as exc:
        raise BillingError(exc.message, code=exc.code, field=field) from None
    if abs(amount) >= Decimal("1e12"):
        raise BillingError("The amount is too large.", code="too_large", field=field)
    if round_money(amount, currency) != amount:
        raise BillingError(
            f"{currency} amounts have at most {CURRENCY_QUANTUM[currency]} precision.",
            code="precision",
            field=field,
        )
    if amount == ZERO or (amount < ZERO and not allow_negative):
        raise BillingError(
            "The amount must not be zero." if allow_negative else "The amount must be positive.",
            code="invalid",
            field=field,
        )
    return amount


def _reason_clean(reason, *, field: str = "reason") -> str:
    reason = (reason or "").strip() if isinstance(reason, str) else ""
    if not reason:
        raise BillingError(
            "Give a reason; it is kept in the audit trail.", code="required", field=field
        )
    if len(reason) > 2000:
        raise BillingError(
            "The reason is longer than 2000 characters.", code="too_long", field=field
        )
    return reason


def _require_staff(actor, what: str) -> None:
    if getattr(actor, "pk", None) is None:
        raise BillingError(
            f"{what} is recorded with the staff user who makes it.", code="required", field="actor"
        )


def _locked(invoice: Invoice) -> Invoice:
    return Invoice.objects.select_for_update().select_related("account").get(pk=invoice.pk)


def _require_state(invoice: Invoice, *states: str, action: str) -> None:
    if invoice.state not in states:
        allowed = " or ".join(states)
        raise BillingError(
            f"Invoice {invoice} is {invoice.state}; {action} needs a {allowed} invoice.",
            code="invalid_state",
            field="state",
        )


def _refresh_overdue(account_id: int) -> None:
    overdue_refresh(today=billing_today(), account_ids=[account_id])


def _settle_if_covered(invoice: Invoice, now) -> bool:
    """A finalized invoice whose credits and payments cover its total becomes paid."""
    if invoice.state == State.FINALIZED and invoice_amount_due(invoice) <= ZERO:
        invoice.state = State.PAID
        invoice.paid_at = now
        invoice.save(update_fields=["state", "paid_at", "updated_at"])
        outbox.record("invoice.paid", invoice)
        return True
    return False


# --------------------------------------------------------------------------------------------
# Adjustments, credit notes, payments, voids
# --------------------------------------------------------------------------------------------


def adjustment_add(*, invoice: Invoice, amount, reason: str, actor) -> Adjustment:
    """A positive or negative line on a draft invoice, with the staff user and a reason."""
    _require_staff(actor, "An adjustment")
    amount = money_parse(amount, currency=invoice.currency, allow_negative=True)
    reason = _reason_clean(reason)
    with transaction.atomic():
        invoice = _locked(invoice)
        _require_state(invoice, State.DRAFT, action="an adjustment")
        before_total = invoice.total
        if before_total + amount < ZERO:
            raise BillingError(
                f"This would make the invoice total {before_total + amount}; an invoice is never "
                "negative. Issue a credit note against an issued invoice instead.",
                code="total_negative",
                field="amount",
            )
        adjustment = Adjustment.objects.create(
            invoice=invoice, amount=amount, reason=reason, created_by=actor
        )
        InvoiceLine.objects.create(
            invoice=invoice,
            kind=InvoiceLine.Kind.ADJUSTMENT,
            adjustment=adjustment,
            description=f"Adjustment: {reason}",
            quantity=Decimal(1),
            exact_amount=amount,
            amount=amount,
            sort_key=adjustment_key(adjustment.pk),
        )
        invoice_total_update(invoice)
        audit_record_create(
            actor=actor,
            action="invoice.adjust",
            target=invoice,
            account=invoice.account,
            before={"total": before_total},
            after={"total": invoice.total, "adjustment": adjustment.pk, "amount": amount},
            reason=reason,
        )
        return adjustment


def credit_note_issue(*, invoice: Invoice, amount, reason: str, actor) -> CreditNote:
    """A credit note against a finalized or paid invoice, never more than remains (its total
    less the credit notes already issued). It reduces what is due; on a paid invoice it
    credits the account's balance. An invoice fully covered becomes paid."""
    _require_staff(actor, "A credit note")
    amount = money_parse(amount, currency=invoice.currency)
    reason = _reason_clean(reason)
    with transaction.atomic():
        invoice = _locked(invoice)
        _require_state(invoice, State.FINALIZED, State.PAID, action="a credit note")
        credited = invoice_credited(invoice)
        remaining = invoice.total - credited
        if amount > remaining:
            raise BillingError(
                f"A credit note of {amount} {invoice.currency} is more than remains on "
                f"{invoice.number}: {remaining} (total {invoice.total}, credited {credited}).",
                code="exceeds_remaining",
                field="amount",
            )
        now = timezone.now()
        note = CreditNote.objects.create(
            invoice=invoice,
            number=document_number_next("credit_note", "CN", timezone.localdate(now).year),
            currency=invoice.currency,
            amount=amount,
            reason=reason,
            created_by=actor,
        )
        before_state = invoice.state
        _settle_if_covered(invoice, now)
        audit_record_create(
            actor=actor,
            action="credit_note.issue",
            target=invoice,
            account=invoice.account,
            before={"state": before_state, "credited": credited},
            after={
                "state": invoice.state,
                "credited": credited + amount,
                "credit_note": note.number,
                "amount": amount,
            },
            reason=reason,
        )
        outbox.record("credit_note.issued", note)
        transaction.on_commit(lambda: _refresh_overdue(invoice.account_id))
        return note


def payment_record(
    *,
    account: Account,
    currency: str,
    amount,
    actor,
    invoice: Invoice | None = None,
    reference: str = "",
    received_at: dt.datetime | None = None,
) -> Payment:
    """Money received. Against an invoice (finalized, same account and currency) it reduces
    what is due and marks the invoice paid once covered; without one it credits the balance.
    Paying clears the overdue state and reactivates suspended applications."""
    if currency not in Currency.values:
        raise BillingError(f"Unknown currency {currency!r}.", code="invalid", field="currency")
    amount = money_parse(amount, currency=currency)
    reference = (reference or "").strip()
    if len(reference) > 100:
        raise BillingError(
            "The reference is longer than 100 characters.", code="too_long", field="reference"
        )
    now = timezone.now()
    received_at = received_at or now
    if received_at > now + dt.timedelta(minutes=5):
        raise BillingError(
            "A payment cannot be received in the future.", code="invalid", field="received_at"
        )
    if received_at < EARLIEST_PAYMENT:
        # Year 1 was accepted and then shown with Shanghai's local mean time (+08:05:43).
        raise BillingError(
            f"A payment cannot be received before {EARLIEST_PAYMENT:%Y-%m-%d}.",
            code="out_of_range",
            field="received_at",
        )
    with transaction.atomic():
        before = {}
        if invoice is not None:
            invoice = _locked(invoice)
            if invoice.account_id != account.pk:
                raise BillingError(
                    "The invoice belongs to another account.", code="invalid", field="invoice"
                )
            if invoice.currency != currency:
                raise BillingError(
                    f"The invoice is in {invoice.currency}, the payment in {currency}.",
                    code="currency_mismatch",
                    field="currency",
                )
            _require_state(invoice, State.FINALIZED, action="a payment")
            before = {"state": invoice.state, "amount_due": invoice_amount_due(invoice)}
        payment = Payment.objects.create(
            account=account,
            currency=currency,
            amount=amount,
            received_at=received_at,
            reference=reference,
            invoice=invoice,
            recorded_by=actor if getattr(actor, "pk", None) else None,
        )
        after = {"payment": payment.pk, "amount": amount, "currency": currency}
        if invoice is not None:
            _settle_if_covered(invoice, now)
            after |= {"state": invoice.state, "amount_due": invoice_amount_due(invoice)}
        audit_record_create(
            actor=actor,
            action="payment.record",
            target=invoice if invoice is not None else payment,
            account=account,
            before=before,
            after=after,
            reason=reference,
        )
        outbox.record("payment.recorded", payment)
        transaction.on_commit(lambda: _refresh_overdue(account.pk))
        return payment


def invoice_void(*, invoice: Invoice, reason: str, actor) -> Invoice:
    """Void a finalized invoice nothing has been paid on. Its number stays used; the month
    stays closed; corrections go on the next draft."""
    reason = _reason_clean(reason)
    with transaction.atomic():
        invoice = _locked(invoice)
        _require_state(invoice, State.FINALIZED, action="a void")
        if invoice.payments.exists():
            raise BillingError(
                f"Invoice {invoice.number} has payments recorded; issue a credit note instead.",
                code="has_payments",
                field="state",
            )
        if invoice.credit_notes.exists():
            raise BillingError(
                f"Invoice {invoice.number} has credit notes; credit what remains instead.",
                code="has_credit_notes",
                field="state",
            )
        invoice.state = State.VOID
        invoice.voided_at = timezone.now()
        invoice.void_reason = reason
        invoice.save(update_fields=["state", "voided_at", "void_reason", "updated_at"])
        audit_record_create(
            actor=actor,
            action="invoice.void",
            target=invoice,
            account=invoice.account,
            before={"state": State.FINALIZED},
            after={"state": State.VOID},
            reason=reason,
        )
        outbox.record("invoice.voided", invoice)
        transaction.on_commit(lambda: _refresh_overdue(invoice.account_id))
        return invoice


# --------------------------------------------------------------------------------------------
# Re-rating a draft period
# --------------------------------------------------------------------------------------------


@dataclass
class RerateChange:
    sdkappid: int
    item: str
    day: dt.date
    period: str
    before: Decimal | None  # exact amount; None: the charge did not exist
    after: Decimal | None  # None: the charge goes away

    @property
    def difference(self) -> Decimal:
        return (self.after or ZERO) - (self.before or ZERO)


@dataclass
class RerateResult:
    account_id: int
    month: dt.date
    changes: list[RerateChange]
    totals_before: dict[str, Decimal]
    totals_after: dict[str, Decimal]
    digest: str
    applied: bool = False
    days: int = field(default=0)

    @property
    def unchanged(self) -> bool:
        return not self.changes


def _charges_snapshot(account_id: int, month: dt.date) -> dict[tuple, Decimal]:
    rows = Charge.objects.filter(
        application__account_id=account_id, day__range=(month, month_end(month))
    ).values_list("application__sdkappid", "item__code", "day", "period", "amount")
    return {(app, item, day, period): amount for app, item, day, period, amount in rows}


def _draft_totals(account_id: int, month: dt.date) -> dict[str, Decimal]:
    return dict(
        Invoice.objects.filter(account_id=account_id, month=month).values_list("currency", "total")
    )


def _rerate_account_month(account_id: int, month: dt.date) -> int:
    """Rate again every rated day of the month, in order (a day's allowance and pack use
    depends on the days before it), and the monthly items once the month is over."""
    catalog = PriceCatalog()
    last = month_end(month)
    days = 0
    for application in Application.objects.filter(account_id=account_id).order_by("pk"):
        rated = RatedDay.objects.filter(application=application, day__range=(month, last))
        for day in sorted(rated.values_list("day", flat=True)):
            rate_and_store_day([application], day, aggregate_day([application.pk], day), catalog)
            days += 1
        monthly = Charge.objects.filter(
            application=application, day=month, period=Charge.Period.MONTH
        )
        if last < billing_today() or monthly.exists():
            charges_store(
                day=month,
                period=Charge.Period.MONTH,
                drafts={application.pk: rate_month_drafts(application, month, catalog)},
                catalog=catalog,
            )
    invoices_mark_stale(account_id=account_id, day=month)
    return days


def _digest(changes: list[RerateChange]) -> str:
    payload = [
        [c.sdkappid, c.item, c.day.isoformat(), c.period, str(c.before), str(c.after)]
        for c in changes
    ]
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()[:16]


def rerate_period(*, invoice: Invoice, actor, confirm: str | None = None) -> RerateResult:
    """Re-rate the draft month of ``invoice``'s account with the price book and usage as they
    are now. Without ``confirm`` nothing is kept: the result is the preview (every charge
    that would change, before and after, and the draft totals). Applying needs ``confirm``
    equal to the preview's digest, so what is applied is exactly what was shown."""
    with transaction.atomic():
        invoice = _locked(invoice)
        _require_state(invoice, State.DRAFT, action="a re-rate")
        account_id, month = invoice.account_id, month_start(invoice.month)
        if month_is_closed(account_id=account_id, day=month):
            raise BillingError(
                f"Another invoice of {month:%B %Y} is already issued; that month is closed.",
                code="period_closed",
                field="month",
            )
        before = _charges_snapshot(account_id, month)
        totals_before = _draft_totals(account_id, month)
        days = _rerate_account_month(account_id, month)
        after = _charges_snapshot(account_id, month)
        changes = [
            RerateChange(*key, before.get(key), after.get(key))
            for key in sorted(set(before) | set(after))
            if before.get(key) != after.get(key)
        ]
        result = RerateResult(
            account_id=account_id,
            month=month,
            changes=changes,
            totals_before=totals_before,
            totals_after=_draft_totals(account_id, month),
            digest=_digest(changes),
            days=days,
        )
        if confirm is None:
            transaction.set_rollback(True)
            return result
        if confirm != result.digest:
            raise BillingError(
                "The charges changed since the preview was shown; preview the re-rate again.",
                code="preview_stale",
                field="confirm",
            )
        audit_record_create(
            actor=actor,
            action="invoice.rerate",
            target=invoice,
            account=invoice.account,
            before={"totals": result.totals_before, "changes": len(changes)},
            after={
                "totals": result.totals_after,
                "changes": [
                    {
                        "sdkappid": c.sdkappid,
                        "item": c.item,
                        "day": c.day.isoformat(),
                        "before": str(c.before),
                        "after": str(c.after),
                    }
                    for c in changes[:200]
                ],
            },
        )
        result.applied = True
        return result


# --------------------------------------------------------------------------------------------
# Price changes
# --------------------------------------------------------------------------------------------

PRICE_FIELDS = (
    "unit_price",
    "per_quantity",
    "included_quantity",
    "deduction_ratio",
    "validity_months",
)


def price_entry_revise(
    *, entry: PriceEntry, effective_from: dt.date, actor, note: str = "", **values
) -> PriceEntry:
    """A new version of ``entry``'s price from ``effective_from``: the old row is never
    rewritten, so charges rated under it keep pointing at it. Fields not given are copied.
    Drafts already rated keep their charges until re-rated (``rerate_period``)."""
    unknown = set(values) - set(PRICE_FIELDS)
    if unknown:
        name = sorted(unknown)[0]
        raise BillingError(f"{name} is not a price field.", code="invalid", field=name)
    if not isinstance(effective_from, dt.date):
        raise BillingError(
            "Give the date the price takes effect.", code="required", field="effective_from"
        )
    note = _reason_clean(note, field="note")
    with transaction.atomic():
        latest = (
            PriceEntry.objects.select_for_update()
            .filter(price_book_id=entry.price_book_id, item_id=entry.item_id)
            .order_by("-effective_from")
            .first()
        )
        if effective_from <= latest.effective_from:
            raise BillingError(
                f"The latest version of this price is effective from {latest.effective_from}; "
                "a new version must start after it (history is never rewritten).",
                code="not_after_latest",
                field="effective_from",
            )
        new_values = {name: values.get(name, getattr(latest, name)) for name in PRICE_FIELDS}
        if new_values["unit_price"] is None or new_values["unit_price"] < ZERO:
            raise BillingError(
                "The price must be zero or more.", code="invalid", field="unit_price"
            )
        if new_values["per_quantity"] is None or new_values["per_quantity"] <= ZERO:
            raise BillingError("Price per must be positive.", code="invalid", field="per_quantity")
        created = PriceEntry.objects.create(
            price_book_id=latest.price_book_id,
            item_id=latest.item_id,
            effective_from=effective_from,
            source=Source.STAFF,
            note=note[:255],
            created_by=actor if getattr(actor, "pk", None) else None,
            **new_values,
        )
        created.refresh_from_db()  # values at the database's precision, for the record
        audit_record_create(
            actor=actor,
            action="price.change",
            target=created,
            before={name: getattr(latest, name) for name in PRICE_FIELDS}
            | {"version": latest.pk, "effective_from": latest.effective_from},
            after={name: getattr(created, name) for name in PRICE_FIELDS}
            | {"version": created.pk, "effective_from": effective_from},
            reason=note,
        )
        return created

"""The invoice as a document people file: one content for the page, the PDF and the API.

``invoice_document`` reads an invoice into an ``InvoiceDocument``: seller (settings) and buyer
(the billing profile frozen at finalization, or the current one on a draft), issue and due
dates in the billing time zone, lines grouped per application with subtotals, used / covered /
billed quantities and the unit price on usage lines, the days a line covers when a price
changed in the month, credit notes, payments and the amount due.

The draft of the running month is read from ``billing.selectors.month_to_date`` (the one
month-to-date figure, the same the dashboard, the application page and the API show): its
stored lines plus the monthly items as they stand today, marked as estimates (SPEC 8). Its
total is that selector's total, so the draft and the dashboard cannot disagree.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Min

from billing.calendar import billing_today, billing_tz, month_end, month_start
from billing.display import local_date, money_exact, unit_plural
from billing.models import Application, BillableItem, Charge, CreditNote, Invoice, InvoiceLine
from billing.money import ZERO
from billing.rating.text import qty
from billing.selectors.estimates import MonthToDate, month_to_date
from billing.selectors.invoices import amount_due

KIND_LABELS = dict(InvoiceLine.Kind.choices)
ESTIMATE_LABEL = "Estimate so far"


@dataclass
class DocumentLine:
    kind: str
    kind_label: str
    application_id: int | None
    item_code: str | None
    description: str
    quantity: Decimal | None  # billed (usage), 1 (a purchase), unused days (a credit)
    unit_price: Decimal | None
    unit_price_label: str  # "7.00 CNY per 1,000 minutes"; "" when the line has none
    amount: Decimal
    used: Decimal | None = None  # usage lines: what was used
    covered: Decimal | None = None  # and what the free allowance or packs covered
    unit: str = ""
    first_day: dt.date | None = None
    last_day: dt.date | None = None
    days_label: str = ""  # "1 Dec 2026 to 14 Dec 2026" when the item's price changed
    estimate: bool = False  # a monthly item as it stands today (the running month's draft)
    sdkappid: int | None = None


@dataclass
class LineGroup:
    """The lines of one application (or, last, the account's adjustments) with a subtotal."""

    title: str
    sdkappid: int | None
    lines: list[DocumentLine]
    subtotal: Decimal


@dataclass
class InvoiceDocument:
    invoice: Invoice
    title: str
    seller: dict  # name, address, tax_id, payment_instructions
    bill_to: dict  # name, billing_email, billing_address, tax_id
    issued_on: dt.date | None  # the billing day of finalization
    due_date: dt.date | None
    groups: list[LineGroup]
    total: Decimal  # the running month's draft: the month-to-date total
    has_estimates: bool
    credit_notes: list[CreditNote]
    payments: list
    credited: Decimal
    paid: Decimal
    amount_due: Decimal  # nothing on a draft (not issued yet) or a void invoice
    is_running_draft: bool = False
    lines: list[DocumentLine] = field(default_factory=list)

    @property
    def currency(self) -> str:
        return self.invoice.currency

    @property
    def month_label(self) -> str:
        return f"{self.invoice.month:%B %Y}"

    @property
    def issued_label(self) -> str:
        return local_date(self.issued_on) if self.issued_on else ""

    @property
    def due_label(self) -> str:
        return local_date(self.due_date) if self.due_date else ""


def seller() -> dict:
    return {
        "name": settings.BILLING_SELLER_NAME,
        "address": settings.BILLING_SELLER_ADDRESS,
        "tax_id": settings.BILLING_SELLER_TAX_ID,
        "payment_instructions": settings.BILLING_PAYMENT_INSTRUCTIONS,
    }


def invoice_title(invoice: Invoice) -> str:
    if invoice.number:
        return f"Invoice {invoice.number}"
    return f"Draft invoice {invoice.month:%B %Y} ({invoice.currency})"


def running_month_estimate(invoice: Invoice, today: dt.date | None = None) -> MonthToDate | None:
    """The month-to-date figure behind a draft of the running month (None for any other)."""
    today = today or billing_today()
    if not invoice.is_draft or invoice.month != month_start(today):
        return None
    for estimate in month_to_date(account_id=invoice.account_id, today=today):
        if estimate.currency == invoice.currency:
            return estimate
    return MonthToDate(invoice.currency, invoice.month, [], ZERO)


def invoice_total_shown(invoice: Invoice, today: dt.date | None = None) -> Decimal:
    """The total people read for an invoice: the month-to-date total for the running month's
    draft, the stored total otherwise."""
    estimate = running_month_estimate(invoice, today)
    return estimate.total if estimate is not None else invoice.total


def _plural(unit: str, quantity: Decimal | None) -> str:
    return unit_plural(unit, quantity)


def _price_label(unit_price, per, unit: str, currency: str) -> str:
    if unit_price is None:
        return ""
    text = money_exact(unit_price, currency)
    if not unit:
        return text
    if per is None or per == 1:
        return f"{text} per {unit}"
    return f"{text} per {qty(per)} {_plural(unit, per)}"


def _days_label(first: dt.date | None, last: dt.date | None) -> str:
    if first is None or last is None:
        return ""
    return f"{local_date(first)} to {local_date(last)}"


def _line_from_spec(spec: dict, currency: str, items: dict, pers: dict) -> DocumentLine:
    item = items.get(spec.get("item_id")) or items.get(spec.get("item_code"))
    kind = str(spec["kind"])
    unit = ""
    if kind == InvoiceLine.Kind.USAGE and item is not None:
        unit = "day" if item.kind == BillableItem.Kind.ADDON_ACCRUAL else item.unit
    per = pers.get((item.pk if item else None, spec.get("unit_price")))
    unit_price = spec.get("unit_price")
    return DocumentLine(
        kind=kind,
        kind_label=ESTIMATE_LABEL if spec.get("estimate") else KIND_LABELS.get(kind, kind),
        application_id=spec.get("application_id"),
        item_code=item.code if item else spec.get("item_code"),
        description=spec["description"],
        quantity=spec.get("quantity") if kind != InvoiceLine.Kind.ADJUSTMENT else None,
        unit_price=unit_price,
        unit_price_label=(
            _price_label(unit_price, per, unit, currency)
            if kind != InvoiceLine.Kind.PRORATION
            else ""
        ),
        amount=spec["amount"],
        used=spec.get("used_quantity"),
        covered=spec.get("covered_quantity"),
        unit=unit,
        first_day=spec.get("first_day"),
        last_day=spec.get("last_day"),
        estimate=bool(spec.get("estimate")),
    )


def _stored_specs(invoice: Invoice) -> list[dict]:
    rows = invoice.lines.select_related("item").order_by("sort_key", "pk")
    return [
        {
            "kind": line.kind,
            "application_id": line.application_id,
            "item_id": line.item_id,
            "description": line.description,
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "amount": line.amount,
            "used_quantity": line.used_quantity,
            "covered_quantity": line.covered_quantity,
            "first_day": line.first_day,
            "last_day": line.last_day,
            "sort_key": line.sort_key,
        }
        for line in rows
    ]


def _per_quantities(invoice: Invoice, specs: list[dict]) -> dict:
    """(item id, unit price) -> the quantity the price is per (1,000 minutes), from the
    month's charges (one query)."""
    item_ids = {s.get("item_id") for s in specs if s["kind"] == InvoiceLine.Kind.USAGE} - {None}
    if not item_ids:
        return {}
    rows = (
        Charge.objects.filter(
            application__account_id=invoice.account_id,
            item_id__in=item_ids,
            day__range=(month_start(invoice.month), month_end(invoice.month)),
        )
        .values_list("item_id", "unit_price", "per_quantity")
        .distinct()
    )
    return {(item_id, price): per for item_id, price, per in rows}


def invoice_document(*, invoice: Invoice, today: dt.date | None = None) -> InvoiceDocument:
    """One invoice as the customer and their accountant read it, on the page, in the PDF and
    in the API alike."""
    currency = invoice.currency
    estimate = running_month_estimate(invoice, today)
    if estimate is not None:
        specs = estimate.lines
        total = estimate.total
    else:
        specs = _stored_specs(invoice)
        total = invoice.total
    items_by_id = {}
    codes = {s.get("item_code") for s in specs} - {None}
    ids = {s.get("item_id") for s in specs} - {None}
    items = BillableItem.objects.filter(pk__in=ids) | BillableItem.objects.filter(code__in=codes)
    for item in items:
        items_by_id[item.pk] = item
        items_by_id[item.code] = item
    pers = _per_quantities(invoice, specs)
    lines = [_line_from_spec(spec, currency, items_by_id, pers) for spec in specs]
    # A price change in the month splits an item into lines: say which days each covers.
    split: dict[tuple, int] = {}
    for line in lines:
        if line.kind == InvoiceLine.Kind.USAGE and not line.estimate:
            key = (line.application_id, line.item_code)
            split[key] = split.get(key, 0) + 1
    for line in lines:
        if split.get((line.application_id, line.item_code), 0) > 1:
            line.days_label = _days_label(line.first_day, line.last_day)

    applications = {
        app.pk: app
        for app in Application.objects.filter(
            pk__in={line.application_id for line in lines} - {None}
        )
    }
    groups: dict[int | None, LineGroup] = {}
    for line in lines:
        app = applications.get(line.application_id)
        key = app.pk if app else None
        if key not in groups:
            title = f"{app.name} (SDKAppID {app.sdkappid})" if app else "Account"
            groups[key] = LineGroup(title, app.sdkappid if app else None, [], ZERO)
        line.sdkappid = app.sdkappid if app else None
        groups[key].lines.append(line)
        groups[key].subtotal += line.amount
    ordered = sorted(
        groups.values(), key=lambda g: (g.sdkappid is None, g.sdkappid or 0)
    )  # applications by SDKAppID, the account's own lines last

    credit_notes = list(invoice.credit_notes.order_by("created_at", "pk"))
    payments = list(invoice.payments.order_by("received_at", "pk"))
    credited = sum((note.amount for note in credit_notes), ZERO)
    paid = sum((payment.amount for payment in payments), ZERO)
    account = invoice.account
    snapshot = invoice.billing_snapshot or {
        "name": account.name,
        "billing_email": account.billing_email,
        "billing_address": account.billing_address,
        "billing_name": account.billing_name,
        "tax_id": account.tax_id,
    }
    return InvoiceDocument(
        invoice=invoice,
        title=invoice_title(invoice),
        seller=seller(),
        bill_to={
            "name": snapshot.get("billing_name") or snapshot.get("name", ""),
            "billing_email": snapshot.get("billing_email") or snapshot.get("email", ""),
            "billing_address": snapshot.get("billing_address", ""),
            "tax_id": snapshot.get("tax_id", ""),
        },
        issued_on=(
            invoice.finalized_at.astimezone(billing_tz()).date() if invoice.finalized_at else None
        ),
        due_date=invoice.due_date,
        groups=ordered,
        total=total,
        has_estimates=any(line.estimate for line in lines),
        credit_notes=credit_notes,
        payments=payments,
        credited=credited,
        paid=paid,
        amount_due=amount_due(invoice, credited=credited, paid=paid),
        is_running_draft=estimate is not None,
        lines=[line for group in ordered for line in group.lines],
    )


@dataclass
class Unpaid:
    """What is due in one currency: the unpaid issued invoices, the earliest due date."""

    currency: str
    count: int
    next_due: dt.date
    overdue: bool

    @property
    def next_due_label(self) -> str:
        return local_date(self.next_due)


def unpaid_by_account(
    *, account_ids: list[int], today: dt.date | None = None
) -> dict[int, dict[str, Unpaid]]:
    """Per account and currency: the finalized invoices not paid yet (one query). An invoice
    paid off by payments and credit notes is paid (SPEC 8), so finalized means unpaid."""
    today = today or billing_today()
    rows = (
        Invoice.objects.filter(account_id__in=account_ids, state=Invoice.State.FINALIZED)
        .values_list("account_id", "currency")
        .annotate(count=Count("pk"), next_due=Min("due_date"))
    )
    result: dict[int, dict[str, Unpaid]] = {}
    for account_id, currency, count, next_due in rows:
        result.setdefault(account_id, {})[currency] = Unpaid(
            currency, count, next_due, next_due is not None and next_due < today
        )
    return result

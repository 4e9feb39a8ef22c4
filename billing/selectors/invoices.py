"""Invoices and amounts due: the lines a draft should have, closed months, what is
credited, paid and due, balances, and an invoice as the customer reads it."""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from itertools import chain

from django.db.models import DecimalField, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from billing.calendar import month_end, month_start
from billing.errors import BillingError
from billing.line_order import purchase_key, usage_key
from billing.models import (
    Application,
    BillableItem,
    Charge,
    CreditNote,
    Invoice,
    InvoiceLine,
    Payment,
    PrepaidTerm,
    ResourcePack,
)
from billing.money import ZERO
from billing.rating.terms import proration_days
from billing.rating.text import qty


def _units(quantity: Decimal, unit: str) -> str:
    plural = quantity != 1 and not unit.endswith("s")
    return f"{qty(quantity)} {unit}{'s' if plural else ''}"


def invoice_line_specs(
    account_ids: Iterable[int], month: dt.date, currencies: Iterable[str] | None = None
) -> dict[tuple[int, str], list[dict]]:
    """Every line the drafts of these accounts for ``month`` should have, adjustments aside,
    per (account, currency), in a fixed number of queries."""
    account_ids = list(account_ids)
    first, last = month_start(month), month_end(month)
    specs: dict[tuple[int, str], list[dict]] = defaultdict(list)
    # By application id, so that each table is read through its application index (a join
    # on the account would scan the terms of every account).
    application_ids = list(
        Application.objects.filter(account_id__any=account_ids).values_list("pk", flat=True)
    )

    charges = Charge.objects.filter(application_id__any=application_ids, day__range=(first, last))
    terms = PrepaidTerm.objects.filter(application_id__any=application_ids)
    packs = ResourcePack.objects.filter(
        application_id__any=application_ids,
        term__isnull=True,
        valid_from__range=(first, last),
    )
    if currencies is not None:
        currencies = list(currencies)
        charges = charges.filter(currency__in=currencies)
        terms = terms.filter(currency__in=currencies)
        packs = packs.filter(currency__in=currencies)

    for key, spec in chain(
        _usage_specs(charges),
        _term_specs(terms.filter(starts_on__range=(first, last))),
        _proration_specs(terms.filter(cut_on__range=(first, last), credit_amount__gt=0)),
        _pack_specs(packs),
    ):
        specs[key].append(spec)
    return specs


TERM_FIELDS = (
    "pk", "currency", "item_id", "item__name", "item__sort_order", "starts_on", "ends_on",
    "amount", "cut_on", "credit_amount", "application_id", "application__account_id",
    "application__name", "application__sdkappid",
)  # fmt: skip
PACK_FIELDS = (
    "pk", "currency", "item_id", "item__name", "valid_from", "valid_until", "amount",
    "application_id", "application__account_id", "application__name",
    "application__sdkappid",
)  # fmt: skip


def _usage_specs(charges):
    """One usage line per application, item and unit price: the month's charges summed."""
    usage = (
        charges.values_list(
            "application__account_id",
            "currency",
            "application_id",
            "application__sdkappid",
            "application__name",
            "item_id",
            "item__name",
            "item__unit",
            "item__sort_order",
            "item__kind",
            "unit_price",
            "per_quantity",
        )
        .annotate(
            used=Sum("quantity"),
            billable=Sum("billable_quantity"),
            covered=Sum("covered_quantity"),
            exact_amount=Sum("amount"),
        )
        .order_by("application__sdkappid", "item__sort_order", "item_id", "unit_price")
    )
    for (
        account_id, currency, application_id, sdkappid, app_name, item_id, item_name, unit,
        sort_order, kind, unit_price, per, used, quantity, covered, exact_amount,
    ) in usage:  # fmt: skip
        if kind == BillableItem.Kind.ADDON_ACCRUAL:
            unit = "day"  # message history accrues per day enabled (SPEC 4.3)
        price = f"{unit_price.normalize():f} {currency} per "
        price += _units(per, unit) if per != 1 else unit
        # What was used and what the free allowance or packs covered, when they covered any.
        coverage = (
            f"{_units(used, unit)} used, {qty(covered)} covered by the free allowance or packs, "
            if covered
            else ""
        )
        yield (
            (account_id, currency),
            (
                {
                    "kind": InvoiceLine.Kind.USAGE,
                    "application_id": application_id,
                    "item_id": item_id,
                    "description": (
                        f"{item_name}, {app_name} ({sdkappid}): "
                        f"{coverage}{_units(quantity, unit)} billable at {price}"
                    ),
                    "quantity": quantity,
                    "unit_price": unit_price,
                    "exact_amount": exact_amount,
                    "sort_key": usage_key(sdkappid, sort_order),
                }
            ),
        )


def _term_specs(terms):
    """One line per prepaid term starting in the month."""
    for term in terms.values(*TERM_FIELDS):
        sdkappid = term["application__sdkappid"]
        yield (
            (term["application__account_id"], term["currency"]),
            (
                {
                    "kind": InvoiceLine.Kind.PREPAID,
                    "application_id": term["application_id"],
                    "item_id": term["item_id"],
                    "term_id": term["pk"],
                    "description": (
                        f"{term['item__name']}, {term['application__name']} ({sdkappid}): "
                        f"prepaid term {term['starts_on']:%d %b %Y} to {term['ends_on']:%d %b %Y}"
                    ),
                    "quantity": Decimal(1),
                    "unit_price": term["amount"],
                    "exact_amount": term["amount"],
                    "sort_key": purchase_key(
                        sdkappid, term["starts_on"], f"{term['item__sort_order']:04d}"
                    ),
                }
            ),
        )


def _proration_specs(terms):
    """One credit line per term cut short in the month (an upgrade): its unused days."""
    for term in terms.values(*TERM_FIELDS):
        starts_on, ends_on, cut_on = term["starts_on"], term["ends_on"], term["cut_on"]
        unused, total_days = proration_days(starts_on, ends_on, cut_on)
        yield (
            (term["application__account_id"], term["currency"]),
            (
                {
                    "kind": InvoiceLine.Kind.PRORATION,
                    "application_id": term["application_id"],
                    "item_id": term["item_id"],
                    "term_id": term["pk"],
                    "description": (
                        f"Credit for the unused days of {term['item__name']}, "
                        f"{term['application__name']} ({term['application__sdkappid']}): term "
                        f"{starts_on:%d %b %Y} to {ends_on:%d %b %Y} ended on {cut_on:%d %b %Y}; "
                        f"{term['amount']} x {unused} / {total_days} days"
                    ),
                    "quantity": Decimal(unused),
                    "unit_price": None,
                    "exact_amount": -term["credit_amount"],
                    "sort_key": purchase_key(term["application__sdkappid"], cut_on, "credit"),
                }
            ),
        )


def _pack_specs(packs):
    """One line per resource pack bought in the month (a call add-on's monthly minutes are
    paid by its term, not here)."""
    for pack in packs.values(*PACK_FIELDS):
        sdkappid = pack["application__sdkappid"]
        yield (
            (pack["application__account_id"], pack["currency"]),
            (
                {
                    "kind": InvoiceLine.Kind.PREPAID,
                    "application_id": pack["application_id"],
                    "item_id": pack["item_id"],
                    "pack_id": pack["pk"],
                    "description": (
                        f"{pack['item__name']}, {pack['application__name']} ({sdkappid}): valid "
                        f"{pack['valid_from']:%d %b %Y} to {pack['valid_until']:%d %b %Y}"
                    ),
                    "quantity": Decimal(1),
                    "unit_price": pack["amount"],
                    "exact_amount": pack["amount"],
                    "sort_key": purchase_key(sdkappid, pack["valid_from"], "pack"),
                }
            ),
        )


def month_is_closed(*, account_id: int, day: dt.date) -> bool:
    """Whether any invoice of the account for ``day``'s month is no longer a draft."""
    return (
        Invoice.objects.filter(account_id=account_id, month=month_start(day))
        .exclude(state=Invoice.State.DRAFT)
        .exists()
    )


def closed_months(account_ids: list[int]) -> set[tuple[int, dt.date]]:
    return set(
        Invoice.objects.filter(account_id__any=account_ids)
        .exclude(state=Invoice.State.DRAFT)
        .values_list("account_id", "month")
        .order_by()
    )


def month_open_check(application: Application, day: dt.date) -> None:
    """A purchase dated in a month whose invoice is finalized could never be billed."""
    if month_is_closed(account_id=application.account_id, day=day):
        raise BillingError(
            f"The invoice for {day:%Y-%m} is finalized; a change dated then cannot be billed. "
            "Date it in an open month.",
            code="period_closed",
            field="effective",
        )


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


@dataclass
class InvoiceDetail:
    """One invoice as the customer reads it, on the page and in the PDF alike."""

    invoice: Invoice
    title: str
    bill_to: dict  # name, billing_email, billing_address
    lines: list[InvoiceLine]
    credit_notes: list[CreditNote]
    payments: list[Payment]
    credited: Decimal
    paid: Decimal
    amount_due: Decimal  # nothing on a draft (not issued yet) or a void invoice

    @property
    def currency(self) -> str:
        return self.invoice.currency

    @property
    def month_label(self) -> str:
        return f"{self.invoice.month:%B %Y}"


def invoice_title(invoice: Invoice) -> str:
    if invoice.number:
        return f"Invoice {invoice.number}"
    return f"Draft invoice {invoice.month:%B %Y} ({invoice.currency})"


def invoice_detail(*, invoice: Invoice) -> InvoiceDetail:
    """Lines with their explanations, credit notes, payments and what is due. An issued
    invoice shows the billing details frozen at finalization; a draft the current ones."""
    lines = list(invoice.lines.select_related("application", "item").order_by("sort_key", "pk"))
    credit_notes = list(invoice.credit_notes.order_by("created_at", "pk"))
    payments = list(invoice.payments.order_by("received_at", "pk"))
    credited = sum((note.amount for note in credit_notes), ZERO)
    paid = sum((payment.amount for payment in payments), ZERO)
    account = invoice.account
    bill_to = invoice.billing_snapshot or {
        "name": account.name,
        "billing_email": account.billing_email,
        "billing_address": account.billing_address,
    }
    return InvoiceDetail(
        invoice=invoice,
        title=invoice_title(invoice),
        bill_to={
            "name": bill_to.get("name", ""),
            "billing_email": bill_to.get("billing_email") or bill_to.get("email", ""),
            "billing_address": bill_to.get("billing_address", ""),
        },
        lines=lines,
        credit_notes=credit_notes,
        payments=payments,
        credited=credited,
        paid=paid,
        amount_due=amount_due(invoice, credited=credited, paid=paid),
    )

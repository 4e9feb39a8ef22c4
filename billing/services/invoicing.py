"""Invoices (SPEC 3, 6): drafts rebuilt from charges, prepaid purchases, proration credits and
adjustments; finalization with gapless numbers per year and a frozen total.

A line's amount is the sum of its exact amounts rounded half-up once; an invoice total is the
sum of its rounded lines."""

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from billing.audit import audit_record_build, audit_records_create
from billing.calendar import month_start
from billing.models import (
    Currency,
    DocumentSequence,
    Invoice,
    InvoiceLine,
)
from billing.money import ZERO, round_money
from billing.selectors.invoices import invoice_line_specs
from billing.services.bulk import insert_rows, update_rows
from billing.sums import money_sum
from notifications import outbox

Kind = InvoiceLine.Kind
# Lines written by a service rather than rebuilt from what the month bills: staff adjustments
# and approved late usage of closed months (billing.services.restatements). A refresh keeps
# them and counts them in the total.
KEPT_KINDS = (Kind.ADJUSTMENT, Kind.LATE_USAGE)


# The columns of a line that a refresh writes, in the order they are compared and inserted.
LINE_FIELDS = (
    "kind",
    "application_id",
    "item_id",
    "description",
    "quantity",
    "unit_price",
    "exact_amount",
    "amount",
    "term_id",
    "pack_id",
    "sort_key",
    "used_quantity",
    "covered_quantity",
    "first_day",
    "last_day",
)

AMOUNT_AT = LINE_FIELDS.index("amount")

InvoiceKey = tuple[int, str, dt.date]  # (account id, currency, first day of the month)


def invoices_refresh(keys: Iterable[InvoiceKey]) -> dict[InvoiceKey, Invoice | None]:
    """Rebuild the draft invoices of these (account, currency, month) keys from what they
    bill, in a fixed number of queries per month. A finalized, paid or void invoice is never
    touched. A draft whose lines are already right is left as it is. Returns each key's
    invoice, or None when there is nothing to bill and no draft yet."""
    wanted = sorted({(account, currency, month_start(month)) for account, currency, month in keys})
    found: dict[InvoiceKey, Invoice | None] = dict.fromkeys(wanted)
    with transaction.atomic():
        for month in sorted({key[2] for key in wanted}):
            month_keys = {(a, c) for a, c, m in wanted if m == month}
            for (account, currency), invoice in _invoices_refresh_month(month, month_keys).items():
                found[(account, currency, month)] = invoice
    return found


def _lock_invoices(month: dt.date, keys: set[tuple[int, str]]) -> dict[tuple[int, str], Invoice]:
    """The invoices of ``keys`` for ``month``, locked in id order (a stable lock order)."""
    accounts = sorted({account for account, _ in keys})
    currencies = sorted({currency for _, currency in keys})
    locked = Invoice.objects.select_for_update().filter(
        account_id__any=accounts, currency__in=currencies, month=month
    )
    return {
        (invoice.account_id, invoice.currency): invoice
        for invoice in locked.order_by("pk")
        if (invoice.account_id, invoice.currency) in keys
    }


def _invoices_refresh_month(
    month: dt.date, keys: set[tuple[int, str]]
) -> dict[tuple[int, str], Invoice]:
    invoices = _lock_invoices(month, keys)
    accounts = sorted({account for account, _ in keys})
    currencies = sorted({currency for _, currency in keys})
    specs = invoice_line_specs(accounts, month, currencies)
    missing = [key for key in sorted(keys) if key not in invoices and specs.get(key)]
    if missing:
        Invoice.objects.bulk_create(
            [Invoice(account_id=a, currency=c, month=month) for a, c in missing],
            ignore_conflicts=True,
        )
        invoices.update(_lock_invoices(month, set(missing)))
    drafts = {key: invoice for key, invoice in invoices.items() if invoice.is_draft}
    if not drafts:
        return invoices

    by_id = {invoice.pk: key for key, invoice in drafts.items()}
    current: dict[int, list[tuple]] = defaultdict(list)
    adjustments: dict[int, Decimal] = defaultdict(lambda: ZERO)
    stored = InvoiceLine.objects.filter(invoice_id__any=list(by_id)).order_by("invoice_id", "id")
    for row in stored.values_list("invoice_id", "adjustment_id", *LINE_FIELDS):
        invoice_id, adjustment_id, *values = row
        if values[0] in KEPT_KINDS:
            adjustments[invoice_id] += values[AMOUNT_AT]
        else:
            current[invoice_id].append(tuple(values))

    rewrite: list[int] = []
    new_lines: list[tuple] = []
    changed_totals: list[Invoice] = []
    now = timezone.now()
    for key, invoice in drafts.items():
        currency = key[1]
        lines = [
            (
                spec["kind"],
                spec["application_id"],
                spec["item_id"],
                spec["description"],
                spec["quantity"],
                spec["unit_price"],
                spec["exact_amount"],
                round_money(spec["exact_amount"], currency),
                spec.get("term_id"),
                spec.get("pack_id"),
                spec["sort_key"],
                spec.get("used_quantity"),
                spec.get("covered_quantity"),
                spec.get("first_day"),
                spec.get("last_day"),
            )
            for spec in specs.get(key, [])
        ]
        if lines != current.get(invoice.pk, []):
            rewrite.append(invoice.pk)
            new_lines += [(invoice.pk, *line) for line in lines]
        total = sum((line[AMOUNT_AT] for line in lines), ZERO)
        total += adjustments.get(invoice.pk, ZERO)
        if invoice.total != total:
            invoice.total = total
            invoice.updated_at = now
            changed_totals.append(invoice)
    if rewrite:
        InvoiceLine.objects.filter(invoice_id__any=rewrite).exclude(kind__in=KEPT_KINDS).delete()
        insert_rows(InvoiceLine, ("invoice_id", *LINE_FIELDS), new_lines)
    update_rows(Invoice, ("total", "updated_at"), [(i.pk, i.total, now) for i in changed_totals])
    return invoices


def invoice_refresh(*, account_id: int, currency: str, month: dt.date) -> Invoice | None:
    """Rebuild the draft invoice of (account, currency, month) from what it bills. A
    finalized, paid or void invoice is never touched. Returns the draft, or None when there is
    nothing to bill and no draft yet."""
    key = (account_id, currency, month_start(month))
    return invoices_refresh([key])[key]


def invoice_total_update(invoice: Invoice) -> None:
    """Set a draft's total to the sum of its lines (after a line was added by hand)."""
    total = invoice.lines.aggregate(total=money_sum("amount"))["total"] or ZERO
    if invoice.total != total:
        invoice.total = total
        invoice.save(update_fields=["total", "updated_at"])


_deferred: ContextVar[set[InvoiceKey] | None] = ContextVar("invoices_deferred", default=None)


@contextmanager
def invoices_refresh_deferred():
    """Inside this block ``invoices_mark_stale`` only notes which drafts changed; they are
    refreshed together, in bulk, when the block ends without an error (the billing jobs: a
    chunk of accounts renews terms and rates applications, then refreshes each draft once).
    Yields the set of (account, currency, month) keys noted, refreshed once the block ends;
    a nested block adds to the outer one's."""
    outer = _deferred.get()
    if outer is not None:
        yield outer
        return
    keys: set[InvoiceKey] = set()
    token = _deferred.set(keys)
    try:
        yield keys
    finally:
        _deferred.reset(token)
    invoices_refresh(keys)


def invoices_mark_stale(*, account_id: int, day: dt.date) -> None:
    """Something billed in ``day``'s month changed for this account: refresh its drafts of
    that month in every currency (inside the caller's transaction)."""
    keys = [(account_id, currency, month_start(day)) for currency in Currency.values]
    deferred = _deferred.get()
    if deferred is not None:
        deferred.update(keys)
    else:
        invoices_refresh(keys)


def document_numbers_next(kind: str, prefix: str, year: int, count: int) -> list[str]:
    """The next ``count`` gapless numbers of the year, under a row lock held until commit."""
    if count == 0:
        return []
    DocumentSequence.objects.get_or_create(kind=kind, year=year)
    sequence = DocumentSequence.objects.select_for_update().get(kind=kind, year=year)
    first = sequence.last_number + 1
    sequence.last_number += count
    sequence.save(update_fields=["last_number"])
    return [f"{prefix}-{year}-{number:06d}" for number in range(first, first + count)]


def document_number_next(kind: str, prefix: str, year: int) -> str:
    """The next gapless number of the year, under a row lock held until commit."""
    return document_numbers_next(kind, prefix, year, 1)[0]


def billing_snapshot(account: Account) -> dict:
    return {
        "name": account.name,
        "billing_email": account.billing_email,
        "billing_address": account.billing_address,
        "billing_name": account.billing_name,
        "tax_id": account.tax_id,
    }


def invoices_issue(
    *,
    drafts: list[Invoice],
    actor=None,
    today: dt.date | None = None,
    refreshed: set[InvoiceKey] = frozenset(),
) -> list[Invoice]:
    """Issue locked drafts (SPEC 6): refresh their lines a last time (unless their keys are in
    ``refreshed``: rebuilt in this transaction already), issue consecutive numbers of the year
    in (account, currency) order, freeze totals, due dates and billing snapshots, and write one
    audit record each. The caller holds the drafts' row locks and has rated their stale days
    (``billing.services.closing``). The sequence row is locked last, so parallel chunks wait
    for each other only while they commit."""
    with transaction.atomic():
        keys = [(i.account_id, i.currency, month_start(i.month)) for i in drafts]
        invoices_refresh([key for key in keys if key not in refreshed])
        totals = dict(
            Invoice.objects.filter(pk__any=[i.pk for i in drafts]).values_list("pk", "total")
        )
        now = timezone.now()
        today = today or timezone.localdate(now)
        drafts.sort(key=lambda i: (i.account_id, i.currency, i.month, i.pk))
        numbers = document_numbers_next("invoice", "INV", today.year, len(drafts))
        records = []
        for invoice, number in zip(drafts, numbers, strict=True):
            invoice.total = totals[invoice.pk]
            invoice.number = number
            invoice.state = Invoice.State.FINALIZED
            invoice.finalized_at = now
            invoice.due_date = today + dt.timedelta(days=settings.INVOICE_DUE_DAYS)
            invoice.billing_snapshot = billing_snapshot(invoice.account)
            invoice.updated_at = now
            if invoice.total == ZERO:
                invoice.state = Invoice.State.PAID
                invoice.paid_at = now
            records.append(
                audit_record_build(
                    actor=actor,
                    action="invoice.finalize",
                    target=invoice,
                    account=invoice.account,
                    before={"state": "draft"},
                    after={
                        "state": invoice.state,
                        "number": invoice.number,
                        "total": invoice.total,
                    },
                )
            )
        frozen = (
            "total", "number", "state", "finalized_at", "due_date", "billing_snapshot",
            "paid_at", "updated_at",
        )  # fmt: skip
        update_rows(
            Invoice, frozen, [(i.pk, *(getattr(i, name) for name in frozen)) for i in drafts]
        )
        audit_records_create(records)
        outbox.record_each("invoice.finalized", drafts)
        return drafts

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
from django.db.models import Sum
from django.utils import timezone

from accounts.models import Account
from billing.audit import audit_record_build, audit_records_create
from billing.calendar import month_end, month_start
from billing.errors import BillingError
from billing.locks import applications_lock
from billing.models import (
    Application,
    BillableItem,
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
from billing.services.bulk import insert_rows, update_rows
from notifications import outbox

Kind = InvoiceLine.Kind


def _units(quantity: Decimal, unit: str) -> str:
    plural = quantity != 1 and not unit.endswith("s")
    return f"{qty(quantity)} {unit}{'s' if plural else ''}"


def _line_specs_bulk(
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
        specs[(account_id, currency)].append(
            {
                "kind": Kind.USAGE,
                "application_id": application_id,
                "item_id": item_id,
                "description": (
                    f"{item_name}, {app_name} ({sdkappid}): "
                    f"{coverage}{_units(quantity, unit)} billable at {price}"
                ),
                "quantity": quantity,
                "unit_price": unit_price,
                "exact_amount": exact_amount,
                "sort_key": f"{sdkappid}-2-{sort_order:04d}",
            }
        )

    term_fields = (
        "pk", "currency", "item_id", "item__name", "item__sort_order", "starts_on", "ends_on",
        "amount", "cut_on", "credit_amount", "application_id", "application__account_id",
        "application__name", "application__sdkappid",
    )  # fmt: skip
    for term in terms.filter(starts_on__range=(first, last)).values(*term_fields):
        sdkappid = term["application__sdkappid"]
        specs[(term["application__account_id"], term["currency"])].append(
            {
                "kind": Kind.PREPAID,
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
                "sort_key": (
                    f"{sdkappid}-1-{term['starts_on']:%Y%m%d}-{term['item__sort_order']:04d}"
                ),
            }
        )
    credited = terms.filter(cut_on__range=(first, last), credit_amount__gt=0)
    for term in credited.values(*term_fields):
        starts_on, ends_on, cut_on = term["starts_on"], term["ends_on"], term["cut_on"]
        used_days = (cut_on - starts_on).days
        total_days = (ends_on - starts_on).days + 1
        unused = total_days - used_days
        specs[(term["application__account_id"], term["currency"])].append(
            {
                "kind": Kind.PRORATION,
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
                "sort_key": f"{term['application__sdkappid']}-1-{cut_on:%Y%m%d}-credit",
            }
        )
    pack_fields = (
        "pk", "currency", "item_id", "item__name", "valid_from", "valid_until", "amount",
        "application_id", "application__account_id", "application__name",
        "application__sdkappid",
    )  # fmt: skip
    for pack in packs.values(*pack_fields):
        sdkappid = pack["application__sdkappid"]
        specs[(pack["application__account_id"], pack["currency"])].append(
            {
                "kind": Kind.PREPAID,
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
                "sort_key": f"{sdkappid}-1-{pack['valid_from']:%Y%m%d}-pack",
            }
        )
    return specs


def _line_specs(account_id: int, currency: str, month: dt.date) -> list[dict]:
    """Every line a draft for (account, currency, month) should have, adjustments aside."""
    return _line_specs_bulk([account_id], month, [currency]).get((account_id, currency), [])


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
    specs = _line_specs_bulk(accounts, month, currencies)
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
        if values[0] == Kind.ADJUSTMENT:
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
        InvoiceLine.objects.filter(invoice_id__any=rewrite).exclude(kind=Kind.ADJUSTMENT).delete()
        insert_rows(InvoiceLine, ("invoice_id", *LINE_FIELDS), new_lines)
    update_rows(Invoice, ("total", "updated_at"), [(i.pk, i.total, now) for i in changed_totals])
    return invoices


def invoice_refresh(*, account_id: int, currency: str, month: dt.date) -> Invoice | None:
    """Rebuild the draft invoice of (account, currency, month) from what it bills. A
    finalized, paid or void invoice is never touched. Returns the draft, or None when there is
    nothing to bill and no draft yet."""
    key = (account_id, currency, month_start(month))
    return invoices_refresh([key])[key]


def _invoice_total_update(invoice: Invoice) -> None:
    """Set a draft's total to the sum of its lines (after a line was added by hand)."""
    total = invoice.lines.aggregate(total=Sum("amount"))["total"] or ZERO
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
    from billing.services.rating import _Catalog, _closed_months, rate_stale_days_of

    applications = list(Application.objects.filter(account_id=account_id).order_by("pk"))
    applications_lock(app.pk for app in applications)
    stale = RatedDay.objects.filter(
        application__account_id=account_id,
        state=RatedDay.State.STALE,
        day__range=(month_start(month), month_end(month)),
    )
    if stale.exists():
        catalog, closed = _Catalog(), _closed_months([account_id])
        rate_stale_days_of(applications, month, catalog, closed)


def _next_numbers(kind: str, prefix: str, year: int, count: int) -> list[str]:
    """The next ``count`` gapless numbers of the year, under a row lock held until commit."""
    if count == 0:
        return []
    DocumentSequence.objects.get_or_create(kind=kind, year=year)
    sequence = DocumentSequence.objects.select_for_update().get(kind=kind, year=year)
    first = sequence.last_number + 1
    sequence.last_number += count
    sequence.save(update_fields=["last_number"])
    return [f"{prefix}-{year}-{number:06d}" for number in range(first, first + count)]


def _next_number(kind: str, prefix: str, year: int) -> str:
    """The next gapless number of the year, under a row lock held until commit."""
    return _next_numbers(kind, prefix, year, 1)[0]


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
        [finalized] = invoices_finalize(
            invoice_ids=[invoice.pk], actor=actor, today=today, usage_locked=usage_locked
        )
        return finalized


def invoices_finalize(
    *,
    invoice_ids: Iterable[int],
    actor=None,
    today: dt.date | None = None,
    usage_locked: bool = False,
    refreshed: set[InvoiceKey] = frozenset(),
) -> list[Invoice]:
    """Finalize the drafts among ``invoice_ids`` together (the monthly close of a chunk of
    accounts): lock them, rate their months' stale days (unless ``usage_locked``: the caller
    holds the applications' locks and rated them), refresh their lines, issue consecutive
    numbers in (account, currency) order, freeze totals, due dates and billing snapshots, and
    write one audit record each. Invoices that are no longer drafts are left alone; those
    whose keys are in ``refreshed`` were rebuilt in this transaction already (the monthly
    close) and are not rebuilt again. The sequence row is locked last, so parallel chunks
    wait for each other only while they commit."""
    with transaction.atomic():
        locked = (
            Invoice.objects.select_for_update()
            .select_related("account")
            .filter(pk__any=list(invoice_ids))
            .order_by("pk")
        )
        drafts = [invoice for invoice in locked if invoice.is_draft]
        if not drafts:
            return []
        if not usage_locked:
            for account_id, month in sorted({(i.account_id, i.month) for i in drafts}):
                _rate_stale_usage(account_id, month)
        keys = [(i.account_id, i.currency, month_start(i.month)) for i in drafts]
        invoices_refresh([key for key in keys if key not in refreshed])
        totals = dict(
            Invoice.objects.filter(pk__any=[i.pk for i in drafts]).values_list("pk", "total")
        )
        now = timezone.now()
        today = today or timezone.localdate(now)
        drafts.sort(key=lambda i: (i.account_id, i.currency, i.month, i.pk))
        numbers = _next_numbers("invoice", "INV", today.year, len(drafts))
        records = []
        for invoice, number in zip(drafts, numbers, strict=True):
            invoice.total = totals[invoice.pk]
            invoice.number = number
            invoice.state = Invoice.State.FINALIZED
            invoice.finalized_at = now
            invoice.due_date = today + dt.timedelta(days=settings.INVOICE_DUE_DAYS)
            invoice.billing_snapshot = _billing_snapshot(invoice.account)
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

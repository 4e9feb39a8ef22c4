"""The accounting journal (issue 15): double entries per currency for a month, built from the
billing documents. Nothing here is stored: the journal is a reading of invoices, credit notes,
payments and prepaid terms, so it can be exported again for any month and gives the same rows.

Entries (each balances; amounts are the documents' rounded amounts):

- invoice finalized: debit receivable; credit revenue per product family, except prepaid term
  fees (edition and add-on terms), which are credited to deferred revenue; a proration credit
  of a cut term debits deferred revenue (the unused days were never recognized);
- term recognition: deferred revenue is recognized day by day over each term (cumulative
  rounding, so a term recognizes exactly its fee, or its fee less the proration credit when
  an upgrade cut it); days before the invoice was finalized are caught up on that day. One
  entry per day and currency: debit deferred revenue, credit revenue per family;
- credit note: debit revenue (adjustments and credits), credit receivable;
- payment: debit cash, credit receivable;
- void: the reversal of what the invoice posted (recognized revenue and what is still deferred).

Receivable follows the invoices' amounts due (SPEC 8: total less credit notes and payments,
never below zero). What a document moves beyond that (a payment above the amount due, a credit
note on a paid invoice, a payment recorded without an invoice) goes to customer credit
balances, a liability. So at any month end the receivable account's balance is the sum of the
amounts due on issued invoices.
"""

import csv
import datetime as dt
import io
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from billing.calendar import billing_today, billing_tz, month_end, month_start
from billing.models import CreditNote, Invoice, InvoiceLine, Payment
from billing.money import ZERO, round_money
from billing.reports.families import ADJUSTMENTS, FAMILIES, family_of_line

CASH = "1000 Cash"
RECEIVABLE = "1100 Accounts receivable"
DEFERRED = "2100 Deferred revenue"
CUSTOMER_CREDIT = "2200 Customer credit balances"
REVENUE = {family: f"{4010 + 10 * i} Revenue: {label}" for i, (family, label) in enumerate(
    FAMILIES.items()
)}  # fmt: skip

COLUMNS = ["date", "entry", "account", "debit", "credit", "currency", "reference"]


@dataclass
class JournalEntry:
    date: dt.date
    entry: str
    currency: str
    reference: str
    # (account, signed amount): positive is a debit, negative a credit.
    lines: list[tuple[str, Decimal]] = field(default_factory=list)
    order: int = 0  # within a day: finalizations, recognition, credit notes, payments, voids

    def post(self, account: str, signed: Decimal) -> None:
        if signed:
            self.lines.append((account, signed))

    def balance_with(self, account: str) -> None:
        """Post whatever makes the entry balance to ``account``."""
        self.post(account, -sum((amount for _, amount in self.lines), ZERO))

    @property
    def debits(self) -> Decimal:
        return sum((a for _, a in self.lines if a > 0), ZERO)

    @property
    def credits(self) -> Decimal:
        return sum((-a for _, a in self.lines if a < 0), ZERO)

    def rows(self) -> list[list[str]]:
        merged: dict[str, Decimal] = defaultdict(Decimal)
        for account, amount in self.lines:
            merged[account] += amount
        return [
            [
                self.date.isoformat(),
                self.entry,
                account,
                f"{amount:.2f}" if amount > 0 else "",
                f"{-amount:.2f}" if amount < 0 else "",
                self.currency,
                self.reference,
            ]
            for account, amount in sorted(merged.items(), key=lambda kv: (kv[1] < 0, kv[0]))
            if amount
        ]


def _local_day(moment: dt.datetime) -> dt.date:
    return moment.astimezone(billing_tz()).date()


@dataclass
class _TermLine:
    """A prepaid term fee on an issued invoice, and how it is recognized."""

    invoice_id: int
    currency: str
    family: str
    amount: Decimal
    starts_on: dt.date
    days_in_term: int
    days_recognized: int  # the whole term, or up to the day an upgrade cut it
    recognized_total: Decimal  # the fee, or the fee less the proration credit
    posted_on: dt.date  # the day the invoice was finalized

    def daily(self) -> list[tuple[dt.date, Decimal]]:
        """(recognition date, amount) for each day of the term: cumulative rounding, the
        last day takes what makes the total exact; days before ``posted_on`` land on it."""
        out, before = [], ZERO
        for k in range(1, self.days_recognized + 1):
            if k == self.days_recognized:
                through = self.recognized_total
            else:
                through = round_money(self.amount * k / self.days_in_term, self.currency)
            day = self.starts_on + dt.timedelta(days=k - 1)
            out.append((max(day, self.posted_on), through - before))
            before = through
        return out


class _InvoiceState:
    """What an invoice owes as its documents arrive: its amount due (SPEC 8)."""

    def __init__(self, invoice: Invoice):
        self.total = invoice.total
        self.finalized = False
        self.void = False
        self.credited = ZERO
        self.paid = ZERO

    @property
    def due(self) -> Decimal:
        if not self.finalized or self.void:
            return ZERO
        return max(ZERO, self.total - self.credited - self.paid)


def journal_entries(*, first: dt.date, last: dt.date) -> list[JournalEntry]:
    """Every journal entry dated ``first`` to ``last`` (billing days, inclusive). Documents
    before ``first`` are read too, for the amounts due they leave."""
    tz = billing_tz()
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
    invoices = {
        invoice.pk: invoice
        for invoice in Invoice.objects.exclude(state=Invoice.State.DRAFT).filter(
            finalized_at__lt=end
        )
    }
    entries: list[JournalEntry] = []

    def in_range(day: dt.date) -> bool:
        return first <= day <= last

    # The lines of invoices finalized or voided in the range, and every prepaid term line
    # whose recognition reaches into it.
    posted_in_range = [
        pk
        for pk, invoice in invoices.items()
        if in_range(_local_day(invoice.finalized_at))
        or (invoice.voided_at and in_range(_local_day(invoice.voided_at)))
    ]
    line_rows = (
        InvoiceLine.objects.filter(invoice_id__in=list(invoices))
        .values_list(
            "invoice_id",
            "kind",
            "item__code",
            "amount",
            "term_id",
            "term__starts_on",
            "term__ends_on",
            "term__cut_on",
            "term__credit_amount",
        )
        .order_by("invoice_id", "sort_key", "pk")
    )
    posted = set(posted_in_range)
    lines_of: dict[int, list[tuple]] = defaultdict(list)
    term_lines: list[_TermLine] = []
    for row in line_rows:
        invoice_id, kind, code, amount, term_id, starts_on, ends_on, cut_on, credit = row
        is_term_fee = kind == InvoiceLine.Kind.PREPAID and term_id is not None
        invoice = invoices[invoice_id]
        # Recognized through the term's end, or on the day of finalization if that is later.
        if is_term_fee and amount and max(ends_on, _local_day(invoice.finalized_at)) >= first:
            days_in_term = (ends_on - starts_on).days + 1
            cut = cut_on is not None and cut_on <= ends_on
            term_lines.append(
                _TermLine(
                    invoice_id=invoice_id,
                    currency=invoice.currency,
                    family=family_of_line(kind, code),
                    amount=amount,
                    starts_on=starts_on,
                    days_in_term=days_in_term,
                    days_recognized=(cut_on - starts_on).days if cut else days_in_term,
                    recognized_total=amount - credit if cut else amount,
                    posted_on=_local_day(invoice.finalized_at),
                )
            )
        if invoice_id in posted:
            lines_of[invoice_id].append((kind, code, amount, term_id))

    def line_account(kind: str, code: str | None, term_id: int | None) -> str:
        if term_id is not None and kind in (InvoiceLine.Kind.PREPAID, InvoiceLine.Kind.PRORATION):
            return DEFERRED
        return REVENUE[family_of_line(kind, code)]

    # Day-by-day recognition, and what each invoice recognized by the day it was voided.
    recognized: dict[tuple[dt.date, str], dict[str, Decimal]] = defaultdict(
        lambda: defaultdict(Decimal)
    )
    recognized_by_void: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for term in term_lines:
        invoice = invoices[term.invoice_id]
        void_day = _local_day(invoice.voided_at) if invoice.voided_at else None
        for day, amount in term.daily():
            if void_day is not None and day > void_day:
                break
            if void_day is not None:
                recognized_by_void[term.invoice_id][term.family] += amount
            if in_range(day):
                recognized[(day, term.currency)][term.family] += amount
    for (day, currency), per_family in sorted(recognized.items()):
        entry = JournalEntry(
            day, f"REC-{day:%Y%m%d}-{currency}", currency, "prepaid terms recognized", order=1
        )
        for family, amount in per_family.items():
            entry.post(REVENUE[family], -amount)
        entry.balance_with(DEFERRED)
        if entry.lines:
            entries.append(entry)

    # Documents in time order, per invoice, so that each moves receivable by what it changes
    # in the invoice's amount due.
    events: list[tuple[dt.datetime, int, str, object]] = []
    for invoice in invoices.values():
        events.append((invoice.finalized_at, 0, "finalize", invoice))
        if invoice.voided_at:
            events.append((invoice.voided_at, 4, "void", invoice))
    for note in CreditNote.objects.filter(created_at__lt=end).select_related("invoice"):
        events.append((note.created_at, 2, "credit_note", note))
    for payment in Payment.objects.filter(received_at__lt=end).select_related("invoice"):
        events.append((payment.received_at, 3, "payment", payment))
    events.sort(key=lambda event: (event[0], event[1]))

    states = {pk: _InvoiceState(invoice) for pk, invoice in invoices.items()}
    for moment, _order, kind, document in events:
        day = _local_day(moment)
        invoice = document if kind in ("finalize", "void") else document.invoice
        state = states.get(invoice.pk) if invoice is not None else None
        due_before = state.due if state else ZERO
        if kind == "finalize":
            state.finalized = True
        elif kind == "void":
            state.void = True
        elif kind == "credit_note" and state:
            state.credited += document.amount
        elif kind == "payment" and state:
            state.paid += document.amount
        due_after = state.due if state else ZERO
        if not in_range(day):
            continue
        if kind == "finalize":
            entry = JournalEntry(day, f"{invoice.number}", invoice.currency, invoice.number)
            for line_kind, code, amount, term_id in lines_of[invoice.pk]:
                entry.post(line_account(line_kind, code, term_id), -amount)
        elif kind == "void":
            entry = JournalEntry(
                day, f"{invoice.number}-VOID", invoice.currency, invoice.number, order=4
            )
            by_void = recognized_by_void.get(invoice.pk, {})
            for line_kind, code, amount, term_id in lines_of[invoice.pk]:
                entry.post(line_account(line_kind, code, term_id), amount)
            for family, amount in by_void.items():  # recognized revenue is reversed too
                entry.post(REVENUE[family], amount)
                entry.post(DEFERRED, -amount)
        elif kind == "credit_note":
            entry = JournalEntry(day, document.number, document.currency, invoice.number, order=2)
            entry.post(REVENUE[ADJUSTMENTS], document.amount)
        else:
            reference = document.reference or (invoice.number if invoice else "")
            entry = JournalEntry(day, f"PAY-{document.pk}", document.currency, reference, order=3)
            entry.post(CASH, document.amount)
        entry.post(RECEIVABLE, due_after - due_before)
        entry.balance_with(CUSTOMER_CREDIT)
        if entry.lines:
            entries.append(entry)
    entries.sort(key=lambda e: (e.date, e.order, e.currency, e.entry))
    return entries


def journal_for_month(month: dt.date, *, today: dt.date | None = None) -> list[JournalEntry]:
    """The month's entries; for the running month, up to today (terms are recognized day by
    day as the days pass, never ahead)."""
    today = today or billing_today()
    return journal_entries(first=month_start(month), last=min(month_end(month), today))


def journal_csv(entries: list[JournalEntry]) -> str:
    """The CSV of ``export_journal`` and the admin download: exactly COLUMNS."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for entry in entries:
        writer.writerows(entry.rows())
    return out.getvalue()

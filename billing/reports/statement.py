"""Account statements (issue 15): for a date range, per currency, the opening balance, every
invoice, credit note, payment and void in the range, and the closing balance. Balances follow
``billing.selectors.account_balances`` (payments plus credit notes minus what was invoiced;
negative: the customer owes it), so a statement that ends today closes on the account's
balance. Rendered as HTML (admin and portal), CSV and PDF (reportlab, like billing/pdf.py)."""

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from decimal import Decimal

from accounts.models import Account
from billing.calendar import billing_tz, month_start
from billing.display import money
from billing.models import CreditNote, Invoice, Payment
from billing.money import ZERO


@dataclass
class StatementLine:
    date: dt.date
    kind: str  # "invoice", "void", "credit note", "payment"
    document: str
    description: str
    charges: Decimal  # what it adds to what is owed
    credits: Decimal  # what it takes off
    balance: Decimal = ZERO  # after this line, account_balances' sign


@dataclass
class CurrencyStatement:
    currency: str
    opening: Decimal
    lines: list[StatementLine] = field(default_factory=list)

    @property
    def closing(self) -> Decimal:
        return self.opening + sum((line.credits - line.charges for line in self.lines), ZERO)

    @property
    def total_charges(self) -> Decimal:
        return sum((line.charges for line in self.lines), ZERO)

    @property
    def total_credits(self) -> Decimal:
        return sum((line.credits for line in self.lines), ZERO)


@dataclass
class Statement:
    account: Account
    start: dt.date
    end: dt.date
    currencies: list[CurrencyStatement]


def _day(moment: dt.datetime) -> dt.date:
    return moment.astimezone(billing_tz()).date()


def _documents(account_id: int) -> list[tuple[dt.date, int, StatementLine, str]]:
    """Every document that moved the account's balance: (day, order, line, currency)."""
    out = []
    issued = Invoice.objects.filter(account_id=account_id).exclude(state=Invoice.State.DRAFT)
    for invoice in issued.order_by("finalized_at", "pk"):
        month = f"{invoice.month:%B %Y}"
        out.append(
            (
                _day(invoice.finalized_at),
                0,
                StatementLine(
                    _day(invoice.finalized_at), "invoice", invoice.number,
                    f"Invoice for {month}, due {invoice.due_date:%d %b %Y}", invoice.total, ZERO,
                ),
                invoice.currency,
            )
        )  # fmt: skip
        if invoice.state == Invoice.State.VOID and invoice.voided_at:
            out.append(
                (
                    _day(invoice.voided_at),
                    3,
                    StatementLine(
                        _day(invoice.voided_at), "void", invoice.number,
                        f"Invoice {invoice.number} voided: {invoice.void_reason}", ZERO,
                        invoice.total,
                    ),
                    invoice.currency,
                )
            )  # fmt: skip
    notes = CreditNote.objects.filter(invoice__account_id=account_id).select_related("invoice")
    for note in notes.order_by("created_at", "pk"):
        out.append(
            (
                _day(note.created_at),
                1,
                StatementLine(
                    _day(note.created_at), "credit note", note.number,
                    f"Credit note on {note.invoice.number}: {note.reason}", ZERO, note.amount,
                ),
                note.currency,
            )
        )  # fmt: skip
    payments = Payment.objects.filter(account_id=account_id).select_related("invoice")
    for payment in payments.order_by("received_at", "pk"):
        against = f" for {payment.invoice.number}" if payment.invoice_id else ""
        out.append(
            (
                _day(payment.received_at),
                2,
                StatementLine(
                    _day(payment.received_at), "payment", payment.reference or f"#{payment.pk}",
                    f"Payment received{against}", ZERO, payment.amount,
                ),
                payment.currency,
            )
        )  # fmt: skip
    out.sort(key=lambda row: (row[0], row[1]))
    return out


def account_statement(*, account: Account, start: dt.date, end: dt.date) -> Statement:
    """The statement of ``account`` from ``start`` to ``end`` (billing days, inclusive)."""
    per_currency: dict[str, CurrencyStatement] = {}
    for day, _order, line, currency in _documents(account.pk):
        if day > end:
            continue
        statement = per_currency.setdefault(currency, CurrencyStatement(currency, ZERO))
        if day < start:
            statement.opening += line.credits - line.charges
        else:
            statement.lines.append(line)
    for statement in per_currency.values():
        running = statement.opening
        for line in statement.lines:
            running += line.credits - line.charges
            line.balance = running
    return Statement(account, start, end, [per_currency[c] for c in sorted(per_currency)])


def balance_words(amount: Decimal, currency: str) -> str:
    """A balance for people: what is owed, or what is in credit."""
    if amount < 0:
        return f"{money(-amount, currency)} owed"
    if amount > 0:
        return f"{money(amount, currency)} in credit"
    return f"settled ({money(ZERO, currency)})"


STATEMENT_COLUMNS = [
    "currency",
    "date",
    "type",
    "document",
    "description",
    "charges",
    "credits",
    "balance",
]


def statement_csv(statement: Statement) -> str:
    """One row per document, with an opening and a closing row per currency. ``balance`` has
    the account balance's sign: negative is owed by the customer."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(STATEMENT_COLUMNS)
    for part in statement.currencies:
        c = part.currency
        writer.writerow([c, statement.start.isoformat(), "opening", "", "Opening balance",
                         "", "", f"{part.opening:.2f}"])  # fmt: skip
        for line in part.lines:
            writer.writerow(
                [c, line.date.isoformat(), line.kind, line.document, line.description,
                 f"{line.charges:.2f}" if line.charges else "",
                 f"{line.credits:.2f}" if line.credits else "", f"{line.balance:.2f}"]
            )  # fmt: skip
        writer.writerow([c, statement.end.isoformat(), "closing", "", "Closing balance",
                         f"{part.total_charges:.2f}", f"{part.total_credits:.2f}",
                         f"{part.closing:.2f}"])  # fmt: skip
    return out.getvalue()


def statement_filename(statement: Statement, extension: str) -> str:
    return f"statement-{statement.account.pk}-{statement.start}-{statement.end}.{extension}"


def statement_range_default(today: dt.date) -> tuple[dt.date, dt.date]:
    """The last three calendar months through today."""
    first = month_start(today)
    for _ in range(2):
        first = month_start(first - dt.timedelta(days=1))
    return first, today

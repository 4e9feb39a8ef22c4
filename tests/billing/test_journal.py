"""The accounting journal (issue 15): hand-worked entries, then the demo data through
``manage.py export_journal``: every entry balances, debits equal credits per currency, and the
receivable account's balance at each month end equals the open amounts of issued invoices."""

import csv
import datetime as dt
import io
from collections import defaultdict
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from accounts.services import staff_create
from billing.calendar import billing_today, billing_tz, month_end, month_start
from billing.models import Invoice, InvoiceLine
from billing.reports.journal import (
    CASH,
    COLUMNS,
    CUSTOMER_CREDIT,
    DEFERRED,
    RECEIVABLE,
    REVENUE,
    journal_entries,
)
from billing.selectors import invoice_amount_due
from tests.factories import (
    ApplicationFactory,
    CreditNoteFactory,
    InvoiceFactory,
    InvoiceLineFactory,
    PaymentFactory,
    PrepaidTermFactory,
    billable_item,
)

pytestmark = pytest.mark.django_db

D = Decimal
TZ = billing_tz()


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=TZ)


def balances(entries) -> dict[tuple[str, str], Decimal]:
    """(account, currency) -> debits minus credits."""
    out: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for entry in entries:
        for account, amount in entry.lines:
            out[(account, entry.currency)] += amount
    return out


@pytest.fixture
def september():
    """A Pro term of 30 days (1 to 30 Sep 2026) at 999.00 and 60.00 of audio on the
    September invoice, finalized 1 Oct, due 8 Oct; paid 1,100.00 on 10 Oct (41.00 above the
    1,059.00 due); then a credit note of 9.00 on 12 Oct on the paid invoice."""
    app = ApplicationFactory()
    term = PrepaidTermFactory(
        application=app, anchor_date=dt.date(2026, 9, 1), term_index=0, amount=D("999.00")
    )
    assert (term.starts_on, term.ends_on) == (dt.date(2026, 9, 1), dt.date(2026, 9, 30))
    invoice = InvoiceFactory(account=app.account, month=dt.date(2026, 9, 1))
    InvoiceLineFactory(invoice=invoice, application=app, kind=InvoiceLine.Kind.PREPAID,
                       item=billable_item("im.edition.pro"), term=term,
                       exact_amount=D("999.00"), amount=D("999.00"))  # fmt: skip
    InvoiceLineFactory(invoice=invoice, application=app, exact_amount=D("60.00"),
                       amount=D("60.00"))  # fmt: skip
    Invoice.objects.filter(pk=invoice.pk).update(
        state=Invoice.State.PAID, number="INV-2026-000042", total=D("1059.00"),
        finalized_at=at(dt.date(2026, 10, 1), 2), due_date=dt.date(2026, 10, 8),
        paid_at=at(dt.date(2026, 10, 10)),
    )  # fmt: skip
    invoice.refresh_from_db()
    PaymentFactory(account=app.account, invoice=invoice, amount=D("1100.00"),
                   received_at=at(dt.date(2026, 10, 10)), reference="BANK-1")  # fmt: skip
    note = CreditNoteFactory(invoice=invoice, amount=D("9.00"), number="CN-2026-000001")
    type(note).objects.filter(pk=note.pk).update(created_at=at(dt.date(2026, 10, 12)))
    return invoice


def test_hand_worked_entries(september):
    entries = journal_entries(first=dt.date(2026, 10, 1), last=dt.date(2026, 10, 31))
    by_id = {entry.entry: entry for entry in entries}
    finalized = by_id["INV-2026-000042"]
    assert finalized.date == dt.date(2026, 10, 1)
    assert sorted(finalized.lines) == sorted([
        (DEFERRED, D("-999.00")),  # the term fee is deferred
        (REVENUE["trtc_av"], D("-60.00")),
        (RECEIVABLE, D("1059.00")),
    ])  # fmt: skip
    # The whole term (1 to 30 Sep) had passed when the invoice was finalized: all 999.00 is
    # recognized on 1 Oct (30 days of 33.30).
    recognition = by_id["REC-20261001-CNY"]
    assert sorted(recognition.lines) == [
        (DEFERRED, D("999.00")), (REVENUE["im_editions"], D("-999.00"))
    ]  # fmt: skip
    payment = next(e for e in entries if e.entry.startswith("PAY-"))
    # 1100.00 received, 1059.00 was due: 41.00 is the customer's credit.
    assert sorted(payment.lines) == sorted([
        (CASH, D("1100.00")), (RECEIVABLE, D("-1059.00")), (CUSTOMER_CREDIT, D("-41.00"))
    ])  # fmt: skip
    note = by_id["CN-2026-000001"]
    # Nothing is due any more: the credit note adds to the customer's credit.
    assert sorted(note.lines) == sorted([
        (REVENUE["adjustments"], D("9.00")), (CUSTOMER_CREDIT, D("-9.00"))
    ])  # fmt: skip
    for entry in entries:
        assert entry.debits == entry.credits, entry.entry
    assert balances(entries)[(RECEIVABLE, "CNY")] == 0


def test_a_term_is_recognized_day_by_day_after_finalization():
    """A 31-day term from 15 Oct (to 14 Nov) at 999.00, finalized 20 Oct: the days 15 to
    20 Oct are caught up on 20 Oct, then one day a day; the term recognizes exactly 999.00."""
    app = ApplicationFactory()
    term = PrepaidTermFactory(application=app, anchor_date=dt.date(2026, 10, 15), term_index=0)
    assert (term.ends_on, term.amount) == (dt.date(2026, 11, 14), D("999.00"))
    invoice = InvoiceFactory(account=app.account, month=dt.date(2026, 10, 1))
    InvoiceLineFactory(invoice=invoice, application=app, kind=InvoiceLine.Kind.PREPAID,
                       item=term.item, term=term, exact_amount=D("999.00"),
                       amount=D("999.00"))  # fmt: skip
    Invoice.objects.filter(pk=invoice.pk).update(
        state=Invoice.State.FINALIZED, number="INV-2026-000050", total=D("999.00"),
        finalized_at=at(dt.date(2026, 10, 20), 9), due_date=dt.date(2026, 10, 27),
    )  # fmt: skip
    october = journal_entries(first=dt.date(2026, 10, 1), last=dt.date(2026, 10, 31))
    november = journal_entries(first=dt.date(2026, 11, 1), last=dt.date(2026, 11, 30))
    recognized = {
        e.date: -sum(a for acct, a in e.lines if acct == REVENUE["im_editions"])
        for e in october + november
        if e.entry.startswith("REC-")
    }
    # 999 x 6 / 31 = 193.354... -> 193.35 through 20 Oct; 999 x 7 / 31 = 225.58 through 21 Oct.
    assert recognized[dt.date(2026, 10, 20)] == D("193.35")
    assert recognized[dt.date(2026, 10, 21)] == D("32.23")  # 225.58 - 193.35
    assert min(recognized) == dt.date(2026, 10, 20) and max(recognized) == dt.date(2026, 11, 14)
    assert sum(recognized.values()) == D("999.00")
    # Through October 17 of 31 days: 999 x 17 / 31 = 547.84; the rest stays deferred.
    oct_deferred = balances(october)[(DEFERRED, "CNY")]
    assert oct_deferred == D("-999.00") + D("547.84")


def test_a_void_reverses_what_the_invoice_posted():
    app = ApplicationFactory()
    invoice = InvoiceFactory(account=app.account, month=dt.date(2026, 10, 1))
    InvoiceLineFactory(invoice=invoice, application=app, exact_amount=D("70.00"),
                       amount=D("70.00"))  # fmt: skip
    Invoice.objects.filter(pk=invoice.pk).update(
        state=Invoice.State.VOID, number="INV-2026-000060", total=D("70.00"),
        finalized_at=at(dt.date(2026, 11, 1), 2), due_date=dt.date(2026, 11, 8),
        voided_at=at(dt.date(2026, 11, 3)), void_reason="wrong account",
    )  # fmt: skip
    entries = journal_entries(first=dt.date(2026, 11, 1), last=dt.date(2026, 11, 30))
    void = next(e for e in entries if e.entry == "INV-2026-000060-VOID")
    assert void.date == dt.date(2026, 11, 3)
    assert sorted(void.lines) == sorted([(REVENUE["trtc_av"], D("70.00")),
                                         (RECEIVABLE, D("-70.00"))])  # fmt: skip
    assert all(amount == 0 for amount in balances(entries).values())


def test_export_journal_refuses_a_bad_month():
    with pytest.raises(CommandError, match="--month"):
        call_command("export_journal", "--month", "2026-13")


def _export(month: dt.date) -> list[dict]:
    out, err = io.StringIO(), io.StringIO()
    call_command("export_journal", "--month", f"{month:%Y-%m}", stdout=out, stderr=err)
    reader = csv.DictReader(io.StringIO(out.getvalue()))
    assert reader.fieldnames == COLUMNS
    return list(reader)


def test_export_journal_on_the_demo_data(client):
    call_command("seed_demo", stdout=io.StringIO(), stderr=io.StringIO())
    call_command("bill_history", stdout=io.StringIO(), stderr=io.StringIO())
    # Some money movement on top of the demo: a partial payment and a credit note.
    first_invoice = Invoice.objects.filter(state=Invoice.State.FINALIZED).order_by("pk").first()
    PaymentFactory(account=first_invoice.account, currency=first_invoice.currency,
                   invoice=first_invoice, amount=D("100.00"),
                   received_at=timezone.now())  # fmt: skip
    CreditNoteFactory(invoice=first_invoice, amount=D("10.00"))
    today = billing_today()
    month = month_start(
        Invoice.objects.exclude(state="draft")
        .order_by("finalized_at")
        .first()
        .finalized_at.astimezone(TZ)
        .date()
    )
    receivable: dict[str, Decimal] = defaultdict(Decimal)
    rows_seen = 0
    while month <= today:
        rows = _export(month)
        rows_seen += len(rows)
        per_entry: dict[str, Decimal] = defaultdict(Decimal)
        per_currency: dict[str, list[Decimal]] = defaultdict(lambda: [D(0), D(0)])
        for row in rows:
            debit, credit = D(row["debit"] or 0), D(row["credit"] or 0)
            assert (debit > 0) != (credit > 0), row  # one side per row, never both
            assert month <= dt.date.fromisoformat(row["date"]) <= month_end(month)
            per_entry[row["entry"]] += debit - credit
            per_currency[row["currency"]][0] += debit
            per_currency[row["currency"]][1] += credit
            if row["account"] == RECEIVABLE:
                receivable[row["currency"]] += debit - credit
        assert all(total == 0 for total in per_entry.values())
        assert all(debits == credits for debits, credits in per_currency.values())
        month = month_end(month) + dt.timedelta(days=1)
    assert rows_seen > 20
    # At the end of the running month (today): the amounts due of issued invoices.
    open_amounts: dict[str, Decimal] = defaultdict(Decimal)
    for invoice in Invoice.objects.exclude(state="draft"):
        open_amounts[invoice.currency] += invoice_amount_due(invoice)
    assert dict(receivable) == {c: a for c, a in open_amounts.items() if a}
    assert open_amounts["CNY"] > 0
    # The admin offers the same download.
    user, _ = staff_create(email="fin@example.com", password="pw-12345678", finance=True)
    client.force_login(user)
    response = client.get(reverse("admin:finance_journal"), {"month": f"{today:%Y-%m}"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    out = io.StringIO()
    call_command("export_journal", "--month", f"{today:%Y-%m}", stdout=out, stderr=io.StringIO())
    assert response.content.decode() == out.getvalue()
    assert client.get(reverse("admin:finance_journal"), {"month": "May"}).status_code == 400

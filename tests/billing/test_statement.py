"""Account statements (issue 15): opening balance, documents and closing balance per currency;
the closing balance on today equals ``account_balances``. In the admin and the portal, as
HTML, CSV and PDF (read back with pypdf)."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from pypdf import PdfReader

from accounts.services import account_create, staff_create
from billing.calendar import billing_today, billing_tz
from billing.models import Invoice
from billing.reports.statement import account_statement
from billing.selectors import account_balances
from tests.factories import (
    AccountFactory,
    CreditNoteFactory,
    InvoiceFactory,
    InvoiceLineFactory,
    PaymentFactory,
)

pytestmark = pytest.mark.django_db
D = Decimal
TZ = billing_tz()


def at(day, hour=10):
    return dt.datetime.combine(day, dt.time(hour), tzinfo=TZ)


def issued(account, month, amount, finalized_on, currency="CNY", **extra):
    invoice = InvoiceFactory(account=account, month=month, currency=currency)
    InvoiceLineFactory(invoice=invoice, exact_amount=D(amount), amount=D(amount))
    Invoice.objects.filter(pk=invoice.pk).update(
        state=extra.pop("state", Invoice.State.FINALIZED), number=f"S-{invoice.pk:05d}",
        total=D(amount), finalized_at=at(finalized_on, 2),
        due_date=finalized_on + dt.timedelta(days=7), **extra,
    )  # fmt: skip
    invoice.refresh_from_db()
    return invoice


@pytest.fixture
def account():
    """September invoice 1,200.00 (1 Oct), October 800.00 (1 Nov), a void 50.00 (1 Nov,
    voided 3 Nov); payment 1,200.00 on 5 Oct, credit note 30.00 on 10 Nov; a USD invoice of
    20.00 on 1 Nov."""
    account = account_create(name="Statement Co", email="owner@example.com", password="pw-12345678")
    sep = issued(account, dt.date(2026, 9, 1), "1200.00", dt.date(2026, 10, 1))
    oct_ = issued(account, dt.date(2026, 10, 1), "800.00", dt.date(2026, 11, 1))
    issued(account, dt.date(2026, 8, 1), "50.00", dt.date(2026, 11, 1), state="void",
           voided_at=at(dt.date(2026, 11, 3)), void_reason="duplicate")  # fmt: skip
    issued(account, dt.date(2026, 10, 1), "20.00", dt.date(2026, 11, 1), currency="USD")
    PaymentFactory(account=account, invoice=sep, amount=D("1200.00"),
                   received_at=at(dt.date(2026, 10, 5)), reference="BANK-77")  # fmt: skip
    note = CreditNoteFactory(invoice=oct_, amount=D("30.00"), number="CN-2026-000009")
    type(note).objects.filter(pk=note.pk).update(created_at=at(dt.date(2026, 11, 10)))
    return account


def test_opening_documents_and_closing(account):
    statement = account_statement(account=account, start=dt.date(2026, 11, 1),
                                  end=dt.date(2026, 11, 30))  # fmt: skip
    cny = next(part for part in statement.currencies if part.currency == "CNY")
    # Before 1 Nov: -1200.00 invoiced + 1200.00 paid = 0.00.
    assert cny.opening == D("0.00")
    assert [(line.kind, line.charges, line.credits) for line in cny.lines] == [
        ("invoice", D("800.00"), D(0)),
        ("invoice", D("50.00"), D(0)),
        ("void", D(0), D("50.00")),
        ("credit note", D(0), D("30.00")),
    ]
    assert cny.closing == D("-770.00")  # 0 - 800 - 50 + 50 + 30
    assert [line.balance for line in cny.lines][-1] == D("-770.00")
    # A range that starts later opens where this one closed.
    later = account_statement(account=account, start=dt.date(2026, 12, 1), end=billing_today())
    assert {p.currency: p.opening for p in later.currencies} == {
        "CNY": D("-770.00"), "USD": D("-20.00")
    }  # fmt: skip
    assert {p.currency: p.closing for p in later.currencies} == account_balances(
        account_id=account.pk
    )


def test_the_portal_statement_as_html_csv_and_pdf(client, account):
    client.login(username="owner@example.com", password="pw-12345678")
    query = {"start": "2026-10-01", "end": "2026-11-30"}
    page = client.get(reverse("statement"), query)
    assert page.status_code == 200
    text = page.content.decode()
    assert "1,200.00 CNY" in text and "770.00 CNY owed" in text and "CN-2026-000009" in text
    rows = list(csv.DictReader(io.StringIO(
        client.get(reverse("statement"), {**query, "format": "csv"}).content.decode()
    )))  # fmt: skip
    closing = {row["currency"]: row["balance"] for row in rows if row["type"] == "closing"}
    assert closing == {"CNY": "-770.00", "USD": "-20.00"}
    pdf = client.get(reverse("statement"), {**query, "format": "pdf"})
    assert pdf["Content-Type"] == "application/pdf"
    pdf_text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Account statement" in pdf_text and "770.00 CNY owed" in pdf_text
    # A bad date names the field; another account's id is a 404.
    bad = client.get(reverse("statement"), {"start": "2026-13-01", "end": "2026-11-30"})
    assert bad.status_code == 400 and "From" in bad.content.decode()
    other = AccountFactory()
    assert client.get(reverse("statement"), {"account": other.pk}).status_code == 404
    assert client.get(reverse("statement"), {"account": "x"}).status_code == 404


@pytest.mark.parametrize("role", ["finance", "support"])
def test_the_admin_statement(client, account, role):
    user, _ = staff_create(email=f"{role}@example.com", password="pw-12345678", **{role: True})
    client.force_login(user)
    url = reverse("admin:finance_statement")
    query = {"account": account.pk, "start": "2026-10-01", "end": billing_today().isoformat()}
    page = client.get(url, query)
    assert page.status_code == 200
    assert "770.00 CNY owed" in page.content.decode()
    csv_rows = list(csv.DictReader(io.StringIO(
        client.get(url, {**query, "format": "csv"}).content.decode()
    )))  # fmt: skip
    closing = {r["currency"]: D(r["balance"]) for r in csv_rows if r["type"] == "closing"}
    assert closing == account_balances(account_id=account.pk)
    assert client.get(url, {**query, "format": "pdf"})["Content-Type"] == "application/pdf"
    assert client.get(url, {**query, "end": "2026-09-01"}).status_code == 400  # ends before

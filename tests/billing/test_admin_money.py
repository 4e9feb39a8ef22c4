"""Money for people in the admin (issue 15): lists, forms and inlines show amounts through
billing.display ("1,054.00 CNY", one minus sign), charges and prices keep their exact places,
the billing snapshot reads as fields, and the money lists keep a query count that does not
grow with their rows."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.services import staff_create
from billing.models import Invoice
from tests.factories import (
    AdjustmentFactory,
    ChargeFactory,
    CreditNoteFactory,
    InvoiceFactory,
    InvoiceLineFactory,
    PaymentFactory,
    billable_item,
    price_entry,
)

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def staff(client):
    user, _ = staff_create(email="money@example.com", password="pw-12345678", finance=True)
    client.force_login(user)
    return user


def issued_invoice():
    invoice = InvoiceFactory(currency="CNY")
    InvoiceLineFactory(invoice=invoice, exact_amount=D("1054.00"), amount=D("1054.00"))
    Invoice.objects.filter(pk=invoice.pk).update(
        state=Invoice.State.FINALIZED, number=f"M-{invoice.pk:05d}", total=D("1054.00"),
        finalized_at=dt.datetime(2025, 4, 1, 2, tzinfo=dt.UTC), due_date=dt.date(2025, 4, 8),
        billing_snapshot={"name": "Money Co", "billing_email": "bills@money.example",
                          "billing_address": "1 Harbour Road"},
    )  # fmt: skip
    invoice.refresh_from_db()
    return invoice


def test_lists_and_pages_show_money_for_people(client, staff):
    invoice = issued_invoice()
    CreditNoteFactory(invoice=invoice, amount=D("1234.50"))
    PaymentFactory(account=invoice.account, amount=D("12345.60"))
    AdjustmentFactory(invoice=InvoiceFactory(account=invoice.account, month=dt.date(2025, 5, 1)))
    ChargeFactory(amount=D("0.03960000"), currency="CNY")

    def page(name, *args):
        response = client.get(reverse(f"admin:{name}", args=args))
        assert response.status_code == 200
        return response.content.decode()

    assert "1,054.00 CNY" in page("billing_invoice_changelist")
    assert "1,234.50 CNY" in page("billing_creditnote_changelist")
    assert "12,345.60 CNY" in page("billing_payment_changelist")
    assert "\u221210.00 CNY" in page("billing_adjustment_changelist")  # one minus sign
    assert "0.0396 CNY" in page("billing_charge_changelist")  # exact: the point of a charge
    detail = page("billing_invoice_change", invoice.pk)
    # Total, credited and amount due; the line inline; the snapshot as labelled fields.
    assert "1,054.00 CNY" in detail and "1,234.50 CNY" in detail
    assert "<th>Billing e-mail</th><td>bills@money.example</td>" in detail
    assert "1 Harbour Road" in detail and '"billing_email"' not in detail
    entry = price_entry("trtc.audio", "cn")
    assert "7.00 CNY" in page("billing_priceentry_changelist")
    assert "7.00 CNY" in page("billing_priceentry_change", entry.pk)
    note = CreditNoteFactory(invoice=invoice, amount=D("2000.00"))
    assert "2,000.00 CNY" in page("billing_creditnote_change", note.pk)


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def _credit_notes(n):
    for _ in range(n):
        CreditNoteFactory(invoice=issued_invoice())


def _payments(n):
    PaymentFactory.create_batch(n)


def _adjustments(n):
    AdjustmentFactory.create_batch(n)


@pytest.mark.parametrize(
    ("model", "make"),
    [("creditnote", _credit_notes), ("payment", _payments), ("adjustment", _adjustments)],
)
def test_money_lists_keep_their_query_count(client, staff, model, make):
    url = reverse(f"admin:billing_{model}_changelist")
    make(2)
    with_2 = _queries(client, url)
    make(10)
    assert _queries(client, url) == with_2 < 20


def test_price_list_query_count(client, staff):
    # The reference price book: dozens of entries, each shown with its book's currency.
    url = reverse("admin:billing_priceentry_changelist")
    few = _queries(client, url + "?q=trtc.audio")
    assert billable_item("trtc.audio")
    assert _queries(client, url) == few

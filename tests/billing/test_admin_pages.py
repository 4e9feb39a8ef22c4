"""The admin pages finance staff read, through the admin with the test client."""

import datetime as dt

import pytest
from django.urls import reverse

from accounts.services import account_create, staff_create
from billing.models import Invoice
from billing.services.applications import application_create, edition_change

pytestmark = pytest.mark.django_db

PAGES = ["invoice", "charge", "usageevent", "application", "priceentry", "auditrecord", "jobrun"]


@pytest.fixture
def invoice():
    account = account_create(name="Admin Co", email="admin-co@example.com")
    app = application_create(
        account=account, name="x", region="cn", created_on=dt.date(2026, 10, 1)
    )
    edition_change(application=app, edition_code="pro", effective=dt.date(2026, 10, 5))
    return Invoice.objects.get(account=account)


def login(client, **groups):
    user, _ = staff_create(email="staff@example.com", password="pw-12345678", **groups)
    client.force_login(user)
    return user


@pytest.mark.parametrize("model", PAGES)
def test_finance_staff_read_every_billing_changelist(client, invoice, model):
    login(client, finance=True)
    response = client.get(reverse(f"admin:billing_{model}_changelist"))
    assert response.status_code == 200


def test_invoice_page_shows_lines_and_refuses_edits(client, invoice):
    login(client, finance=True)
    url = reverse("admin:billing_invoice_change", args=[invoice.pk])
    page = client.get(url).content.decode()
    assert "IM Pro edition" in page and "999.00" in page
    # Read-only: a POST cannot change the total.
    response = client.post(url, {"total": "1.00"})
    assert response.status_code == 403
    invoice.refresh_from_db()
    assert str(invoice.total) == "999.00"


def test_nothing_that_holds_money_can_be_deleted(client, invoice):
    login(client, finance=True)
    response = client.post(
        reverse("admin:billing_invoice_delete", args=[invoice.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    assert Invoice.objects.filter(pk=invoice.pk).exists()


def test_support_staff_may_view(client, invoice):
    login(client, support=True)
    assert client.get(reverse("admin:billing_invoice_changelist")).status_code == 200


def test_non_staff_are_sent_to_the_admin_login(client, invoice):
    account_create(name="Customer", email="cust@example.com", password="pw-12345678")
    client.login(username="cust@example.com", password="pw-12345678")
    response = client.get(reverse("admin:billing_invoice_changelist"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]

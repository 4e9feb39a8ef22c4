"""GET /api/v1/account and GET /api/v1/invoices/{number}/pdf over HTTP, for every role."""

import io
from decimal import Decimal

import pytest
from pypdf import PdfReader

from billing.services.finance import payment_record
from tests.api.conftest import errors_of

pytestmark = pytest.mark.django_db


def test_account_shows_balances_and_overdue_state(owner_client, account, invoices, finance_user):
    before = owner_client.get("/api/v1/account")
    # 1006.00 invoiced in March; a payment of 1000.00 leaves 6.00 owed
    payment_record(
        account=account,
        currency="CNY",
        amount=Decimal("1000.00"),
        actor=finance_user,
        invoice=invoices[0],
    )
    after = owner_client.get("/api/v1/account")

    assert before.status_code == 200
    assert before.json() == {
        "id": account.pk,
        "name": account.name,
        "billing_email": account.billing_email,
        "overdue": False,
        "overdue_since": None,
        "balances": [{"currency": "CNY", "balance": "-1006.00"}],
    }
    assert after.json()["balances"] == [{"currency": "CNY", "balance": "-6.00"}]


def test_an_overdue_account_says_since_when(owner_client, account):
    import datetime as dt

    account.overdue_since = dt.date(2025, 4, 9)
    account.save()

    body = owner_client.get("/api/v1/account").json()

    assert (body["overdue"], body["overdue_since"]) == (True, "2025-04-09")


def test_another_key_sees_its_own_account(other_client, other_account, invoices):
    body = other_client.get("/api/v1/account").json()

    assert (body["id"], body["balances"]) == (other_account.pk, [])


@pytest.mark.parametrize(
    "role, status", [("service", 403), ("finance", 403), ("support", 403), ("anonymous", 401)]
)
def test_account_refused_to_others(client_for, role, status):
    response = client_for(role).get("/api/v1/account")

    assert response.status_code == status
    assert len(errors_of(response)) == 1


@pytest.mark.parametrize("accept", [None, "application/pdf", "application/json", "*/*"])
def test_owner_downloads_the_invoice_pdf(owner_client, invoices, accept):
    march = invoices[0]
    headers = {"HTTP_ACCEPT": accept} if accept else {}

    response = owner_client.get(f"/api/v1/invoices/{march.number}/pdf", **headers)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "attachment" in response["Content-Disposition"]
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert march.number in text
    assert "1,006.00" in text or "1006.00" in text


def test_a_draft_pdf_by_id(owner_client, invoices):
    response = owner_client.get(f"/api/v1/invoices/{invoices[1].pk}/pdf")

    assert response.status_code == 200
    assert response.content.startswith(b"%PDF")


@pytest.mark.parametrize(
    "role, status",
    [("other", 404), ("service", 403), ("anonymous", 401), ("finance", 200), ("support", 200)],
)
def test_pdf_roles(client_for, invoices, role, status):
    response = client_for(role).get(
        f"/api/v1/invoices/{invoices[0].number}/pdf", HTTP_ACCEPT="application/pdf"
    )

    assert response.status_code == status
    if status != 200:
        assert response["Content-Type"] == "application/json"
        assert len(errors_of(response)) == 1

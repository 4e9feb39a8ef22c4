"""Finance staff over HTTP: adjustments, credit notes, payments (issue 6), for every role.

The issued invoice of the ``invoices`` fixture is March 2025, CNY, total 999.00 (Pro term)
+ 7.00 (audio) = 1006.00 (SPEC 4.1, 4.5)."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from billing.models import Adjustment, AuditRecord, CreditNote, Invoice, Payment
from billing.services.invoicing import invoice_refresh
from tests.api.conftest import errors_of
from tests.factories import ApplicationFactory, ChargeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def issued(invoices):
    return invoices[0]


@pytest.fixture
def april_draft(account):
    """A real draft: 10 Apr 2025, 1000 min of audio x 7 CNY / 1000 = 7.00 CNY."""
    ChargeFactory(application=ApplicationFactory(account=account), day=dt.date(2025, 4, 10))
    return invoice_refresh(account_id=account.pk, currency="CNY", month=dt.date(2025, 4, 1))


def post(client, invoice_ref, what, body):
    return client.post(f"/api/v1/invoices/{invoice_ref}/{what}", body, format="json")


ACTIONS = [
    ("adjustments", {"amount": "-2.00", "reason": "Goodwill"}, "draft"),
    ("credit-notes", {"amount": "6.00", "reason": "Outage"}, "issued"),
    ("payments", {"amount": "100.00", "reference": "bank 42"}, "issued"),
]


@pytest.mark.parametrize("what, body, target", ACTIONS)
@pytest.mark.parametrize(
    "role, status",
    [
        ("owner", 403),
        ("other", 404),
        ("service", 403),
        ("support", 403),
        ("anonymous", 401),
        ("finance", 201),
    ],
)
def test_only_finance_staff_change_money(
    client_for, issued, april_draft, what, body, target, role, status
):
    invoice = april_draft if target == "draft" else issued
    ref = invoice.pk if target == "draft" else invoice.number

    response = post(client_for(role), ref, what, body)

    assert response.status_code == status, response.content
    documents = Adjustment.objects.count() + CreditNote.objects.count() + Payment.objects.count()
    assert documents == (1 if status == 201 else 0)
    if status != 201:
        assert len(errors_of(response)) == 1


def test_adjustment_on_a_draft(finance_client, finance_user, april_draft):
    response = post(
        finance_client, april_draft.pk, "adjustments", {"amount": "-2.00", "reason": "Goodwill"}
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["amount"], body["reason"], body["created_by"]) == (
        "-2.00",
        "Goodwill",
        "finance@example.com",
    )
    # 7.00 of audio - 2.00 = 5.00
    assert (body["invoice"]["id"], body["invoice"]["total"]) == (april_draft.pk, "5.00")
    audit = AuditRecord.objects.get(action="invoice.adjust")
    assert audit.actor == finance_user


def test_an_issued_invoice_takes_no_adjustment(finance_client, issued):
    response = post(finance_client, issued.number, "adjustments", {"amount": "5.00", "reason": "x"})

    assert response.status_code == 409
    assert [(e["field"], e["code"]) for e in errors_of(response)] == [("state", "invalid_state")]


def test_credit_note_then_payment_settle_the_invoice(finance_client, owner_client, issued):
    credited = post(
        finance_client, issued.number, "credit-notes", {"amount": "6.00", "reason": "Outage"}
    )
    detail = owner_client.get(f"/api/v1/invoices/{issued.number}").json()

    assert credited.status_code == 201, credited.content
    assert re.fullmatch(r"CN-\d{4}-000001", credited.json()["number"])
    assert (credited.json()["amount"], credited.json()["invoice"]["state"]) == ("6.00", "finalized")
    # 1006.00 - 6.00 = 1000.00 still due
    assert detail["amount_due"] == "1000.00"
    assert [note["amount"] for note in detail["credit_notes"]] == ["6.00"]

    paid = post(
        finance_client, issued.number, "payments", {"amount": "1000.00", "reference": "wire 7"}
    )
    detail = owner_client.get(f"/api/v1/invoices/{issued.number}").json()

    assert paid.status_code == 201, paid.content
    assert (paid.json()["amount"], paid.json()["reference"]) == ("1000.00", "wire 7")
    assert paid.json()["invoice"]["state"] == "paid"
    assert (detail["state"], detail["amount_due"]) == ("paid", "0.00")
    assert [(p["amount"], p["invoice"]) for p in detail["payments"]] == [("1000.00", issued.number)]


@pytest.mark.parametrize(
    "what, body, field, code",
    [
        ("credit-notes", {"amount": "1006.01", "reason": "x"}, "amount", "exceeds_remaining"),
        ("credit-notes", {"amount": "1.001", "reason": "x"}, "amount", "precision"),
        ("credit-notes", {"amount": "-1.00", "reason": "x"}, "amount", "invalid"),
        ("credit-notes", {"amount": "abc", "reason": "x"}, "amount", "invalid"),
        ("credit-notes", {"amount": True, "reason": "x"}, "amount", "invalid"),
        ("credit-notes", {"amount": "1.00"}, "reason", "required"),
        ("payments", {"amount": "0"}, "amount", "invalid"),
        ("payments", {"amount": "1.00", "received_at": "soon"}, "received_at", "invalid"),
        (
            "payments",
            {"amount": "1.00", "received_at": "2999-01-01T00:00:00Z"},
            "received_at",
            "invalid",
        ),
        ("payments", {}, "amount", "required"),
    ],
)
def test_bad_input_names_the_field(finance_client, issued, what, body, field, code):
    response = post(finance_client, issued.number, what, body)

    assert response.status_code == 400, response.content
    assert [(e["field"], e["code"]) for e in errors_of(response)] == [(field, code)]
    assert not CreditNote.objects.exists() and not Payment.objects.exists()


def test_a_json_number_amount_is_read_exactly(finance_client, issued):
    response = finance_client.generic(
        "POST",
        f"/api/v1/invoices/{issued.number}/credit-notes",
        b'{"amount": 0.10, "reason": "rounding"}',
        content_type="application/json",
    )

    assert response.status_code == 201, response.content
    assert CreditNote.objects.get().amount == Decimal("0.10")


def test_a_payment_on_a_draft_is_409(finance_client, april_draft):
    response = post(finance_client, april_draft.pk, "payments", {"amount": "7.00"})

    assert response.status_code == 409
    assert errors_of(response)[0]["code"] == "invalid_state"


def test_staff_sessions_need_the_csrf_token(finance_user, issued):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(finance_user)

    response = post(client, issued.number, "payments", {"amount": "1.00"})

    assert response.status_code == 403
    assert "CSRF" in errors_of(response)[0]["message"]
    assert Invoice.objects.get(pk=issued.pk).state == "finalized"

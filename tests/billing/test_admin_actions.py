"""Finance staff's actions through the admin's real pages and forms (issue 4), for each role:
finance staff act, support staff only view (403), customers are sent to the admin login.

Numbers by hand: Pro is 999 CNY a month (SPEC 4.1), so October's draft is 999.00."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Account
from accounts.services import account_create, staff_create
from billing.models import (
    Adjustment,
    AuditRecord,
    Charge,
    CreditNote,
    Invoice,
    Payment,
    PriceEntry,
)
from billing.services.applications import application_create, edition_change
from billing.services.closing import invoice_finalize
from billing.services.ingestion import SYSTEM, usage_events_ingest
from billing.services.jobs import bill_day
from tests.factories import ChargeFactory, CreditNoteFactory, PaymentFactory, price_entry

pytestmark = pytest.mark.django_db

OCT_1 = dt.date(2026, 10, 1)
ROLES = ["finance", "support", "customer"]


@pytest.fixture
def draft():
    account = account_create(name="Admin Co", email="admin-co@example.com")
    app = application_create(account=account, name="chat", region="cn", created_on=OCT_1)
    edition_change(application=app, edition_code="pro", effective=dt.date(2026, 10, 5))
    invoice = Invoice.objects.get(account=account)
    assert invoice.total == Decimal("999.00")
    return invoice


@pytest.fixture
def issued(draft):
    return invoice_finalize(invoice=draft, today=dt.date(2026, 11, 1))


def log_in(client, role):
    if role == "customer":
        account_create(name="Customer", email="cust@example.com", password="pw-12345678")
        assert client.login(username="cust@example.com", password="pw-12345678")
        return None
    user, _ = staff_create(email=f"{role}@example.com", password="pw-12345678", **{role: True})
    client.force_login(user)
    return user


def action_url(invoice, action):
    return reverse(f"admin:billing_invoice_{action}", args=[invoice.pk])


def change_url(invoice):
    return reverse("admin:billing_invoice_change", args=[invoice.pk])


def assert_refused_for(role, response):
    if role == "support":
        assert response.status_code == 403
    else:  # a customer is not staff: the admin sends them to its login page
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


# --------------------------------------------------------------------------------------------
# Every action, each role
# --------------------------------------------------------------------------------------------

ACTIONS = {
    # action: (fixture, form data, what the finance user's POST leaves behind)
    "adjust": ("draft", {"amount": "-49.50", "reason": "Outage goodwill"}),
    "credit_note": ("issued", {"amount": "300.00", "reason": "Outage credit"}),
    "payment": ("issued", {"amount": "999.00", "reference": "BANK-1"}),
    "finalize": ("draft", {}),
    "void": ("issued", {"reason": "Issued to the wrong account"}),
}


def effect(invoice):
    """What the actions change, to prove a refused one changed nothing."""
    invoice.refresh_from_db()
    return (
        invoice.state,
        invoice.total,
        Adjustment.objects.count(),
        CreditNote.objects.count(),
        Payment.objects.count(),
        AuditRecord.objects.exclude(action="invoice.finalize").count(),
    )


@pytest.mark.parametrize("role", ["support", "customer"])
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_only_finance_may_act(client, request, action, role):
    fixture, data = ACTIONS[action]
    invoice = request.getfixturevalue(fixture)
    before = effect(invoice)
    log_in(client, role)

    assert_refused_for(role, client.get(action_url(invoice, action)))
    assert_refused_for(role, client.post(action_url(invoice, action), data))

    assert effect(invoice) == before


def test_finance_adjusts_a_draft(client, draft):
    user = log_in(client, "finance")
    page = client.get(change_url(draft)).content.decode()
    assert "Add an adjustment" in page and "Issue a credit note" not in page

    response = client.post(
        action_url(draft, "adjust"), {"amount": "-49.50", "reason": "Outage goodwill"}
    )

    assert response.status_code == 302 and response["Location"] == change_url(draft)
    draft.refresh_from_db()
    assert draft.total == Decimal("949.50")  # 999.00 - 49.50
    record = AuditRecord.objects.get(action="invoice.adjust")
    assert (record.actor, record.before, record.after["total"]) == (
        user,
        {"total": "999.00"},
        "949.50",
    )
    page = client.get(change_url(draft)).content.decode()
    assert "Adjustment: Outage goodwill" in page and "949.50" in page


def test_finance_credit_note_shows_the_error_naming_the_field(client, issued):
    log_in(client, "finance")
    url = action_url(issued, "credit_note")
    client.post(url, {"amount": "300.00", "reason": "Outage credit"})

    response = client.post(url, {"amount": "699.01", "reason": "Too much"})

    assert response.status_code == 200  # the form again, with the error on the amount
    errors = response.context["form"].errors
    assert list(errors) == ["amount"]
    assert "more than remains" in errors["amount"][0] and "699.00" in errors["amount"][0]
    assert CreditNote.objects.count() == 1  # 300.00 only; 999.00 - 300.00 = 699.00 remains


def test_finance_records_payments_until_paid(client, issued):
    log_in(client, "finance")
    url = action_url(issued, "payment")
    assert client.get(url).context["form"].initial["amount"] == Decimal("999.00")

    client.post(url, {"amount": "500.00", "reference": "BANK-1"})
    issued.refresh_from_db()
    assert issued.state == "finalized"
    client.post(url, {"amount": "499.00", "reference": "BANK-2"})

    issued.refresh_from_db()
    assert issued.state == "paid"  # 500.00 + 499.00 = 999.00
    assert AuditRecord.objects.filter(action="payment.record").count() == 2


def test_finance_finalizes_now(client, draft):
    user = log_in(client, "finance")
    response = client.post(action_url(draft, "finalize"), {})
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.state == "finalized" and draft.number.startswith("INV-")
    assert AuditRecord.objects.get(action="invoice.finalize").actor == user
    # Once issued the action is refused, with the reason on the page.
    response = client.post(action_url(draft, "finalize"), {})
    assert response.status_code == 200
    assert "already finalized" in str(response.context["form"].non_field_errors())


def test_finance_voids_with_a_reason(client, issued):
    log_in(client, "finance")
    url = action_url(issued, "void")
    response = client.post(url, {"reason": ""})
    assert "reason" in response.context["form"].errors
    client.post(url, {"reason": "Issued to the wrong account"})
    issued.refresh_from_db()
    assert (issued.state, issued.void_reason) == ("void", "Issued to the wrong account")


def test_void_of_a_paid_invoice_is_refused(client, issued):
    log_in(client, "finance")
    client.post(action_url(issued, "payment"), {"amount": "999.00"})
    response = client.post(action_url(issued, "void"), {"reason": "x"})
    assert response.status_code == 200
    assert "is paid" in str(response.context["form"].non_field_errors())
    issued.refresh_from_db()
    assert issued.state == "paid"


# --------------------------------------------------------------------------------------------
# A finalized invoice is read-only in every form
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["finance", "support"])
def test_issued_invoice_form_cannot_change_it(client, issued, role):
    log_in(client, role)
    page = client.get(change_url(issued))
    assert page.status_code == 200
    response = client.post(change_url(issued), {"total": "1.00", "state": "draft"})
    assert response.status_code == 403
    response = client.post(action_url(issued, "adjust"), {"amount": "5.00", "reason": "x"})
    if role == "finance":
        assert "needs a draft invoice" in str(response.context["form"].non_field_errors())
    issued.refresh_from_db()
    assert (issued.total, issued.state) == (Decimal("999.00"), "finalized")
    assert not Adjustment.objects.exists()


def test_support_sees_no_action_buttons(client, issued):
    log_in(client, "support")
    page = client.get(change_url(issued)).content.decode()
    assert "999.00" in page
    assert 'class="billing-action"' not in page
    client.logout()
    log_in(client, "finance")
    page = client.get(change_url(issued)).content.decode()
    for label in ("Issue a credit note", "Record a payment", "Void"):
        assert f'class="billing-action">{label}<' in page


# --------------------------------------------------------------------------------------------
# Re-rate with a preview; price changes
# --------------------------------------------------------------------------------------------


@pytest.fixture
def moderated():
    """5000 texts moderated on 10 Oct at 0.0010 CNY a unit = 5.00 CNY (SPEC 4.4)."""
    account = account_create(name="Chat Co", email="chat@example.com")
    app = application_create(account=account, name="chat", region="cn", created_on=OCT_1)
    usage_events_ingest(
        events=[
            {
                "id": "texts-1",
                "application": app.sdkappid,
                "metric": "im.moderation.text",
                "timestamp": "2026-10-10T09:00:00+08:00",
                "value": 5000,
            }
        ],
        caller=SYSTEM,
    )
    bill_day(day=dt.date(2026, 10, 10))
    return Invoice.objects.get(account=account)


def test_price_change_then_rerate_through_the_admin(client, moderated):
    log_in(client, "finance")
    entry = price_entry("im.moderation.unit", "cn")
    revise = reverse("admin:billing_priceentry_revise", args=[entry.pk])
    form = client.get(revise).context["form"]
    assert form.initial["unit_price"] == Decimal("0.0010")

    response = client.post(
        revise,
        {
            "effective_from": "2026-10-01",
            "unit_price": "0.0015",
            "per_quantity": "1",
            "note": "Price rise",
        },
    )
    assert response.status_code == 302
    entry.refresh_from_db()
    assert entry.unit_price == Decimal("0.0010")  # the old version is kept as it was
    assert PriceEntry.objects.filter(item=entry.item, price_book=entry.price_book).count() == 2

    preview = client.get(action_url(moderated, "rerate"))
    page = preview.content.decode()
    # 5000 units x 0.0010 = 5.00 before, x 0.0015 = 7.50 after; nothing applied yet
    assert "5.00000000" in page and "7.50000000" in page
    moderated.refresh_from_db()
    assert moderated.total == Decimal("5.00")

    digest = preview.context["result"].digest
    response = client.post(action_url(moderated, "rerate"), {"confirm": digest})
    assert response.status_code == 302
    moderated.refresh_from_db()
    assert moderated.total == Decimal("7.50")
    assert AuditRecord.objects.filter(action="invoice.rerate").count() == 1


def test_rerate_with_a_stale_preview_applies_nothing(client, moderated):
    log_in(client, "finance")
    response = client.post(action_url(moderated, "rerate"), {"confirm": "0" * 16}, follow=True)
    assert "preview the re-rate again" in response.content.decode()
    assert not AuditRecord.objects.filter(action="invoice.rerate").exists()


def test_support_cannot_revise_prices(client):
    log_in(client, "support")
    entry = price_entry("im.moderation.unit", "cn")
    url = reverse("admin:billing_priceentry_revise", args=[entry.pk])
    response = client.post(
        url, {"effective_from": "2027-01-01", "unit_price": "9", "per_quantity": "1", "note": "x"}
    )
    assert response.status_code == 403
    assert PriceEntry.objects.filter(item=entry.item, price_book=entry.price_book).count() == 1


# --------------------------------------------------------------------------------------------
# Changelist actions: finalize selected, CSV export
# --------------------------------------------------------------------------------------------


def changelist_action(client, action, invoices):
    return client.post(
        reverse("admin:billing_invoice_changelist"),
        {"action": action, "_selected_action": [i.pk for i in invoices]},
    )


def test_export_csv(client, issued):
    PaymentFactory(account=issued.account, invoice=issued, amount=Decimal("100.00"))
    CreditNoteFactory(invoice=issued, amount=Decimal("50.00"))
    log_in(client, "support")  # exporting is viewing

    response = changelist_action(client, "export_csv", [issued])

    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 1
    row = rows[0]
    assert (row["number"], row["account"], row["month"]) == (issued.number, "Admin Co", "2026-10")
    # 999.00 - 50.00 credited - 100.00 paid = 849.00 due
    assert (row["total"], row["credited"], row["paid"], row["amount_due"]) == (
        "999.00",
        "50.00",
        "100.00",
        "849.00",
    )


def test_finalize_selected_is_finance_only(client, draft):
    log_in(client, "support")
    changelist_action(client, "finalize_selected", [draft])
    draft.refresh_from_db()
    assert draft.state == "draft"

    client.logout()
    log_in(client, "finance")
    changelist_action(client, "finalize_selected", [draft])
    draft.refresh_from_db()
    assert draft.state == "finalized"


# --------------------------------------------------------------------------------------------
# Pages: accounts, applications, charges, audit; query counts
# --------------------------------------------------------------------------------------------


def test_account_page_shows_balance_applications_and_invoices(client, issued):
    PaymentFactory(account=issued.account, invoice=issued, amount=Decimal("100.00"))
    log_in(client, "finance")
    page = client.get(reverse("admin:accounts_account_change", args=[issued.account_id]))
    text = page.content.decode()
    assert "-899.00 CNY" in text  # paid 100.00 - invoiced 999.00
    assert issued.number in text and "chat" in text


def test_charge_page_shows_explanation_and_usage_behind(client, moderated):
    log_in(client, "support")
    charge = Charge.objects.get(application__account=moderated.account)
    page = client.get(reverse("admin:billing_charge_change", args=[charge.pk])).content.decode()
    assert charge.explanation in page
    # one event of the day, value 5000
    assert "im.moderation.text" in page and "5000" in page


def test_audit_records_cannot_be_edited_or_deleted(client, issued):
    log_in(client, "finance")
    record = AuditRecord.objects.get(action="invoice.finalize")
    url = reverse("admin:billing_auditrecord_change", args=[record.pk])
    assert client.get(url).status_code == 200
    assert client.post(url, {"action": "forged"}).status_code == 403
    delete = reverse("admin:billing_auditrecord_delete", args=[record.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    record.refresh_from_db()
    assert record.action == "invoice.finalize"


def _invoices(n):
    accounts = Account.objects.bulk_create(
        Account(name=f"Bulk {i}", billing_email=f"bulk{i}@example.com") for i in range(n)
    )
    return Invoice.objects.bulk_create(
        Invoice(account=a, currency="CNY", month=OCT_1, total=Decimal("1.00")) for a in accounts
    )


def _charges(n):
    account = account_create(name=f"Charges {n}", email=f"charges{n}@example.com")
    app = application_create(account=account, name="a", region="cn", created_on=OCT_1)
    first = dt.date(2025, 1, 1)
    Charge.objects.bulk_create(
        ChargeFactory.build(application=app, day=first + dt.timedelta(days=i)) for i in range(n)
    )


def _queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.parametrize(("model", "make"), [("invoice", _invoices), ("charge", _charges)])
def test_changelist_queries_do_not_grow_with_rows(client, model, make):
    log_in(client, "finance")
    url = reverse(f"admin:billing_{model}_changelist") + "?all="
    make(5)
    with_5 = _queries(client, url)
    make(495)
    with_500 = _queries(client, url)
    assert with_500 == with_5, (with_5, with_500)
    assert with_500 < 30

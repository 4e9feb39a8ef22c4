"""Finance staff's services (SPEC 6): adjustments, credit notes, payments, voids, re-rating a
draft period and price changes, each with its audit record. Amounts worked out by hand: Pro is
999 CNY a month (SPEC 4.1); cloud moderation 0.0010 CNY a unit (SPEC 4.4)."""

import datetime as dt
import re
from decimal import Decimal

import pytest

from accounts.services import account_create
from billing.errors import BillingError
from billing.models import Application, AuditRecord, Charge, Invoice, PriceEntry
from billing.selectors import account_balances, invoice_amount_due
from billing.services.applications import application_create, edition_change
from billing.services.closing import invoice_finalize
from billing.services.finance import (
    adjustment_add,
    credit_note_issue,
    invoice_void,
    payment_record,
    price_entry_revise,
    rerate_period,
)
from billing.services.ingestion import SYSTEM, usage_events_ingest
from billing.services.jobs import bill_day
from tests.factories import UserFactory, price_entry

pytestmark = pytest.mark.django_db

OCT_1 = dt.date(2026, 10, 1)


@pytest.fixture
def staff():
    return UserFactory(staff=True)


@pytest.fixture
def account():
    return account_create(name="Example Co", email="owner@example.com")


@pytest.fixture
def draft(account):
    """October's CNY draft: Pro bought on 5 Oct, one prepaid line of 999.00."""
    app = application_create(account=account, name="chat", region="cn", created_on=OCT_1)
    edition_change(application=app, edition_code="pro", effective=dt.date(2026, 10, 5))
    invoice = Invoice.objects.get(account=account, currency="CNY", month=OCT_1)
    assert invoice.total == Decimal("999.00")
    return invoice


@pytest.fixture
def issued(draft):
    return invoice_finalize(invoice=draft, today=dt.date(2026, 11, 1))


def refused(call, **kwargs) -> BillingError:
    with pytest.raises(BillingError) as info:
        call(**kwargs)
    return info.value


def audit_of(action):
    return AuditRecord.objects.filter(action=action).get()


# --------------------------------------------------------------------------------------------
# Adjustments
# --------------------------------------------------------------------------------------------


def test_adjustment_adds_a_line_and_an_audit_record(draft, staff):
    adjustment_add(invoice=draft, amount="-49.50", reason="Goodwill for the outage", actor=staff)

    draft.refresh_from_db()
    assert draft.total == Decimal("949.50")  # 999.00 - 49.50
    line = draft.lines.get(kind="adjustment")
    assert (line.amount, line.description) == (
        Decimal("-49.50"),
        "Adjustment: Goodwill for the outage",
    )
    record = audit_of("invoice.adjust")
    assert record.actor == staff
    assert record.before == {"total": "999.00"}
    assert record.after["total"] == "949.50"
    assert record.reason == "Goodwill for the outage"


def test_adjustment_survives_the_draft_being_rebuilt(draft, staff):
    from billing.services.invoicing import invoice_refresh

    adjustment_add(invoice=draft, amount="10.00", reason="Setup fee", actor=staff)
    invoice_refresh(account_id=draft.account_id, currency="CNY", month=OCT_1)
    draft.refresh_from_db()
    assert draft.total == Decimal("1009.00")  # 999.00 + 10.00


@pytest.mark.parametrize(
    ("amount", "reason", "field", "code"),
    [
        ("0.001", "x", "amount", "precision"),
        ("0", "x", "amount", "invalid"),
        ("ten", "x", "amount", "invalid"),
        (1.5, "x", "amount", "invalid"),
        ("NaN", "x", "amount", "invalid"),
        ("5.00", "   ", "reason", "required"),
        ("-999.01", "x", "amount", "total_negative"),  # 999.00 - 999.01 < 0
    ],
)
def test_adjustment_refusals_name_the_field(draft, staff, amount, reason, field, code):
    error = refused(adjustment_add, invoice=draft, amount=amount, reason=reason, actor=staff)
    assert (error.field, error.code) == (field, code)
    assert not draft.lines.filter(kind="adjustment").exists()
    assert not AuditRecord.objects.filter(action="invoice.adjust").exists()


def test_adjustment_on_an_issued_invoice_is_refused(issued, staff):
    error = refused(adjustment_add, invoice=issued, amount="5.00", reason="x", actor=staff)
    assert (error.field, error.code) == ("state", "invalid_state")
    issued.refresh_from_db()
    assert issued.total == Decimal("999.00")


# --------------------------------------------------------------------------------------------
# Credit notes
# --------------------------------------------------------------------------------------------


def test_credit_notes_never_exceed_what_remains(issued, staff, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = credit_note_issue(invoice=issued, amount="300.00", reason="Outage", actor=staff)
    assert re.fullmatch(r"CN-\d{4}-000001", first.number)
    assert invoice_amount_due(issued) == Decimal("699.00")  # 999.00 - 300.00

    error = refused(credit_note_issue, invoice=issued, amount="699.01", reason="x", actor=staff)
    assert (error.field, error.code) == ("amount", "exceeds_remaining")
    assert "699.00" in error.message

    second = credit_note_issue(invoice=issued, amount="699.00", reason="Waived", actor=staff)
    assert second.number.endswith("000002")
    issued.refresh_from_db()
    assert issued.state == Invoice.State.PAID  # credited in full: nothing is due
    assert account_balances(account_id=issued.account_id) == {"CNY": Decimal("0.00")}
    record = AuditRecord.objects.filter(action="credit_note.issue").first()
    assert record.before == {"state": "finalized", "credited": "300.00"}
    assert record.after["state"] == "paid"


def test_credit_note_on_a_draft_is_refused(draft, staff):
    error = refused(credit_note_issue, invoice=draft, amount="1.00", reason="x", actor=staff)
    assert error.code == "invalid_state"


def test_credit_note_on_a_paid_invoice_credits_the_balance(issued, staff):
    payment_record(
        account=issued.account, currency="CNY", amount="999.00", actor=staff, invoice=issued
    )
    credit_note_issue(invoice=issued, amount="100.00", reason="Refund", actor=staff)
    # paid 999.00 + credited 100.00 - invoiced 999.00 = 100.00 in the customer's favour
    assert account_balances(account_id=issued.account_id) == {"CNY": Decimal("100.00")}


# --------------------------------------------------------------------------------------------
# Payments
# --------------------------------------------------------------------------------------------


def test_partial_then_full_payment(issued, staff):
    payment_record(
        account=issued.account, currency="CNY", amount="500", actor=staff, invoice=issued
    )
    issued.refresh_from_db()
    assert issued.state == Invoice.State.FINALIZED
    assert invoice_amount_due(issued) == Decimal("499.00")  # 999.00 - 500.00
    assert account_balances(account_id=issued.account_id) == {"CNY": Decimal("-499.00")}

    payment_record(
        account=issued.account,
        currency="CNY",
        amount="499.00",
        actor=staff,
        invoice=issued,
        reference="BANK-2",
    )
    issued.refresh_from_db()
    assert issued.state == Invoice.State.PAID
    assert issued.paid_at is not None
    assert account_balances(account_id=issued.account_id) == {"CNY": Decimal("0.00")}
    record = AuditRecord.objects.filter(action="payment.record").first()
    assert record.before == {"state": "finalized", "amount_due": "499.00"}
    assert record.after["state"] == "paid"
    assert record.reason == "BANK-2"


def test_payment_refusals(issued, staff, draft):
    other = account_create(name="Other", email="other@example.com")
    cases = [
        ({"account": other, "currency": "CNY", "invoice": issued}, "invoice", "invalid"),
        ({"account": issued.account, "currency": "USD", "invoice": issued}, "currency", None),
        ({"account": issued.account, "currency": "EUR"}, "currency", "invalid"),
        ({"account": issued.account, "currency": "CNY", "amount": "-5"}, "amount", "invalid"),
    ]
    for kwargs, field, code in cases:
        kwargs = {"amount": "10.00", "actor": staff} | kwargs
        error = refused(payment_record, **kwargs)
        assert error.field == field, kwargs
        if code:
            assert error.code == code
    assert not issued.payments.exists()


def test_payment_clears_overdue_and_reactivates(
    issued, staff, settings, django_capture_on_commit_callbacks
):
    from billing.services.overdue import overdue_refresh

    account = issued.account
    overdue_refresh(today=issued.due_date + dt.timedelta(days=settings.OVERDUE_GRACE_DAYS + 2))
    app = Application.objects.get(account=account)
    assert app.status == Application.Status.SUSPENDED

    with django_capture_on_commit_callbacks(execute=True):
        payment_record(
            account=account, currency="CNY", amount="999.00", actor=staff, invoice=issued
        )

    account.refresh_from_db()
    app.refresh_from_db()
    assert account.overdue_since is None
    assert app.status == Application.Status.ACTIVE


def test_payment_without_invoice_credits_the_balance(account, staff):
    payment_record(account=account, currency="USD", amount="25.00", actor=staff)
    assert account_balances(account_id=account.pk) == {"USD": Decimal("25.00")}


# --------------------------------------------------------------------------------------------
# Voids
# --------------------------------------------------------------------------------------------


def test_void_keeps_the_number_and_leaves_the_balance(issued, staff):
    number = issued.number
    invoice_void(invoice=issued, reason="Issued to the wrong account", actor=staff)
    issued.refresh_from_db()
    assert (issued.state, issued.number) == (Invoice.State.VOID, number)
    assert issued.void_reason == "Issued to the wrong account"
    assert account_balances(account_id=issued.account_id) == {}
    record = audit_of("invoice.void")
    assert (record.before, record.after) == ({"state": "finalized"}, {"state": "void"})


def test_void_refusals(issued, draft, staff):
    assert refused(invoice_void, invoice=issued, reason="", actor=staff).field == "reason"
    payment_record(
        account=issued.account, currency="CNY", amount="1.00", actor=staff, invoice=issued
    )
    assert refused(invoice_void, invoice=issued, reason="x", actor=staff).code == "has_payments"
    issued.refresh_from_db()
    assert issued.state == Invoice.State.FINALIZED


# --------------------------------------------------------------------------------------------
# Price changes and re-rating a draft period
# --------------------------------------------------------------------------------------------


@pytest.fixture
def moderated(account):
    """5000 texts moderated on 10 Oct: 5000 units at 0.0010 CNY = 5.00 CNY (SPEC 4.4)."""
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
    invoice = Invoice.objects.get(account=account, currency="CNY", month=OCT_1)
    assert invoice.total == Decimal("5.00")
    return app, invoice


def test_price_change_is_a_new_version(staff):
    old = price_entry("im.moderation.unit", "cn")
    new = price_entry_revise(
        entry=old,
        effective_from=dt.date(2026, 10, 1),
        unit_price=Decimal("0.0015"),
        note="Price rise",
        actor=staff,
    )
    old.refresh_from_db()
    assert old.unit_price == Decimal("0.0010")  # the old version is untouched
    assert (new.unit_price, new.source, new.created_by) == (Decimal("0.0015"), "staff", staff)
    record = audit_of("price.change")
    assert (record.before["unit_price"], record.after["unit_price"]) == ("0.001000", "0.001500")

    error = refused(
        price_entry_revise,
        entry=old,
        effective_from=dt.date(2026, 10, 1),
        unit_price=Decimal("1"),
        note="again",
        actor=staff,
    )
    assert (error.field, error.code) == ("effective_from", "not_after_latest")
    assert PriceEntry.objects.filter(item=old.item, price_book=old.price_book).count() == 2


def test_rerate_previews_then_applies_exactly_what_was_shown(moderated, staff):
    app, invoice = moderated
    price_entry_revise(
        entry=price_entry("im.moderation.unit", "cn"),
        effective_from=dt.date(2026, 10, 1),
        unit_price=Decimal("0.0015"),
        note="Price rise",
        actor=staff,
    )

    preview = rerate_period(invoice=invoice, actor=staff)

    [change] = preview.changes
    # 5000 units x 0.0010 = 5.00 before; x 0.0015 = 7.50 after
    assert (change.sdkappid, change.day) == (app.sdkappid, dt.date(2026, 10, 10))
    assert (change.before, change.after) == (Decimal("5.00000000"), Decimal("7.50000000"))
    assert preview.totals_before == {"CNY": Decimal("5.00")}
    assert preview.totals_after == {"CNY": Decimal("7.50")}
    assert not preview.applied
    # A preview writes nothing.
    assert Charge.objects.get(application=app).amount == Decimal("5.00000000")
    invoice.refresh_from_db()
    assert invoice.total == Decimal("5.00")

    error = refused(rerate_period, invoice=invoice, actor=staff, confirm="not-the-digest")
    assert (error.field, error.code) == ("confirm", "preview_stale")

    applied = rerate_period(invoice=invoice, actor=staff, confirm=preview.digest)
    assert applied.applied
    invoice.refresh_from_db()
    assert invoice.total == Decimal("7.50")
    record = audit_of("invoice.rerate")
    assert record.before["totals"] == {"CNY": "5.00"}
    assert record.after["totals"] == {"CNY": "7.50"}

    # Nothing left to change: a second preview is empty.
    assert rerate_period(invoice=invoice, actor=staff).unchanged


def test_price_from_a_later_day_leaves_earlier_charges(moderated, staff):
    _, invoice = moderated
    price_entry_revise(
        entry=price_entry("im.moderation.unit", "cn"),
        effective_from=dt.date(2026, 10, 11),  # after the day rated
        unit_price=Decimal("0.0015"),
        note="Price rise",
        actor=staff,
    )
    assert rerate_period(invoice=invoice, actor=staff).unchanged


def test_rerate_of_an_issued_invoice_is_refused(issued, staff):
    assert refused(rerate_period, invoice=issued, actor=staff).code == "invalid_state"


def test_money_actions_need_a_staff_actor(draft, issued):
    assert (
        refused(adjustment_add, invoice=draft, amount="1", reason="x", actor=None).field == "actor"
    )
    error = refused(credit_note_issue, invoice=issued, amount="1", reason="x", actor=None)
    assert (error.field, error.code) == ("actor", "required")

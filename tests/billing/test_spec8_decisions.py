"""SPEC section 8: each decision taken where the rules were silent, checked through the
services with figures worked out by hand. (Decisions tested elsewhere: unused days both
included, tests/billing/rating/test_terms.py and test_figures.py's plan test; packs running
out mid-day covering whole minutes in coverage order, tests/billing/rating/test_trtc.py; a
batch over 1000 events, tests/api/test_usage_events.py; the draft's estimates,
test_figures.py; a pack valid through its last day, test_figures.py.)"""

import datetime as dt
from decimal import Decimal

import pytest

from accounts.services import account_create
from billing.errors import BillingError
from billing.models import Application, Invoice, PrepaidTerm
from billing.selectors import account_balances
from billing.selectors.live_usage import unrated_usage
from billing.services.applications import application_create, edition_change, terms_renew
from billing.services.closing import invoice_finalize
from billing.services.finance import credit_note_issue, payment_record
from billing.services.ingestion import SYSTEM, IngestionRejected, usage_events_ingest
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
START = dt.date(2025, 3, 1)


@pytest.fixture
def app():
    account = account_create(name="Spec8 Co", email="spec8@example.com", password="pw-s8-1")
    application = application_create(account=account, name="S8", region="cn", created_on=START)
    edition_change(application=application, edition_code="pro", effective=START)
    return application


@pytest.fixture
def issued(app):
    """March 2025: Pro 999.00 CNY, finalized."""
    invoice = Invoice.objects.get(account=app.account, month=START)
    return invoice_finalize(invoice=invoice, actor=None, today=dt.date(2025, 4, 1))


def event(app, value, event_id="e-1", metric="trtc.audio_seconds"):
    return {
        "id": event_id,
        "application": app.sdkappid,
        "metric": metric,
        "timestamp": "2025-03-10T08:00:00+08:00",
        "value": value,
    }


def test_equal_values_under_one_id_are_one_event(app):
    first = usage_events_ingest(events=[event(app, "12.5")], caller=SYSTEM)
    again = usage_events_ingest(events=[event(app, 12.5), event(app, "12.50")], caller=SYSTEM)
    assert (first.accepted, again.accepted, again.duplicates) == (1, 0, 2)
    with pytest.raises((IngestionRejected, BillingError)):
        usage_events_ingest(events=[event(app, "13")], caller=SYSTEM)  # same id, other value


def test_a_batch_holds_at_least_one_event(app):
    with pytest.raises((IngestionRejected, BillingError)):
        usage_events_ingest(events=[], caller=SYSTEM)


def test_login_user_ids_compare_exactly_and_numbers_equal_their_digits(app):
    today = dt.date(2025, 3, 10)
    logins = [
        {**event(app, None, f"l-{n}", "im.login"), "properties": {"user_id": user}}
        for n, user in enumerate(["Alice", "alice", " alice", 7, "7"])
    ]
    for login in logins:
        login.pop("value")
    usage_events_ingest(events=logins, caller=SYSTEM)
    [dau] = [row for row in unrated_usage(application_id=app.pk, today=today)]
    # "Alice", "alice" and " alice" are three users; 7 and "7" are one.
    assert (dau.metric, dau.quantity) == ("im.login", Decimal(4))


def test_credit_notes_that_cover_the_amount_due_make_the_invoice_paid(issued):
    staff = UserFactory(staff=True)
    credit_note_issue(invoice=issued, amount="999.00", reason="goodwill", actor=staff)
    issued.refresh_from_db()
    assert issued.state == Invoice.State.PAID


def test_a_payment_above_the_amount_due_leaves_a_credit_on_the_balance(issued):
    staff = UserFactory(staff=True)
    payment_record(
        account=issued.account, currency="CNY", amount="1200.00", actor=staff, invoice=issued
    )
    issued.refresh_from_db()
    assert issued.state == Invoice.State.PAID
    assert account_balances(account_id=issued.account_id) == {"CNY": Decimal("201.00")}


def test_a_suspended_applications_term_does_not_renew(app):
    # Pro's first term runs 1 to 31 Mar 2025; the next would start on 1 Apr.
    Application.objects.filter(pk=app.pk).update(status=Application.Status.SUSPENDED)
    app.refresh_from_db()
    terms_renew(application=app, day=dt.date(2025, 4, 1))
    assert not PrepaidTerm.objects.filter(application=app, starts_on=dt.date(2025, 4, 1)).exists()
    Application.objects.filter(pk=app.pk).update(status=Application.Status.ACTIVE)
    app.refresh_from_db()
    terms_renew(application=app, day=dt.date(2025, 4, 1))
    assert PrepaidTerm.objects.filter(application=app, starts_on=dt.date(2025, 4, 1)).exists()

"""Races on one invoice, from two threads with their own database connections, released
together by a barrier: exactly one of each pair succeeds, the other gets a clear error."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection

from accounts.services import account_create
from billing.errors import BillingError
from billing.models import CreditNote, DocumentSequence, Invoice
from billing.services.applications import application_create, edition_change
from billing.services.closing import invoice_finalize
from billing.services.finance import credit_note_issue
from tests.conftest import require_postgresql
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def draft():
    require_postgresql()  # SQLite has no row locks to race on
    account = account_create(name="Race Co", email="race@example.com")
    app = application_create(
        account=account, name="a", region="cn", created_on=dt.date(2026, 10, 1)
    )
    edition_change(application=app, edition_code="pro", effective=dt.date(2026, 10, 5))
    invoice = Invoice.objects.get(account=account)
    assert invoice.total == Decimal("999.00")  # Pro, 999 CNY (SPEC 4.1)
    return invoice


def race(action, times: int = 2) -> list:
    barrier = threading.Barrier(times)
    outcomes: list = []

    def run():
        try:
            barrier.wait()
            outcomes.append(action())
        except BillingError as error:
            outcomes.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def test_two_concurrent_finalizations_issue_one_number(draft):
    outcomes = race(lambda: invoice_finalize(invoice=draft).number)

    numbers = [o for o in outcomes if isinstance(o, str)]
    errors = [o for o in outcomes if isinstance(o, BillingError)]
    assert len(numbers) == 1 and len(errors) == 1
    assert errors[0].code == "not_draft" and "already finalized" in errors[0].message
    assert DocumentSequence.objects.get(kind="invoice").last_number == 1


def test_two_concurrent_credit_notes_cannot_exceed_what_remains(draft):
    invoice = invoice_finalize(invoice=draft)
    staff = UserFactory(staff=True)

    # 600.00 + 600.00 > 999.00: only one fits.
    outcomes = race(
        lambda: credit_note_issue(invoice=invoice, amount="600.00", reason="race", actor=staff)
    )

    notes = [o for o in outcomes if isinstance(o, CreditNote)]
    errors = [o for o in outcomes if isinstance(o, BillingError)]
    assert len(notes) == 1 and len(errors) == 1
    assert (errors[0].code, errors[0].field) == ("exceeds_remaining", "amount")
    assert "399.00" in errors[0].message  # 999.00 - 600.00 remains
    assert CreditNote.objects.filter(invoice=invoice).count() == 1

"""A finalized invoice never changes, and the audit trail is append-only: proven against the
database itself with raw SQL (PostgreSQL triggers), below every code path."""

import datetime as dt

import pytest
from django.db import IntegrityError, InternalError, connection, transaction

from accounts.services import account_create
from billing.models import AuditRecord, Invoice, InvoiceLine
from billing.services.applications import application_create, edition_change
from billing.services.closing import invoice_finalize
from tests.conftest import require_postgresql

pytestmark = pytest.mark.django_db

REFUSED = (IntegrityError, InternalError)


@pytest.fixture
def finalized_invoice():
    require_postgresql()
    account = account_create(name="Frozen Co", email="frozen@example.com")
    app = application_create(
        account=account, name="x", region="cn", created_on=dt.date(2026, 10, 1)
    )
    edition_change(application=app, edition_code="pro", effective=dt.date(2026, 10, 5))
    invoice = Invoice.objects.get(account=account, currency="CNY", month=dt.date(2026, 10, 1))
    return invoice_finalize(invoice=invoice)


def raw(sql, params):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.parametrize(
    "assignment",
    [
        "total = total + 1",
        "number = 'INV-2026-999999'",
        "state = 'draft'",
        "due_date = due_date + 30",
        "billing_snapshot = '{}'::jsonb",
        "currency = 'USD'",
    ],
)
def test_raw_sql_update_of_a_finalized_invoice_is_refused(finalized_invoice, assignment):
    with pytest.raises(REFUSED, match="cannot be changed"):
        raw(f"UPDATE billing_invoice SET {assignment} WHERE id = %s", [finalized_invoice.pk])
    finalized_invoice.refresh_from_db()
    assert finalized_invoice.total == 999  # the Pro fee, unchanged


def test_raw_sql_delete_of_a_finalized_invoice_is_refused(finalized_invoice):
    with pytest.raises(REFUSED, match="cannot be deleted"):
        raw("DELETE FROM billing_invoice WHERE id = %s", [finalized_invoice.pk])


def test_lines_of_a_finalized_invoice_cannot_change(finalized_invoice):
    line = finalized_invoice.lines.get()
    with pytest.raises(REFUSED, match="cannot be changed"):
        raw("UPDATE billing_invoiceline SET amount = 1 WHERE id = %s", [line.pk])
    with pytest.raises(REFUSED, match="cannot be changed"):
        raw("DELETE FROM billing_invoiceline WHERE id = %s", [line.pk])
    with pytest.raises(REFUSED), transaction.atomic():
        InvoiceLine.objects.create(
            invoice=finalized_invoice,
            kind="adjustment",
            description="sneaky",
            exact_amount=-999,
            amount=-999,
        )


def test_finalized_invoice_may_become_paid(finalized_invoice):
    raw(
        "UPDATE billing_invoice SET state = 'paid', paid_at = now() WHERE id = %s",
        [finalized_invoice.pk],
    )
    finalized_invoice.refresh_from_db()
    assert finalized_invoice.state == "paid"


def test_audit_records_cannot_be_edited_or_deleted(finalized_invoice):
    record = AuditRecord.objects.filter(action="invoice.finalize").get()
    with pytest.raises(REFUSED, match="audit records"):
        raw("UPDATE billing_auditrecord SET after = '{}'::jsonb WHERE id = %s", [record.pk])
    with pytest.raises(REFUSED, match="audit records"):
        raw("DELETE FROM billing_auditrecord WHERE id = %s", [record.pk])

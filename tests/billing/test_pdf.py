"""Invoice PDFs (billing/pdf.py), read back with pypdf: a real PDF carrying the same content as
the invoice page."""

import datetime as dt
import io
from decimal import Decimal

import pytest
from pypdf import PdfReader

from accounts.services import account_create
from billing.models import Invoice
from billing.pdf import invoice_pdf, invoice_pdf_filename
from billing.services.applications import addon_subscribe, application_create, edition_change
from billing.services.jobs import close_month
from tests.factories import CreditNoteFactory, InvoiceFactory, InvoiceLineFactory, PaymentFactory

pytestmark = pytest.mark.django_db

OCT = dt.date(2026, 10, 1)


def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF-")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


@pytest.fixture
def invoice():
    account = account_create(name="PDF Co", email="pdf@example.com")
    app = application_create(account=account, name="chat", region="cn", created_on=OCT)
    edition_change(application=app, edition_code="pro", effective=OCT)
    addon_subscribe(application=app, item_code="im.addon.avchatroom.pro", day=OCT)
    close_month(month=OCT)
    return Invoice.objects.get(account=account)


def test_finalized_invoice_pdf_has_number_lines_documents_and_amount_due(invoice):
    CreditNoteFactory(invoice=invoice, amount=Decimal("100.00"), number="CN-2026-000001")
    PaymentFactory(
        account=invoice.account, invoice=invoice, amount=Decimal("500.00"), reference="WIRE-42"
    )

    text = pdf_text(invoice_pdf(invoice))

    assert f"Invoice {invoice.number}" in text
    assert "PDF Co" in text and "pdf@example.com" in text
    assert "IM Pro edition, chat" in text and "999.00 CNY" in text
    assert "Unlimited live groups (AVChatRoom)" in text and "1,000.00 CNY" in text
    assert "1,999.00 CNY" in text  # total: 999 + 1000
    assert "CN-2026-000001" in text and "WIRE-42" in text
    assert "Amount due" in text and "1,399.00 CNY" in text  # 1999 - 100 - 500
    assert invoice_pdf_filename(invoice) == f"{invoice.number}.pdf"


def test_draft_pdf_says_it_is_a_draft_and_survives_long_and_non_latin_text():
    draft = InvoiceFactory(account__name="深圳 Chat 有限公司", month=OCT)
    for n in range(60):  # more than a page of lines
        InvoiceLineFactory(invoice=draft, description=f"Line {n} " + "x" * 150)

    text = pdf_text(invoice_pdf(draft))

    assert "Draft invoice October 2026 (CNY)" in text
    assert "Chat" in text  # the Chinese characters are replaced, the rest is kept
    assert "Line 59" in text
    assert len(PdfReader(io.BytesIO(invoice_pdf(draft))).pages) >= 2
    assert invoice_pdf_filename(draft) == "draft-2026-10-CNY.pdf"

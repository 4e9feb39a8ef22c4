"""E-mail: the invoice with its PDF, the same figures as the invoice, once per event even when
the task runs again; the file backend; reminders, dunning steps and the suspension warning."""

import datetime as dt
import email
from decimal import Decimal

import pytest
from celery.exceptions import Retry
from django.core import mail

from billing.display import money
from billing.models import Invoice
from billing.services.closing import invoice_finalize
from billing.services.jobs import close_month
from billing.services.overdue import overdue_refresh
from notifications import tasks
from notifications.dunning import daily_notices
from notifications.models import EmailNotice, Event
from tests.notifications.conftest import OCT_1, freeze, pro_account, shanghai

pytestmark = pytest.mark.django_db


def test_invoice_finalized_mail_has_the_pdf_and_the_invoices_figures(
    eager, django_capture_on_commit_callbacks, monkeypatch
):
    freeze(monkeypatch, shanghai(2026, 11, 1, 2, 0))  # the close, 1 Nov 02:00
    account, app, _ = pro_account("Tenant A", "billing-a@example.com", 1400200001)
    with django_capture_on_commit_callbacks(execute=True):
        close_month(month=OCT_1)
    invoice = Invoice.objects.get(account=account, month=OCT_1)
    [message] = mail.outbox
    assert message.to == ["billing-a@example.com"]
    assert invoice.total == Decimal("999.00")  # the Pro fee, SPEC 4.1
    assert message.subject == f"Invoice {invoice.number}: 999.00 CNY, due 8 Nov 2026"
    assert "Total: 999.00 CNY" in message.body  # INVOICE_DUE_DAYS 7 after 1 Nov
    assert "Due date: 8 Nov 2026" in message.body
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html" and money(invoice.total, "CNY") in html
    [(filename, content, kind)] = message.attachments
    assert kind == "application/pdf" and filename.endswith(".pdf")
    assert content.startswith(b"%PDF")

    # a retried task (the same notice again, or the event dispatched again) sends nothing
    notice = EmailNotice.objects.get()
    assert notice.sent_at is not None
    assert tasks.send_notice(notice.pk) is False
    tasks.dispatch_event(Event.objects.get(type="invoice.finalized").pk)
    assert len(mail.outbox) == 1


def test_a_send_that_fails_is_retried_and_still_sent_once(eager, monkeypatch):
    account, app, _ = pro_account("Tenant A", "billing-a@example.com", 1400200002)
    invoice = invoice_finalize(invoice=Invoice.objects.get(account=account, month=OCT_1))
    event = Event.objects.get(type="invoice.finalized")
    from notifications.webhooks import event_dispatch

    _, [notice_id] = event_dispatch(event_id=event.pk)
    from django.core.mail import EmailMultiAlternatives

    real_send = EmailMultiAlternatives.send
    monkeypatch.setattr(
        EmailMultiAlternatives, "send", lambda self: (_ for _ in ()).throw(OSError("smtp down"))
    )
    with pytest.raises((OSError, Retry)):
        tasks.send_notice.apply(args=[notice_id], throw=True)  # the attempt fails: a retry
    assert EmailNotice.objects.get(pk=notice_id).sent_at is None and mail.outbox == []
    monkeypatch.setattr(EmailMultiAlternatives, "send", real_send)
    assert tasks.send_notice(notice_id) is True
    assert tasks.send_notice(notice_id) is False
    assert len(mail.outbox) == 1 and invoice.number in mail.outbox[0].subject


def test_file_backend_writes_the_message_with_its_attachment(
    eager, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path)
    account, app, _ = pro_account("Tenant A", "billing-a@example.com", 1400200003)
    with django_capture_on_commit_callbacks(execute=True):
        invoice = invoice_finalize(invoice=Invoice.objects.get(account=account, month=OCT_1))
    files = list(tmp_path.iterdir())
    assert len(files) == 1
    parsed = email.message_from_bytes(files[0].read_bytes())
    assert parsed["To"] == "billing-a@example.com"
    parts = {part.get_content_type(): part for part in parsed.walk()}
    assert {"text/plain", "text/html", "application/pdf"} <= set(parts)
    assert parts["application/pdf"].get_payload(decode=True).startswith(b"%PDF")
    assert "Total: 999.00 CNY" in parts["text/plain"].get_payload(decode=True).decode()
    assert invoice.number in parsed["Subject"]


def test_reminder_dunning_steps_and_suspension_warning_each_once(
    eager, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.REMINDER_DAYS_BEFORE_DUE, settings.DUNNING_STEPS_DAYS = 3, [1, 7]
    settings.OVERDUE_GRACE_DAYS, settings.SUSPENSION_WARNING_DAYS = 7, 2
    account, app, _ = pro_account("Tenant A", "billing-a@example.com", 1400200004)
    invoice = invoice_finalize(
        invoice=Invoice.objects.get(account=account, month=OCT_1), today=dt.date(2026, 11, 1)
    )
    assert invoice.due_date == dt.date(2026, 11, 8)

    def day(d):
        freeze(monkeypatch, shanghai(2026, 11, d, 9, 0))
        today = dt.date(2026, 11, d)
        with django_capture_on_commit_callbacks(execute=True):
            overdue_refresh(today=today)
            summary = daily_notices(today=today)
            daily_notices(today=today)  # twice the same day: nothing more
        return summary

    mail.outbox.clear()
    assert day(4)["due_soon"] == 0  # 4 days before
    assert day(5)["due_soon"] == 1  # 3 days before the due date
    assert day(6)["due_soon"] == 0
    assert day(9)["overdue"] == 1  # 1 day overdue: step 1
    assert day(10)["overdue"] == 0
    # overdue since 9 Nov; suspended once overdue longer than 7 days: on 17 Nov
    assert day(14)["suspension_warning"] == 0
    fifteenth = day(15)
    assert fifteenth["suspension_warning"] == 1  # 2 days before
    assert fifteenth["overdue"] == 1  # 7 days overdue: step 7
    day(17)
    subjects = [m.subject for m in mail.outbox]
    assert subjects == [
        f"Reminder: invoice {invoice.number} is due 8 Nov 2026",
        f"Overdue: invoice {invoice.number}, 999.00 CNY to pay",
        f"Overdue: invoice {invoice.number}, 999.00 CNY to pay",
        "Your applications will be suspended on 17 Nov 2026",
        f"Application Tenant A app ({app.sdkappid}) is suspended",
    ]
    assert "(7 days overdue)" in mail.outbox[2].body
    warning = mail.outbox[3].body
    assert "999.00 CNY" in warning and str(app.sdkappid) in warning

"""E-mail to the account's billing address (issue 16, item 3), through Django's mail backend
(``EMAIL_URL``). Each message is a row of the ``EmailNotice`` ledger with a unique key; it is
sent by ``notice_send`` under the row's lock and marked sent in the same transaction, so a
retried task never sends it twice. Figures are formatted by ``billing.display``, as the portal
shows them."""

import datetime as dt

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import Account
from billing.display import local_date, local_datetime, money
from notifications.models import EmailNotice, Event, EventType

# Which events are e-mailed, and as which kind of message.
EMAILED = {
    EventType.INVOICE_FINALIZED: "invoice_finalized",
    EventType.INVOICE_DUE_SOON: "invoice_due_soon",
    EventType.INVOICE_OVERDUE: "invoice_overdue",
    EventType.APPLICATION_SUSPENDED: "application_suspended",
    EventType.APPLICATION_REACTIVATED: "application_reactivated",
    EventType.ALERT_TRIGGERED: "alert_triggered",
}


def notice_create(
    *, key: str, kind: str, account_id: int, event: Event | None = None
) -> EmailNotice | None:
    """A message to send once (None if ``key`` exists already), inside the caller's
    transaction; its task is enqueued after commit."""
    try:
        with transaction.atomic():  # a savepoint: a duplicate key leaves the caller's work
            notice = EmailNotice.objects.create(
                key=key, kind=kind, account_id=account_id, event=event
            )
    except IntegrityError:
        return None
    from notifications.tasks import send_notice

    transaction.on_commit(lambda: send_notice.delay(notice.pk), robust=True)
    return notice


def notices_for_event(event: Event) -> list[EmailNotice]:
    kind = EMAILED.get(event.type)
    if kind is None:
        return []
    notice = notice_create(
        key=f"event:{event.pk}", kind=kind, account_id=event.account_id, event=event
    )
    return [notice] if notice else []


# --------------------------------------------------------------------------------------------
# Building messages
# --------------------------------------------------------------------------------------------


def _invoice(event: Event):
    from billing.models import Invoice

    return Invoice.objects.select_related("account").get(pk=event.data["invoice"]["id"])


def _invoice_context(invoice) -> dict:
    from billing.selectors import invoice_amount_due

    return {
        "invoice": invoice,
        "number": invoice.number,
        "month": f"{invoice.month:%B %Y}",
        "total": money(invoice.total, invoice.currency),
        "amount_due": money(invoice_amount_due(invoice), invoice.currency),
        "due_date": local_date(invoice.due_date) if invoice.due_date else "",
        "finalized_at": local_datetime(invoice.finalized_at) if invoice.finalized_at else "",
    }


def _application(event: Event):
    from billing.models import Application

    return Application.objects.get(pk=event.application_id)


def message_build(notice: EmailNotice) -> EmailMultiAlternatives:
    account = Account.objects.get(pk=notice.account_id)
    event = notice.event
    context = {"account": account, "portal_url": settings.PORTAL_URL}
    attachments = []
    to = [account.billing_email]
    kind = notice.kind
    if kind in ("invoice_finalized", "invoice_due_soon", "invoice_overdue"):
        invoice = _invoice(event)
        context |= _invoice_context(invoice)
        context["step"] = event.data.get("dunning_step")
        number, due = invoice.number, context["due_date"]
        subject = {
            "invoice_finalized": f"Invoice {number}: {context['total']}, due {due}",
            "invoice_due_soon": f"Reminder: invoice {number} is due {due}",
            "invoice_overdue": f"Overdue: invoice {number}, {context['amount_due']} to pay",
        }[kind]
        if kind == "invoice_finalized":
            from billing.pdf import invoice_pdf, invoice_pdf_filename

            attachments.append(
                (invoice_pdf_filename(invoice), invoice_pdf(invoice), "application/pdf")
            )
    elif kind in ("application_suspended", "application_reactivated"):
        application = _application(event)
        context["application"] = application
        verb = "suspended" if kind == "application_suspended" else "reactivated"
        subject = f"Application {application.name} ({application.sdkappid}) is {verb}"
    elif kind == "alert_triggered":
        context["alert"] = event.data["alert"]
        subject = f"Alert: {event.data['alert']['description']}"
    elif kind == "suspension_warning":
        from billing.models import Application

        context["suspend_on"] = local_date(dt.date.fromisoformat(notice.key.rsplit(":", 1)[1]))
        context["applications"] = Application.objects.filter(
            account=account, status=Application.Status.ACTIVE
        ).order_by("sdkappid")
        context["overdue"] = _overdue_invoices(account)
        subject = f"Your applications will be suspended on {context['suspend_on']}"
    elif kind == "endpoint_disabled":
        from notifications.models import WebhookEndpoint

        endpoint = WebhookEndpoint.objects.get(pk=int(notice.key.split(":")[1]))
        context["endpoint"] = endpoint
        subject = f"Webhook endpoint disabled: {endpoint.url}"
        owners = account.memberships.filter(role="owner").values_list("user__email", flat=True)
        to = sorted({account.billing_email, *(e for e in owners if e)})
    else:
        raise ValueError(f"unknown e-mail kind {kind!r}")
    context["subject"] = subject
    text = render_to_string(f"notifications/email/{kind}.txt", context)
    html = render_to_string(f"notifications/email/{kind}.html", context)
    message = EmailMultiAlternatives(
        subject=subject, body=text, to=to, from_email=settings.DEFAULT_FROM_EMAIL
    )
    message.attach_alternative(html, "text/html")
    for attachment in attachments:
        message.attach(*attachment)
    return message


def _overdue_invoices(account) -> list[dict]:
    from billing.models import Invoice
    from billing.selectors import invoice_amount_due

    invoices = Invoice.objects.filter(
        account=account, state=Invoice.State.FINALIZED, due_date__lt=timezone.localdate()
    ).order_by("due_date")
    return [
        {
            "number": i.number,
            "due_date": local_date(i.due_date),
            "amount_due": money(invoice_amount_due(i), i.currency),
        }
        for i in invoices
    ]


def notice_send(*, notice_id: int) -> bool:
    """Send one ledger row if it is not sent yet; True if this call sent it. The row stays
    locked while the backend takes the message, and ``sent_at`` commits with that lock: a
    second task (a retry, the sweep) waits, then finds it sent."""
    with transaction.atomic():
        notice = EmailNotice.objects.select_for_update().filter(pk=notice_id).first()
        if notice is None or notice.sent_at is not None:
            return False
        message = message_build(notice)
        message.send()
        notice.sent_at = timezone.now()
        notice.to = list(message.to)
        notice.subject = message.subject[:300]
        notice.error = ""
        notice.save(update_fields=["sent_at", "to", "subject", "error"])
        return True


def notices_unsent(older_than) -> list[int]:
    return list(
        EmailNotice.objects.filter(sent_at__isnull=True, created_at__lt=older_than)
        .order_by("created_at")
        .values_list("pk", flat=True)[:500]
    )

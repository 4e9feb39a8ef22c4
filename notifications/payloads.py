"""The ``data`` of each event: what a receiver needs, as JSON (money as decimal strings, dates
and times RFC 3339 in the billing time zone)."""

from billing.display import rfc3339


def _money(value) -> str | None:
    return None if value is None else f"{value}"


def _date(value) -> str | None:
    return None if value is None else value.isoformat()


def invoice_data(invoice) -> dict:
    return {
        "invoice": {
            "id": invoice.pk,
            "number": invoice.number,
            "state": invoice.state,
            "currency": invoice.currency,
            "month": invoice.month.strftime("%Y-%m"),
            "total": _money(invoice.total),
            "due_date": _date(invoice.due_date),
            "finalized_at": rfc3339(invoice.finalized_at) if invoice.finalized_at else None,
        }
    }


def application_data(application) -> dict:
    return {
        "application": {
            "sdkappid": application.sdkappid,
            "name": application.name,
            "region": application.region,
            "status": application.status,
            "status_reason": application.status_reason,
        }
    }


def payment_data(payment) -> dict:
    return {
        "payment": {
            "id": payment.pk,
            "currency": payment.currency,
            "amount": _money(payment.amount),
            "reference": payment.reference,
            "received_at": rfc3339(payment.received_at),
            "invoice": payment.invoice.number if payment.invoice_id else None,
        }
    }


def credit_note_data(note) -> dict:
    return {
        "credit_note": {
            "number": note.number,
            "currency": note.currency,
            "amount": _money(note.amount),
            "reason": note.reason,
            "invoice": note.invoice.number,
        }
    }


def subject_of(obj) -> tuple[int, int | None, dict]:
    """(account id, application id or None, data) of the object an event is about."""
    from billing.models import Application, CreditNote, Invoice, Payment

    if isinstance(obj, Invoice):
        return obj.account_id, None, invoice_data(obj)
    if isinstance(obj, Application):
        return obj.account_id, obj.pk, application_data(obj)
    if isinstance(obj, Payment):
        return obj.account_id, None, payment_data(obj)
    if isinstance(obj, CreditNote):
        return obj.invoice.account_id, None, credit_note_data(obj)
    raise TypeError(f"no event payload for {type(obj).__name__}")

"""One error format for the whole API::

    {"errors": [{"field": "amount", "code": "invalid", "message": "A valid number is required."}]}

``field`` is the request field at fault (dotted for nested fields, ``events[3].value`` style
for lists; null when the error is about the request as a whole). The usage endpoint adds the
``index`` of the event in the batch. Services raise ``BillingError(message, code, field)``;
it becomes a 400, or a 409 when the state of an invoice refuses it (``period_closed``: the
month's invoice is final; ``invalid_state``: e.g. an adjustment on an issued invoice)."""

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from accounts.services import AccountError
from billing.errors import BillingError

# Refusals by the state of an invoice or its month, not by the request's content: 409.
CONFLICT_CODES = frozenset(
    {
        "period_closed",
        "invalid_state",
        "not_draft",
        "has_payments",
        "not_pending",  # a restatement already approved or rejected
        "restatement_changed",  # late usage arrived since the reviewed version
    }
)


def error(field: str | None, code: str, message: str) -> dict:
    return {"field": field, "code": code, "message": str(message)}


def error_response(errors: list[dict], status_code: int, headers=None) -> Response:
    return Response({"errors": errors}, status=status_code, headers=headers)


def _flatten(detail, field: str | None) -> list[dict]:
    if isinstance(detail, dict):
        out = []
        for key, value in detail.items():
            if key in ("non_field_errors", "__all__"):
                name = field
            else:
                name = f"{field}.{key}" if field else str(key)
            out += _flatten(value, name)
        return out
    if isinstance(detail, list):
        out = []
        for index, value in enumerate(detail):
            if isinstance(value, dict | list):
                out += _flatten(value, f"{field or ''}[{index}]")
            else:
                out += _flatten(value, field)
        return out
    return [error(field, getattr(detail, "code", None) or "invalid", detail)]


def billing_error_response(exc: BillingError) -> Response:
    code = status.HTTP_409_CONFLICT if exc.code in CONFLICT_CODES else status.HTTP_400_BAD_REQUEST
    return error_response([error(exc.field, exc.code, exc.message)], code)


def api_exception_handler(exc, context):
    """REST_FRAMEWORK["EXCEPTION_HANDLER"]: every refusal in the one format."""
    if isinstance(exc, BillingError):
        return billing_error_response(exc)
    if isinstance(exc, AccountError):
        return error_response([error(exc.field, "invalid", str(exc))], 400)
    if isinstance(exc, RequestDataTooBig):
        return error_response(
            [error(None, "too_large", "The request body is too large.")],
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail, None)
    else:
        detail = exc.detail
        code = exc.default_code
        if isinstance(detail, dict | list):
            errors = _flatten(detail, None)
        else:
            errors = [error(None, getattr(detail, "code", None) or code, detail)]
    response.data = {"errors": errors}
    return response

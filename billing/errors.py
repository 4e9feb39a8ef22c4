"""The one error type services raise for anything a client can get wrong, and the enum of its
codes. Each code knows its HTTP status, so the API's answer follows from the code: 409 when the
state of an invoice or its month refuses the request (its payments, credit notes, finalization),
400 otherwise (the request itself, or what it asks of an application, is wrong).

Views, the API and the admin turn it into a message naming the field; it is never a 500.
"""

from enum import StrEnum
from http import HTTPStatus


class ErrorCode(StrEnum):
    # The request's content, or what it asks for (400).
    INVALID = "invalid"
    REQUIRED = "required"
    TOO_LONG = "too_long"
    PRECISION = "precision"
    FUTURE_DATE = "future_date"
    UNKNOWN_ITEM = "unknown_item"
    NOT_SOLD = "not_sold"
    EDITION_NOT_ALLOWED = "edition_not_allowed"
    TRIAL_NOT_ALLOWED = "trial_not_allowed"
    UNCHANGED = "unchanged"
    NO_EDITION = "no_edition"
    CURRENCY_MISMATCH = "currency_mismatch"
    EXCEEDS_REMAINING = "exceeds_remaining"
    TOTAL_NEGATIVE = "total_negative"
    NOT_AFTER_LATEST = "not_after_latest"
    TAKEN = "taken"
    PREVIEW_STALE = "preview_stale"
    PLAN_CHANGED = "plan_changed"  # the confirmed plan is no longer what the action would do
    CLOSED = "closed"
    NOT_ACTIVE = "not_active"
    CHANGE_PENDING = "change_pending"
    ADDON_RUNNING = "addon_running"
    CANCELLED = "cancelled"
    BUSY = "busy"
    # From the strict parsers (billing/parsing.py), raised again by services.
    NEGATIVE = "negative"
    OUT_OF_RANGE = "out_of_range"
    TOO_LARGE = "too_large"
    INVALID_OFFSET = "invalid_offset"
    # Notifications (issue 16): a body naming another account's application; too many endpoints.
    NOT_FOUND = "not_found"
    TOO_MANY = "too_many"
    # The state of an invoice or its month refuses it (409).
    PERIOD_CLOSED = "period_closed"
    INVALID_STATE = "invalid_state"
    NOT_DRAFT = "not_draft"
    HAS_PAYMENTS = "has_payments"
    HAS_CREDIT_NOTES = "has_credit_notes"
    NOT_PENDING = "not_pending"  # a restatement already approved or rejected
    RESTATEMENT_CHANGED = "restatement_changed"  # late usage arrived since the reviewed version

    @property
    def http_status(self) -> int:
        return CONFLICT if self in _CONFLICTS else HTTPStatus.BAD_REQUEST


CONFLICT = HTTPStatus.CONFLICT
_CONFLICTS = frozenset(
    {
        ErrorCode.PERIOD_CLOSED,
        ErrorCode.INVALID_STATE,
        ErrorCode.NOT_DRAFT,
        ErrorCode.HAS_PAYMENTS,
        ErrorCode.HAS_CREDIT_NOTES,  # like has_payments: the invoice's documents refuse a void
        ErrorCode.NOT_PENDING,
        ErrorCode.RESTATEMENT_CHANGED,
    }
)


class BillingError(Exception):
    """``code``: an ``ErrorCode`` (or its string, which must be one: an unknown code fails
    where it is raised, not in a client)."""

    def __init__(self, message: str, *, code: ErrorCode | str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = ErrorCode(code)
        self.field = field

    @property
    def http_status(self) -> int:
        return self.code.http_status

    def as_dict(self) -> dict:
        return {"field": self.field, "code": str(self.code), "message": self.message}

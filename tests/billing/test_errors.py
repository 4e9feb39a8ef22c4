"""The error codes: each knows its HTTP status, and a code outside the enum cannot be raised."""

import pytest

from billing.errors import BillingError, ErrorCode


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("invalid", 400),
        ("required", 400),
        ("not_sold", 400),
        ("trial_not_allowed", 400),
        ("period_closed", 409),
        ("invalid_state", 409),
        ("not_draft", 409),
        # A void refused by the invoice's payments or by its credit notes: the same status.
        ("has_payments", 409),
        ("has_credit_notes", 409),
    ],
)
def test_each_code_knows_its_http_status(code, status):
    error = BillingError("refused", code=code, field="x")

    assert error.http_status == status
    assert error.as_dict() == {"field": "x", "code": code, "message": "refused"}


def test_a_code_outside_the_enum_fails_where_it_is_raised():
    with pytest.raises(ValueError, match="not_a_code"):
        BillingError("refused", code="not_a_code")


def test_codes_are_the_strings_the_api_answers_with():
    assert ErrorCode.HAS_CREDIT_NOTES == "has_credit_notes"
    assert str(ErrorCode.PERIOD_CLOSED) == "period_closed"

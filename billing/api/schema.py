"""OpenAPI: the error bodies, the documented error responses of each kind of operation, and
the security schemes of the API's authentication classes."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

ErrorItem = inline_serializer(
    "Error",
    {
        "field": serializers.CharField(
            allow_null=True, help_text="The request field at fault; null for the whole request."
        ),
        "code": serializers.CharField(help_text="Machine-readable, e.g. required, invalid."),
        "message": serializers.CharField(help_text="For people; names the field."),
    },
)
ErrorResponse = inline_serializer("ErrorResponse", {"errors": ErrorItem.__class__(many=True)})

UsageErrorItem = inline_serializer(
    "UsageEventError",
    {
        "index": serializers.IntegerField(
            allow_null=True,
            help_text="Position of the event in `events`; null for an error about the batch.",
        ),
        "field": serializers.CharField(allow_null=True),
        "code": serializers.CharField(),
        "message": serializers.CharField(),
    },
)
UsageErrorResponse = inline_serializer(
    "UsageErrorResponse", {"errors": UsageErrorItem.__class__(many=True)}
)

DESCRIPTIONS = {
    400: "Invalid request: every error names its field.",
    401: "No credentials, or an unknown or revoked key.",
    403: "Authenticated, but this kind of caller may not do this.",
    404: "No such object for this caller (another account's objects are not found either).",
    409: "Refused by the state of what is stored (e.g. code period_closed: the month's "
    "invoice is final).",
    413: "The request body is too large.",
    415: "The body must be JSON.",
    429: "Too many requests for this key; retry after the Retry-After seconds.",
}


def errors(*codes: int, body=ErrorResponse) -> dict:
    """Documented error responses, all in the one error format."""
    return {code: OpenApiResponse(body, description=DESCRIPTIONS[code]) for code in codes}


# 400 everywhere: a parameter the database could not store (e.g. a NUL) is refused on any
# operation, naming the parameter.
READ = (400, 401, 403, 429)
LIST = (400, 401, 403, 429)
DETAIL = (400, 401, 403, 404, 429)
WRITE = (400, 401, 403, 404, 409, 415, 429)


class BearerKeyScheme(OpenApiAuthenticationExtension):
    target_class = "billing.api.authentication.BearerKeyAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An account key (acts for its account) or a service key (may "
            "only report usage): `Authorization: Bearer key_xxxxxxxx.…`. Created with "
            "`manage.py create_api_key`; only its SHA-256 is stored.",
        }


class StaffSessionScheme(OpenApiAuthenticationExtension):
    target_class = "billing.api.authentication.StaffSessionAuthentication"
    name = "staffSession"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": "sessionid",
            "description": "Staff only: the session of a staff login (/admin/), with the "
            "X-CSRFToken header on POST. Finance staff hold the permissions to add "
            "adjustments, credit notes and payments.",
        }

"""What every API view shares."""

from rest_framework.exceptions import NotFound
from rest_framework.views import APIView


def not_found(what: str) -> NotFound:
    return NotFound(f"No {what} here for this caller.")


class UnknownEndpointView(APIView):
    """Every other path under /api/: a 404 in the API's error format."""

    authentication_classes = []
    permission_classes = []
    throttle_classes = []
    schema = None

    def http_method_not_allowed(self, request, *args, **kwargs):
        raise NotFound("No such endpoint: see /api/docs/.")

    def get(self, request, *args, **kwargs):
        raise NotFound("No such endpoint: see /api/docs/.")

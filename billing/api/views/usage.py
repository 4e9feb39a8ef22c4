"""POST /api/v1/usage-events: the platform's usage feed (SPEC 7), the hot path of the API.

Lean on purpose (benchmarked at batches of 1000): the body is decoded once with ``json.loads``
and the list goes straight to the ingestion service, which validates the whole batch; no
serializer runs per event. Authentication is one indexed query; no session is read."""

import re

from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.api.parsers import (
    UNSTORABLE_MESSAGE,
    ApiViewMixin,
    loads,
    may_hold_unstorable_text,
    unstorable_path,
)
from billing.api.permissions import UsageReporter
from billing.api.schema import UsageErrorResponse, errors
from billing.api.serializers import UsageBatchSerializer, UsageResultSerializer
from billing.services.ingestion import Caller, IngestionRejected, usage_events_ingest
from billing.tasks import rerate_stale_days
from billing.tasks import restatements_refresh as restatements_refresh_task


def _usage_error(field: str | None, code: str, message: str, index: int | None = None) -> dict:
    return {"index": index, "field": field, "code": code, "message": message}


def _rejected(errors_: list[dict], status_code: int) -> Response:
    return Response({"errors": errors_}, status=status_code)


class UsageEventsView(ApiViewMixin, APIView):
    permission_classes = [UsageReporter]
    throttle_scope = "usage"

    @extend_schema(
        operation_id="usage_events_report",
        tags=["usage"],
        summary="Report usage events (1 to 1000, all or nothing)",
        description=(
            "Each event is stored once per (application, id): sending it again with the same "
            "content counts it as a duplicate; with different content the batch answers 409. "
            "A batch with any invalid event stores nothing and answers 400 naming every "
            "invalid event by index and field. An event in a month whose invoice is final is "
            "accepted within the late-usage window (LATE_USAGE_WINDOW_DAYS after the month), "
            "counted in late and billed through a restatement that finance staff review; "
            "after the window it answers 409 with code period_closed. Events for a day already "
            "rated make that day rated again.\n\nAccount keys report for their own "
            "applications; service keys for any."
        ),
        request=UsageBatchSerializer,
        responses={
            200: UsageResultSerializer,
            **errors(400, 409, 413, 415, body=UsageErrorResponse),
            **errors(401, 403, 429),
        },
        examples=[
            OpenApiExample(
                "Two events",
                request_only=True,
                value={
                    "events": [
                        {
                            "id": "login-1400000001-42-20250310",
                            "application": 1400000001,
                            "metric": "im.login",
                            "timestamp": "2025-03-10T08:00:00+08:00",
                            "properties": {"user_id": "42"},
                        },
                        {
                            "id": "call-7f3a",
                            "application": 1400000001,
                            "metric": "trtc.audio_seconds",
                            "timestamp": "2025-03-10T08:10:00+08:00",
                            "value": "125",
                        },
                    ]
                },
            )
        ],
    )
    def post(self, request):
        media_type, _, params = (request.content_type or "").partition(";")
        charset = params.strip().lower().replace(" ", "")
        if media_type.strip().lower() != "application/json" or charset not in (
            "",
            "charset=utf-8",
        ):
            # Missing, "application/jsonp", "text/plain": 415 (a form post from a browser on
            # another site cannot send application/json without a CORS preflight).
            return _rejected(
                [
                    _usage_error(
                        None,
                        "unsupported_media_type",
                        "Send Content-Type: application/json (UTF-8).",
                    )
                ],
                status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            )
        try:
            body = loads(request._request.body)
        except RequestDataTooBig:
            return _rejected(
                [
                    _usage_error(
                        None,
                        "too_large",
                        "The body is too large: send at most 1000 events a request.",
                    )
                ],
                status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            )
        except (ValueError, UnicodeDecodeError) as exc:
            return _rejected(
                [_usage_error(None, "parse_error", f"The body is not valid JSON: {exc}")],
                status.HTTP_400_BAD_REQUEST,
            )
        if not isinstance(body, dict) or "events" not in body:
            return _rejected(
                [_usage_error("events", "required", 'Send {"events": [...]}.')],
                status.HTTP_400_BAD_REQUEST,
            )
        if may_hold_unstorable_text(request._request.body):
            where = unstorable_path(body["events"], "events")
            if where is not None:
                event = re.fullmatch(r"events\[(\d+)\]\.?(.*)", where)
                index, field = (int(event[1]), event[2] or "event") if event else (None, where)
                return _rejected(
                    [_usage_error(field, "invalid", f"{field} {UNSTORABLE_MESSAGE}", index)],
                    status.HTTP_400_BAD_REQUEST,
                )
        key = request.auth
        caller = Caller(account_id=key.account_id, is_service=key.is_service)
        try:
            result = usage_events_ingest(events=body["events"], caller=caller)
        except IngestionRejected as rejected:
            found = [e.as_dict() for e in rejected.errors]
            for item in found:
                if item["index"] < 0:  # an error about the batch, not one event
                    item["index"] = None
            conflict = rejected.conflict or all(e.code == "period_closed" for e in rejected.errors)
            return _rejected(
                found, status.HTTP_409_CONFLICT if conflict else status.HTTP_400_BAD_REQUEST
            )
        if result.restaled_days:
            application_ids = sorted({app_id for app_id, _ in result.restaled_days})
            # After the events commit; a failure to enqueue must not fail a stored batch (the
            # daily job re-rates stale days anyway), hence robust.
            transaction.on_commit(lambda: rerate_stale_days.delay(application_ids), robust=True)
        if result.late_months:
            late_months = sorted((account, str(month)) for account, month in result.late_months)
            transaction.on_commit(lambda: restatements_refresh_task.delay(late_months), robust=True)
        return Response(
            {"accepted": result.accepted, "duplicates": result.duplicates, "late": result.late}
        )

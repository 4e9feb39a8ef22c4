"""POST /api/v1/usage-events over HTTP, for every role (SPEC 7, issue 6)."""

import datetime as dt
from decimal import Decimal

import pytest

from billing.models import Charge, RatedDay, UsageEvent
from billing.services.rating import rate_accounts_day
from tests.api.conftest import bearer, errors_of, key_for
from tests.conftest import require_postgresql
from tests.factories import ApplicationFactory, EditionPeriodFactory, InvoiceFactory

URL = "/api/v1/usage-events"
pytestmark = pytest.mark.django_db


@pytest.fixture
def application(account):
    app = ApplicationFactory(account=account)
    EditionPeriodFactory(application=app)  # Trial from 1 Mar 2025
    return app


def audio(app, event_id="call-1", seconds=600, at="2025-03-10T12:00:00+08:00"):
    return {
        "id": event_id,
        "application": app.sdkappid,
        "metric": "trtc.audio_seconds",
        "timestamp": at,
        "value": seconds,
    }


def login(app, event_id="login-1", user_id="u1"):
    return {
        "id": event_id,
        "application": app.sdkappid,
        "metric": "im.login",
        "timestamp": "2025-03-10T08:00:00+08:00",
        "properties": {"user_id": user_id},
    }


def test_owner_key_reports_a_batch_and_a_resend_counts_as_duplicates(owner_client, application):
    batch = {"events": [audio(application), login(application)]}

    first = owner_client.post(URL, batch, format="json")
    again = owner_client.post(URL, batch, format="json")

    assert first.status_code == 200, first.content
    assert first.json() == {"accepted": 2, "duplicates": 0, "late": 0}
    assert again.status_code == 200
    assert again.json() == {"accepted": 0, "duplicates": 2, "late": 0}
    stored = UsageEvent.objects.get(application=application, event_id="call-1")
    assert stored.value == Decimal("600")
    assert stored.billing_day == dt.date(2025, 3, 10)
    assert UsageEvent.objects.count() == 2


def test_decimal_values_are_exact_whether_sent_as_number_or_string(owner_client, application):
    batch = {
        "events": [
            {**audio(application, "a"), "value": 0.1},
            {**audio(application, "b"), "value": "2.000001"},
        ]
    }

    response = owner_client.post(URL, batch, format="json")

    assert response.status_code == 200, response.content
    values = dict(UsageEvent.objects.values_list("event_id", "value"))
    assert values == {"a": Decimal("0.1"), "b": Decimal("2.000001")}


def test_service_key_reports_for_any_application(service_client, application, other_account):
    elsewhere = ApplicationFactory(account=other_account)
    EditionPeriodFactory(application=elsewhere)

    response = service_client.post(
        URL, {"events": [audio(application, "x"), audio(elsewhere, "x")]}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json() == {"accepted": 2, "duplicates": 0, "late": 0}


def test_another_accounts_key_cannot_report_for_the_application(other_client, application):
    response = other_client.post(URL, {"events": [audio(application)]}, format="json")

    assert response.status_code == 400
    assert errors_of(response) == [
        {
            "index": 0,
            "field": "application",
            "code": "unknown_application",
            "message": f"No application {application.sdkappid} that this key may report for.",
        }
    ]
    assert not UsageEvent.objects.exists()


def test_one_invalid_event_stores_nothing_and_every_error_names_index_and_field(
    owner_client, application
):
    batch = {
        "events": [
            audio(application, "ok"),
            {**audio(application, "neg"), "value": -5},
            {**login(application, "nouser"), "properties": {}},
            {**audio(application, "bad-metric"), "metric": "im.nope"},
        ]
    }

    response = owner_client.post(URL, batch, format="json")

    assert response.status_code == 400
    found = [(e["index"], e["field"], e["code"]) for e in errors_of(response)]
    assert found == [
        (1, "value", "negative"),
        (2, "properties.user_id", "required"),
        (3, "metric", "unknown_metric"),
    ]
    assert not UsageEvent.objects.exists()


def test_same_id_with_other_content_is_a_conflict(owner_client, application):
    first = owner_client.post(URL, {"events": [audio(application)]}, format="json")
    assert first.status_code == 200

    response = owner_client.post(
        URL, {"events": [audio(application, "new"), audio(application, seconds=601)]}, format="json"
    )

    assert response.status_code == 409
    [conflict] = errors_of(response)
    assert (conflict["index"], conflict["field"], conflict["code"]) == (1, "id", "conflict")
    assert list(UsageEvent.objects.values_list("event_id", flat=True)) == ["call-1"]


def test_a_month_with_a_finalized_invoice_takes_no_usage(owner_client, application, account):
    InvoiceFactory(account=account, finalized=True)  # March 2025

    response = owner_client.post(URL, {"events": [audio(application)]}, format="json")

    assert response.status_code == 409
    [closed] = errors_of(response)
    assert (closed["index"], closed["field"], closed["code"]) == (0, "timestamp", "period_closed")
    assert not UsageEvent.objects.exists()


@pytest.mark.parametrize(
    "body, field, code",
    [
        (b"{not json", None, "parse_error"),
        (b"[]", "events", "required"),
        (b'{"events": []}', "events", "required"),
        (b'{"events": "x"}', "events", "required"),
        (b'{"events": [{"value": NaN}]}', None, "parse_error"),
    ],
)
def test_malformed_bodies_are_400_in_the_usage_error_format(owner_client, body, field, code):
    response = owner_client.generic("POST", URL, body, content_type="application/json")

    assert response.status_code == 400
    [error] = errors_of(response)
    assert (error["index"], error["field"], error["code"]) == (None, field, code)


def test_more_than_1000_events_is_refused_whole(owner_client, application):
    batch = {"events": [audio(application, f"e{i}") for i in range(1001)]}

    response = owner_client.post(URL, batch, format="json")

    assert response.status_code == 400
    [error] = errors_of(response)
    assert (error["index"], error["field"], error["code"]) == (None, "events", "too_many")


def test_a_body_that_is_not_json_is_415(owner_client):
    response = owner_client.post(URL, "events=1", content_type="text/plain")

    assert response.status_code == 415
    assert errors_of(response)[0]["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    "header",
    [None, "Bearer", "Bearer key_00000000.wrong", "Bearer a b", "Basic dXNlcjpwYXNz"],
)
def test_without_a_valid_key_the_answer_is_401(anonymous_client, application, header):
    if header:
        anonymous_client.credentials(HTTP_AUTHORIZATION=header)

    response = anonymous_client.post(URL, {"events": [audio(application)]}, format="json")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert errors_of(response)[0]["field"] is None
    assert not UsageEvent.objects.exists()


def test_a_revoked_key_is_401(account, application):
    from accounts.services import api_key_revoke

    key, raw = key_for(account)
    api_key_revoke(key=key)

    response = bearer(raw).post(URL, {"events": [audio(application)]}, format="json")

    assert response.status_code == 401
    assert errors_of(response)[0]["code"] == "authentication_failed"


@pytest.mark.parametrize("role", ["finance", "support"])
def test_staff_sessions_do_not_report_usage(client_for, application, role):
    response = client_for(role).post(URL, {"events": [audio(application)]}, format="json")

    assert response.status_code == 403
    assert errors_of(response)[0]["code"] == "permission_denied"


def test_a_customers_portal_session_is_not_an_api_credential(account, application):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_login(account.memberships.get().user)

    response = client.post(URL, {"events": [audio(application)]}, format="json")

    assert response.status_code == 401


def test_key_use_is_recorded_at_most_every_few_minutes(account, application):
    key, raw = key_for(account)
    key.last_used_at = None
    key.save(update_fields=["last_used_at"])
    client = bearer(raw)

    client.post(URL, {"events": [audio(application, "1")]}, format="json")
    key.refresh_from_db()
    first_use = key.last_used_at
    client.post(URL, {"events": [audio(application, "2")]}, format="json")
    key.refresh_from_db()

    assert first_use is not None
    assert key.last_used_at == first_use


def test_the_hot_path_takes_a_fixed_number_of_queries(
    owner_client, application, django_assert_num_queries
):
    require_postgresql()  # the count is PostgreSQL's: advisory locks, COPY via staging

    def batch(prefix, n):
        return {"events": [audio(application, f"{prefix}{i}", seconds=i + 1) for i in range(n)]}

    # The key (the API's only query), then the service: applications, price book, month
    # closed?, savepoint, shared lock on the applications, months closed under the lock,
    # INSERT, rated days, release savepoint. The same for 10 events as for 1000.
    with django_assert_num_queries(10):
        assert owner_client.post(URL, batch("a", 10), format="json").status_code == 200
    with django_assert_num_queries(10):
        assert owner_client.post(URL, batch("b", 1000), format="json").status_code == 200
    assert UsageEvent.objects.count() == 1010


def test_a_late_event_for_a_rated_day_is_rated_again_after_commit(
    owner_client, application, account, eager_celery, django_capture_on_commit_callbacks
):
    # given 10 March rated with 600 s of audio: 600 / 60 = 10 minutes
    owner_client.post(URL, {"events": [audio(application, "early")]}, format="json")
    rate_accounts_day(account_ids=[account.pk], day=dt.date(2025, 3, 10))
    charge = Charge.objects.get(application=application, item__code="trtc.audio")
    assert charge.quantity == Decimal("10")

    # when 1200 s more of that day arrive late
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = owner_client.post(
            URL,
            {"events": [audio(application, "late", 1200, "2025-03-10T20:00:00+08:00")]},
            format="json",
        )

    # then the day is rated again at once: (600 + 1200) / 60 = 30 minutes, all within the
    # 10,000 free minutes of the month (SPEC 4.6), so nothing billable
    assert response.status_code == 200
    # the re-rate (and the alerts check of issue 16, which enqueues nothing without alerts)
    assert len([c for c in callbacks if "alerts_evaluate" not in c.__qualname__]) == 1
    charge.refresh_from_db()
    assert charge.quantity == Decimal("30")
    assert charge.covered_quantity == Decimal("30")
    assert charge.amount == Decimal("0")
    assert RatedDay.objects.get(application=application).state == RatedDay.State.RATED


def test_events_for_unrated_days_enqueue_nothing(
    owner_client, application, django_capture_on_commit_callbacks, monkeypatch
):
    from notifications.tasks import evaluate_alerts

    with django_capture_on_commit_callbacks() as callbacks:
        owner_client.post(URL, {"events": [audio(application)]}, format="json")

    # only the alerts check (issue 16) runs after commit, and with no alert it enqueues nothing
    assert [c.__qualname__.split(".")[0] for c in callbacks] == ["alerts_evaluate_after_commit"]
    enqueued = []
    monkeypatch.setattr(evaluate_alerts, "delay", lambda *args: enqueued.append(args))
    for callback in callbacks:
        callback()
    assert enqueued == []

"""One error format everywhere, and input the database could not store refused up front
(found by schemathesis: a NUL in a query parameter was a 500)."""

import pytest

from billing.models import Application, UsageEvent
from billing.services.applications import application_create
from tests.api.conftest import errors_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def app(account, today):
    return application_create(account=account, name="Chat", region="cn")


def test_a_query_parameter_with_nul_is_400(owner_client, app):
    response = owner_client.delete(f"/api/v1/applications/{app.sdkappid}/addons?addon=a%00b")

    assert response.status_code == 400
    [error] = errors_of(response)
    assert (error["field"], error["code"]) == ("addon", "invalid")


def test_a_path_parameter_with_nul_is_400(owner_client):
    response = owner_client.get("/api/v1/invoices/INV%00")

    assert response.status_code == 400
    assert errors_of(response)[0]["field"] == "number"


@pytest.mark.parametrize(
    "body, field",
    [
        (b'{"name": "a\\u0000b", "region": "cn"}', "name"),
        (b'{"name": "\\ud800", "region": "cn"}', "name"),
        (b'{"name": "ok", "region": "cn", "x\\u0000": 1}', "x\x00"),
    ],
)
def test_a_body_the_database_cannot_store_is_400(owner_client, body, field):
    response = owner_client.generic(
        "POST", "/api/v1/applications", body, content_type="application/json"
    )

    assert response.status_code == 400
    assert [(e["field"], e["code"]) for e in errors_of(response)] == [(field, "invalid")]
    assert not Application.objects.exists()


def test_paired_surrogates_are_ordinary_text(owner_client):
    # "\ud83d\ude00" is one emoji, U+1F600
    response = owner_client.generic(
        "POST",
        "/api/v1/applications",
        b'{"name": "Chat \\ud83d\\ude00", "region": "cn"}',
        content_type="application/json",
    )

    assert response.status_code == 201
    assert response.json()["name"] == "Chat \U0001f600"


@pytest.mark.parametrize(
    "event_patch, index, field",
    [
        (b'"id": "a\\u0000"', 1, "id"),
        (b'"properties": {"user_id": "\\udfff"}', 1, "properties.user_id"),
    ],
)
def test_usage_events_the_database_cannot_store_are_400_with_index(
    owner_client, app, event_patch, index, field
):
    ok = b'{"id": "ok", "application": %d, "metric": "trtc.audio_seconds", ' % app.sdkappid
    ok += b'"timestamp": "2025-03-10T08:00:00+08:00"}'
    bad = b'{"application": %d, "metric": "im.login", ' % app.sdkappid
    bad += b'"timestamp": "2025-03-10T08:00:00+08:00", "id": "b", ' + event_patch + b"}"
    if b'"id": "a' in event_patch:
        bad = bad.replace(b'"id": "b", ', b"")

    response = owner_client.generic(
        "POST",
        "/api/v1/usage-events",
        b'{"events": [' + ok + b", " + bad + b"]}",
        content_type="application/json",
    )

    assert response.status_code == 400, response.content
    [error] = errors_of(response)
    assert (error["index"], error["field"], error["code"]) == (index, field, "invalid")
    assert not UsageEvent.objects.exists()


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_an_unsupported_method_is_405_in_the_error_format(owner_client, method):
    response = getattr(owner_client, method)("/api/v1/account")

    assert response.status_code == 405
    assert errors_of(response)[0]["code"] == "method_not_allowed"
    assert response["Allow"] == "GET, HEAD"


def test_options_is_405_too(owner_client):
    assert owner_client.options("/api/v1/applications").status_code == 405


def test_a_post_that_is_not_json_is_415(owner_client):
    response = owner_client.post("/api/v1/applications", "name=x", content_type="text/plain")

    assert response.status_code == 415
    assert errors_of(response)[0]["code"] == "unsupported_media_type"


def test_malformed_json_is_400_parse_error(owner_client):
    response = owner_client.generic(
        "POST", "/api/v1/applications", b"{", content_type="application/json"
    )

    assert response.status_code == 400
    assert errors_of(response) == [
        {"field": None, "code": "parse_error", "message": errors_of(response)[0]["message"]}
    ]


def test_any_operation_refuses_a_nul_in_a_query_parameter(owner_client):
    response = owner_client.get("/api/v1/account?anything=%00")

    assert response.status_code == 400
    assert errors_of(response)[0]["field"] == "anything"

"""The OpenAPI schema and its documentation pages, and schemathesis against the running API:
for every operation, bounded generated requests (authenticated with real keys, half of them
aimed at real objects) must get no 500 and no answer outside the schema (status code,
content type, body, headers)."""

import datetime as dt
import random
import re

import pytest
import schemathesis
from django.contrib.staticfiles import finders
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from billing.services.applications import addon_subscribe, application_create, edition_change
from billing.services.closing import invoice_finalize
from billing.services.ingestion import SYSTEM, usage_events_ingest
from billing.services.invoicing import invoice_refresh
from billing.services.restatements import restatements_refresh
from tests.api.conftest import key_for
from tests.factories import ChargeFactory

pytestmark = pytest.mark.django_db

EXAMPLES_PER_OPERATION = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


def test_schema_lists_every_endpoint_of_issue_6(client):
    schema = client.get("/api/schema/?format=json").json()

    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == {
        "/api/v1/usage-events",
        "/api/v1/applications",
        "/api/v1/applications/{sdkappid}",
        "/api/v1/applications/{sdkappid}/edition",
        "/api/v1/applications/{sdkappid}/addons",
        "/api/v1/applications/{sdkappid}/resource-packs",
        "/api/v1/applications/{sdkappid}/usage",
        "/api/v1/applications/{sdkappid}/charges",
        "/api/v1/applications/{sdkappid}/month-to-date",
        "/api/v1/account",
        "/api/v1/invoices",
        "/api/v1/invoices/{number}",
        "/api/v1/invoices/{number}/pdf",
        "/api/v1/invoices/{number}/adjustments",
        "/api/v1/invoices/{number}/credit-notes",
        "/api/v1/invoices/{number}/payments",
        "/api/v1/api-keys",  # issue 19
        "/api/v1/api-keys/{prefix}",
        # issue 16 (notifications/api)
        "/api/v1/webhook-endpoints",
        "/api/v1/webhook-endpoints/{id}",
        "/api/v1/webhook-endpoints/{id}/deliveries",
        "/api/v1/webhook-endpoints/{id}/test",
        "/api/v1/alerts",
        "/api/v1/alerts/{id}",
        "/api/v1/applications/{sdkappid}/entitlements",
        # issue 17: finance staff review restatements (late usage of closed months)
        "/api/v1/restatements",
        "/api/v1/restatements/{id}",
        "/api/v1/restatements/{id}/approve",
        "/api/v1/restatements/{id}/reject",
    }
    assert set(schema["components"]["securitySchemes"]) == {"bearerAuth", "staffSession"}
    # every operation documents its refusals in the one error format
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert {"401", "403", "429"} <= set(operation["responses"]), (method, path)
    # money is a decimal string
    total = schema["components"]["schemas"]["Invoice"]["properties"]["total"]
    assert (total["type"], total["format"]) == ("string", "decimal")


@pytest.mark.parametrize("page", ["/api/docs/", "/api/docs/redoc/"])
def test_docs_are_served_from_local_static_files(client, page):
    response = client.get(page)

    assert response.status_code == 200
    html = response.content.decode()
    assert "/api/schema/" in html
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(not s.startswith(("http:", "https:", "//")) for s in sources), sources
    for source in sources:
        if source.startswith("/static/"):
            assert finders.find(source.removeprefix("/static/")), source


def test_every_operation_has_a_description_written_for_its_readers(client):
    schema = client.get("/api/schema/?format=json").json()
    internal = "What every API view shares"  # the mixin's docstring, for maintainers
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            text = operation.get("description") or ""
            assert len(text) > 40 and internal not in text, (method, path, text[:60])


def test_redoc_draws_nothing_from_the_internet(client):
    """The Redoc bundle shows the Redocly logo from a CDN: the page allows images from this
    site only and hides that link."""
    html = client.get("/api/docs/redoc/").content.decode()
    assert "img-src 'self' data: blob:" in html
    assert 'a[href^="https://redocly.com"] { display: none; }' in html


# --------------------------------------------------------------------------------------------
# schemathesis
# --------------------------------------------------------------------------------------------

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())


@pytest.fixture
def in_process_wsgi():
    """Requests go through Django's WSGI handler in this thread, inside the test's
    transaction: keep the handler from closing the connection at the end of each request
    (Django's own test client does the same)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def world(account, finance_user, today, in_process_wsgi):
    """Real objects for generated requests to hit: a Pro application with an add-on, usage,
    charges, an issued invoice (February) and a draft (March); an account key; a finance
    staff session."""
    app = application_create(
        account=account, name="Fuzzed", region="cn", created_on=dt.date(2025, 1, 1)
    )
    edition_change(application=app, edition_code="pro")
    addon_subscribe(application=app, item_code="im.addon.message_history.pro.30d")
    usage_events_ingest(
        events=[
            {
                "id": f"e{n}",
                "application": app.sdkappid,
                "metric": "trtc.audio_seconds",
                "timestamp": f"2025-03-{n + 1:02d}T10:00:00+08:00",
                "value": 60 * n,
            }
            for n in range(5)
        ],
        caller=SYSTEM,
    )
    ChargeFactory(application=app, day=dt.date(2025, 3, 10))
    draft = invoice_refresh(account_id=account.pk, currency="CNY", month=dt.date(2025, 3, 1))
    ChargeFactory(application=app, day=dt.date(2025, 2, 10))
    february = invoice_refresh(account_id=account.pk, currency="CNY", month=dt.date(2025, 2, 1))
    issued = invoice_finalize(invoice=february, today=dt.date(2025, 3, 1))
    # Late usage of February (closed, within the late-usage window): a pending restatement.
    usage_events_ingest(
        events=[
            {
                "id": "late-feb",
                "application": app.sdkappid,
                "metric": "trtc.audio_seconds",
                "timestamp": "2025-02-20T10:00:00+08:00",
                "value": 600,
            }
        ],
        caller=SYSTEM,
    )
    [restatement] = restatements_refresh(
        account_id=account.pk, month=dt.date(2025, 2, 1)
    ).restatements
    session = Client()
    session.force_login(finance_user)
    csrf = _get_new_csrf_string()
    return {
        "sdkappid": app.sdkappid,
        "references": [str(draft.pk), issued.number],
        "restatement": restatement.pk,
        "digest": restatement.digest,
        "key": key_for(account)[1],
        "staff_cookies": {"sessionid": session.cookies["sessionid"].value, "csrftoken": csrf},
        "csrf": csrf,
    }


REAL_INPUTS = {
    "/api/v1/applications/{sdkappid}/edition": ("edition", ["pro", "ultimate"]),
    "/api/v1/applications/{sdkappid}/addons": (
        "item",
        ["im.addon.avchatroom.pro", "im.addon.calls.basic", "im.addon.local_moderation"],
    ),
    "/api/v1/applications/{sdkappid}/resource-packs": (
        "item",
        ["im.moderation_pack.monthly", "im.moderation_pack.yearly_small"],
    ),
}


def aim_at_real_objects(case, world, rng: random.Random) -> None:
    """Half of the generated path parameters, item codes and usage events point at real
    objects, so that success responses are checked too, not only 404 and 400."""
    path = case.path_parameters or {}
    if "sdkappid" in path and rng.random() < 0.5:
        path["sdkappid"] = world["sdkappid"]
    if "number" in path and rng.random() < 0.5:
        path["number"] = rng.choice(world["references"])
    if "id" in path and rng.random() < 0.5:
        path["id"] = world["restatement"]
    body = case.body
    if case.path.endswith("/approve") and isinstance(body, dict) and rng.random() < 0.5:
        body["digest"] = world["digest"]
    if case.path in REAL_INPUTS and isinstance(body, dict) and rng.random() < 0.5:
        name, choices = REAL_INPUTS[case.path]
        body[name] = rng.choice(choices)
    events = body.get("events") if isinstance(body, dict) else None
    if case.path == "/api/v1/usage-events" and isinstance(events, list) and rng.random() < 0.5:
        # a valid batch (keeping the generated ids): accepted, duplicates or conflicts
        for index, event in enumerate(events):
            generated_id = event.get("id") if isinstance(event, dict) else None
            events[index] = {
                "id": generated_id if isinstance(generated_id, str) and generated_id else "e",
                "application": world["sdkappid"],
                "metric": "trtc.audio_seconds",
                "timestamp": "2025-03-10T08:00:00+08:00",
                "value": rng.randint(0, 3600),
            }


def authenticate(case, world) -> None:
    """Finance operations as finance staff (session and CSRF token), the rest with the
    account key. Set on the case itself, so nothing generated for the security schemes
    replaces them."""
    case.headers = dict(case.headers or {})
    case.cookies = dict(case.cookies or {})
    if "finance staff" in (case.operation.tags or []):
        case.headers.pop("Authorization", None)
        case.cookies.update(world["staff_cookies"])
        case.headers["X-CSRFToken"] = world["csrf"]
    else:
        case.cookies.pop("sessionid", None)
        case.headers["Authorization"] = f"Bearer {world['key']}"


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_answers_within_its_schema(case, world):
    rng = random.Random(repr(case.path_parameters) + repr(case.query) + repr(case.body))
    aim_at_real_objects(case, world, rng)
    authenticate(case, world)
    response = case.call()
    case.validate_response(response, checks=CHECKS)


# --------------------------------------------------------------------------------------------
# schemathesis, negative data (issue 13): inputs that do not fit the schema, on every
# operation, must be refused with a documented 4xx in the one error format, never a 500.
# --------------------------------------------------------------------------------------------

NEGATIVE_EXAMPLES_PER_OPERATION = 15
negative_schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
negative_schema.config.generation.update(modes=[GenerationMode.NEGATIVE])
NEGATIVE_CHECKS = [*CHECKS, negative_data_rejection]


@negative_schema.parametrize()
@settings(
    max_examples=NEGATIVE_EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_refuses_data_outside_its_schema(case, world):
    rng = random.Random(repr(case.path_parameters) + repr(case.query) + repr(case.body))
    if rng.random() < 0.5:  # half against real objects: the refusal is about the data
        path = case.path_parameters or {}
        if "sdkappid" in path and isinstance(path["sdkappid"], int):
            path["sdkappid"] = world["sdkappid"]
    authenticate(case, world)
    response = case.call()
    case.validate_response(response, checks=NEGATIVE_CHECKS)

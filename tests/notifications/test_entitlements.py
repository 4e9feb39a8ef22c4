"""GET /api/v1/applications/{sdkappid}/entitlements: upgrade, suspension and a lapsed
prepaid term are reflected in the answer and change its version; a platform endpoint of a
service key receives application.entitlements_changed."""

import datetime as dt
import json

import pytest
from rest_framework.test import APIClient

from billing.services.applications import addon_subscribe, application_create, edition_change
from billing.services.overdue import _set_status
from notifications.models import Event
from tests.api.conftest import key_for
from tests.notifications.conftest import freeze, plain_account, shanghai

pytestmark = pytest.mark.django_db


def bearer(raw):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_upgrade_suspension_and_lapse_change_the_answer_and_its_version(
    monkeypatch, allow_http, eager, receiver, django_capture_on_commit_callbacks
):
    freeze(monkeypatch, shanghai(2026, 10, 1, 12, 0))
    account, raw = plain_account("Tenant A", "a@example.com")
    _, other_raw = plain_account("Tenant B", "b@example.com")
    _, service_raw = key_for(service=True)
    platform = receiver()
    subscribed = bearer(service_raw).post(
        "/api/v1/webhook-endpoints",
        {"url": platform.url, "event_types": ["application.entitlements_changed"]},
        format="json",
    )
    assert subscribed.status_code == 201
    with django_capture_on_commit_callbacks(execute=True):
        app = application_create(account=account, name="a", region="cn", sdkappid=1400400001)
    url = f"/api/v1/applications/{app.sdkappid}/entitlements"
    assert bearer(other_raw).get(url).status_code == 404
    trial = bearer(service_raw).get(url).json()
    assert bearer(raw).get(url).json() == trial  # the owner's key reads the same
    assert trial["status"] == "active" and trial["edition"] == "trial"
    # Trial: 100 DAU and 100 groups, hard limits; 7 days of history (SPEC 4.1)
    assert trial["limits"]["dau_included"] == 100 and trial["limits"]["groups_included"] == 100
    assert trial["limits"]["hard_limits"] is True
    assert trial["limits"]["message_history_days"] == 7
    assert trial["addons"] == [] and trial["paid_features_suspended"] is False

    # upgrade to Pro and buy the group member limit: 10,000 DAU, 2,000 members per group
    with django_capture_on_commit_callbacks(execute=True):
        edition_change(application=app, edition_code="pro")
        addon_subscribe(application=app, item_code="im.addon.group_members.pro")
        addon_subscribe(application=app, item_code="im.addon.calls.basic")
    pro = bearer(service_raw).get(url).json()
    assert pro["edition"] == "pro" and pro["limits"]["dau_included"] == 10000
    assert pro["limits"]["hard_limits"] is False
    assert pro["limits"]["members_per_group"] == 2000
    assert pro["call_minutes_left"] == "110000"  # Basic calls: 110,000 minutes a month
    assert [a["item"] for a in pro["addons"]] == [
        "im.addon.calls.basic",
        "im.addon.group_members.pro",
    ]
    assert pro["version"] != trial["version"]

    # suspended for an overdue payment
    from django.utils import timezone

    with django_capture_on_commit_callbacks(execute=True):
        _set_status(app, "suspended", "overdue payment", timezone.now())
    suspended = bearer(service_raw).get(url).json()
    assert suspended["status"] == "suspended"
    assert suspended["version"] not in (pro["version"], trial["version"])

    # the Pro term ran 1 Oct to 31 Oct and was not renewed (suspended): on 8 Nov it ended
    # 8 days ago, more than 7 (SPEC 5): the paid features are suspended
    freeze(monkeypatch, shanghai(2026, 11, 7, 12, 0))
    assert bearer(service_raw).get(url).json()["paid_features_suspended"] is False  # 7 days
    freeze(monkeypatch, shanghai(2026, 11, 8, 12, 0))
    lapsed = bearer(service_raw).get(url).json()
    assert lapsed["paid_features_suspended"] is True
    assert {f["item"] for f in lapsed["suspended_features"]} == {
        "im.edition.pro",
        "im.addon.group_members.pro",
        "im.addon.calls.basic",
    }
    assert lapsed["addons"] == [] and "members_per_group" not in lapsed["limits"]
    assert lapsed["limits"]["dau_included"] == 10000  # it behaves as its edition allows
    assert lapsed["version"] != suspended["version"]
    # the daily check announces the lapse
    from notifications.dunning import daily_notices

    with django_capture_on_commit_callbacks(execute=True):
        assert daily_notices()["entitlements"] == 1

    # every change reached the platform's endpoint, with the version it announced
    bodies = [json.loads(r["body"]) for r in platform.requests]
    assert {b["type"] for b in bodies} == {"application.entitlements_changed"}
    versions = [b["data"]["entitlements"]["version"] for b in bodies]
    assert versions[0] == trial["version"]
    assert pro["version"] in versions and suspended["version"] in versions
    assert versions[-1] == lapsed["version"]
    assert Event.objects.filter(type="application.entitlements_changed").count() == len(bodies)


def test_entitlements_for_staff_and_anonymous_are_refused(client):
    assert APIClient().get("/api/v1/applications/1/entitlements").status_code == 401
    _, service_raw = key_for(service=True)
    assert bearer(service_raw).get("/api/v1/applications/1/entitlements").status_code == 404
    assert dt.date  # keep the import used

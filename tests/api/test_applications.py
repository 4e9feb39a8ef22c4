"""/api/v1/applications and everything under it, over HTTP, for every role."""

import datetime as dt
from decimal import Decimal

import pytest

from billing.models import AddOnSubscription, Application, ResourcePack
from billing.services.applications import application_create, edition_change
from tests.api.conftest import errors_of
from tests.factories import (
    ApplicationFactory,
    ChargeFactory,
    EditionPeriodFactory,
    UsageEventFactory,
    billable_item,
)

pytestmark = pytest.mark.django_db
APPS = "/api/v1/applications"


@pytest.fixture
def app(account, today):
    """Created by the service on 15 Mar 2025: Trial from that day, region cn."""
    return application_create(account=account, name="Chat", region="cn")


@pytest.fixture
def pro_app(app):
    edition_change(application=app, edition_code="pro")  # term 15 Mar to 14 Apr, 999 CNY
    return app


def url(app, suffix=""):
    return f"{APPS}/{app.sdkappid}{suffix}"


# --------------------------------------------------------------------------------------------
# Roles: every endpoint refuses service keys and staff (403), nobody (401), and answers 404
# for another account's application.
# --------------------------------------------------------------------------------------------

ENDPOINTS = [
    ("get", ""),
    ("post", "/edition"),
    ("get", "/addons"),
    ("post", "/addons"),
    ("delete", "/addons?addon=avchatroom"),
    ("get", "/resource-packs"),
    ("post", "/resource-packs"),
    ("get", "/usage"),
    ("get", "/charges"),
    ("get", "/month-to-date"),
]
BODIES = {"/edition": {"edition": "pro"}, "/addons": {"item": "im.addon.avchatroom.pro"}}


@pytest.mark.parametrize("method, suffix", ENDPOINTS)
@pytest.mark.parametrize(
    "role, status",
    [("other", 404), ("service", 403), ("finance", 403), ("support", 403), ("anonymous", 401)],
)
def test_only_the_owner_reaches_an_application(client_for, pro_app, method, suffix, role, status):
    body = BODIES.get(suffix, {"item": "im.moderation_pack.monthly"})
    before = (AddOnSubscription.objects.count(), ResourcePack.objects.count())

    response = getattr(client_for(role), method)(url(pro_app, suffix), body, format="json")

    assert response.status_code == status, response.content
    assert len(errors_of(response)) == 1
    pro_app.refresh_from_db()
    assert (AddOnSubscription.objects.count(), ResourcePack.objects.count()) == before


@pytest.mark.parametrize(
    "role, status", [("service", 403), ("finance", 403), ("anonymous", 401), ("other", 200)]
)
def test_the_list_and_create_refuse_other_roles(client_for, pro_app, role, status):
    listed = client_for(role).get(APPS)
    created = client_for(role).post(APPS, {"name": "x", "region": "cn"}, format="json")

    assert listed.status_code == status
    assert created.status_code == (201 if status == 200 else status)
    if role == "other":  # its own list: the new one only, never the owner's
        assert [a["sdkappid"] for a in listed.json()["results"]] == []
        assert Application.objects.get(sdkappid=created.json()["sdkappid"]).account != (
            pro_app.account
        )


# --------------------------------------------------------------------------------------------
# Applications
# --------------------------------------------------------------------------------------------


def test_create_answers_201_with_the_sdkappid_on_trial(owner_client, account, today):
    response = owner_client.post(APPS, {"name": "Support chat", "region": "intl"}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    application = Application.objects.get(sdkappid=body["sdkappid"])
    assert application.account == account
    assert body == {
        "sdkappid": application.sdkappid,
        "name": "Support chat",
        "region": "intl",
        "status": "active",
        "edition": "trial",
        "scheduled_edition": None,
        "created_at": body["created_at"],
    }


@pytest.mark.parametrize(
    "body, field, code",
    [
        ({"region": "cn"}, "name", "required"),
        ({"name": "  ", "region": "cn"}, "name", "blank"),
        ({"name": "x" * 101, "region": "cn"}, "name", "max_length"),
        ({"name": "A", "region": "mars"}, "region", "invalid_choice"),
        ({"name": "A"}, "region", "required"),
    ],
)
def test_create_names_the_bad_field(owner_client, body, field, code):
    response = owner_client.post(APPS, body, format="json")

    assert response.status_code == 400
    assert [(e["field"], e["code"]) for e in errors_of(response)] == [(field, code)]
    assert not Application.objects.exists()


def test_list_shows_the_account_applications_with_their_edition(owner_client, pro_app, account):
    trial = application_create(account=account, name="Other", region="intl")
    ApplicationFactory()  # another account's

    response = owner_client.get(APPS)

    assert response.status_code == 200
    rows = {row["sdkappid"]: row for row in response.json()["results"]}
    assert set(rows) == {pro_app.sdkappid, trial.sdkappid}
    assert (rows[pro_app.sdkappid]["edition"], rows[trial.sdkappid]["edition"]) == ("pro", "trial")


@pytest.mark.parametrize("count", [5, 50])
def test_list_query_count_does_not_grow(owner_client, account, count, django_assert_num_queries):
    for _ in range(count):
        EditionPeriodFactory(application=ApplicationFactory(account=account))

    with django_assert_num_queries(2):  # the key, the page (editions are subqueries)
        response = owner_client.get(f"{APPS}?limit=200")

    assert len(response.json()["results"]) == count
    assert {row["edition"] for row in response.json()["results"]} == {"trial"}


def test_detail(owner_client, pro_app):
    response = owner_client.get(url(pro_app))

    assert response.status_code == 200
    assert (response.json()["sdkappid"], response.json()["edition"]) == (pro_app.sdkappid, "pro")


def test_unknown_or_malformed_sdkappid_is_404(owner_client, app):
    assert owner_client.get(f"{APPS}/1").status_code == 404
    assert owner_client.get(f"{APPS}/{'9' * 25}").status_code == 404
    assert owner_client.get(f"{APPS}/abc").status_code == 404


# --------------------------------------------------------------------------------------------
# Editions
# --------------------------------------------------------------------------------------------


def test_upgrade_from_trial_takes_effect_today(owner_client, app):
    response = owner_client.post(url(app, "/edition"), {"edition": "pro"}, format="json")

    assert response.status_code == 200, response.content
    assert (response.json()["edition"], response.json()["scheduled_edition"]) == ("pro", None)


def test_ultimate_to_pro_waits_for_the_end_of_the_term(owner_client, app):
    owner_client.post(url(app, "/edition"), {"edition": "ultimate"}, format="json")

    response = owner_client.post(url(app, "/edition"), {"edition": "pro"}, format="json")

    # the Ultimate term bought 15 Mar runs to 14 Apr (SPEC 3): Pro from 15 Apr
    assert response.status_code == 200
    assert response.json()["edition"] == "ultimate"
    assert response.json()["scheduled_edition"] == {"edition": "pro", "starts_on": "2025-04-15"}


@pytest.mark.parametrize(
    "body, field, code",
    [
        ({"edition": "trial"}, "edition", "trial_not_allowed"),
        ({"edition": "gold"}, "edition", "invalid"),
        ({}, "edition", "required"),
    ],
)
def test_edition_refusals_name_the_field(owner_client, pro_app, body, field, code):
    response = owner_client.post(url(pro_app, "/edition"), body, format="json")

    assert response.status_code == 400
    [error] = errors_of(response)
    assert (error["field"], error["code"]) == (field, code)


def test_a_change_dated_in_a_finalized_month_is_409_period_closed(owner_client, app, account):
    from tests.factories import InvoiceFactory

    InvoiceFactory(account=account, finalized=True)  # March 2025 is final

    response = owner_client.post(url(app, "/edition"), {"edition": "pro"}, format="json")

    assert response.status_code == 409
    assert errors_of(response)[0]["code"] == "period_closed"


# --------------------------------------------------------------------------------------------
# Add-ons and resource packs
# --------------------------------------------------------------------------------------------


def test_subscribe_list_and_cancel_an_addon(owner_client, pro_app):
    created = owner_client.post(
        url(pro_app, "/addons"), {"item": "im.addon.avchatroom.pro"}, format="json"
    )
    listed = owner_client.get(url(pro_app, "/addons"))
    cancelled = owner_client.delete(url(pro_app, "/addons?addon=avchatroom"))
    again = owner_client.delete(url(pro_app, "/addons?addon=avchatroom"))

    assert created.status_code == 201, created.content
    assert created.json() == {
        "id": created.json()["id"],
        "addon": "avchatroom",
        "item": "im.addon.avchatroom.pro",
        "name": "Unlimited live groups (AVChatRoom)",
        "billing": "prepaid",
        "starts_on": "2025-03-15",
        "ends_on": None,
    }
    assert [row["id"] for row in listed.json()["results"]] == [created.json()["id"]]
    # prepaid: runs to the end of the term paid, 15 Mar to 14 Apr
    assert cancelled.status_code == 200
    assert cancelled.json()["ends_on"] == "2025-04-14"
    assert again.status_code == 404


def test_trial_cannot_buy_value_added_services(owner_client, app):
    response = owner_client.post(
        url(app, "/addons"), {"item": "im.addon.avchatroom.pro"}, format="json"
    )

    assert response.status_code == 400
    assert [(e["field"], e["code"]) for e in errors_of(response)] == [
        ("item", "edition_not_allowed")
    ]


@pytest.mark.parametrize(
    "body, field, code",
    [({"item": "im.nothing"}, "item", "unknown_item"), ({}, "item", "required")],
)
def test_addon_input_errors(owner_client, pro_app, body, field, code):
    response = owner_client.post(url(pro_app, "/addons"), body, format="json")

    assert response.status_code == 400
    assert [(e["field"], e["code"]) for e in errors_of(response)] == [(field, code)]


def test_cancel_needs_the_addon_named(owner_client, pro_app):
    response = owner_client.delete(url(pro_app, "/addons"))

    assert response.status_code == 400
    assert errors_of(response)[0]["field"] == "addon"


def test_buy_and_list_a_resource_pack(owner_client, app):
    response = owner_client.post(
        url(app, "/resource-packs"), {"item": "im.moderation_pack.monthly"}, format="json"
    )
    listed = owner_client.get(url(app, "/resource-packs"))

    # SPEC 4.4: monthly pack, 1050 CNY for 1,100,000 units, valid one month from today
    assert response.status_code == 201, response.content
    assert response.json() == {
        "id": response.json()["id"],
        "item": "im.moderation_pack.monthly",
        "name": "Moderation pack, monthly (1,100,000 units)",
        "covers": "moderation_units",
        "units_total": "1100000",
        "valid_from": "2025-03-15",
        "valid_until": "2025-04-14",
        "currency": "CNY",
        "amount": "1050.00",
    }
    assert listed.json()["results"] == [response.json()]


def test_a_non_pack_item_is_refused(owner_client, app):
    response = owner_client.post(url(app, "/resource-packs"), {"item": "trtc.audio"}, format="json")

    assert response.status_code == 400
    assert [(e["field"], e["code"]) for e in errors_of(response)] == [("item", "invalid")]


@pytest.mark.parametrize("count", [5, 50])
def test_addon_and_pack_lists_query_count_does_not_grow(
    owner_client, pro_app, count, django_assert_num_queries
):
    from tests.factories import AddOnSubscriptionFactory, ResourcePackFactory

    item = billable_item("im.addon.message_history.pro.30d")
    for n in range(count):
        AddOnSubscriptionFactory(
            application=pro_app,
            item=item,
            starts_on=dt.date(2020, 1, 1) + dt.timedelta(days=2 * n),
            ends_on=dt.date(2020, 1, 1) + dt.timedelta(days=2 * n),
        )
        ResourcePackFactory(application=pro_app)

    # the key, the application, the page
    with django_assert_num_queries(3):
        addons = owner_client.get(url(pro_app, "/addons?limit=200"))
    with django_assert_num_queries(3):
        packs = owner_client.get(url(pro_app, "/resource-packs?limit=200"))

    assert len(addons.json()["results"]) == count
    assert len(packs.json()["results"]) == count


# --------------------------------------------------------------------------------------------
# Usage, charges, month to date
# --------------------------------------------------------------------------------------------


def test_usage_is_aggregated_per_day_as_spec_7_says(owner_client, app):
    day = dt.datetime(2025, 3, 10, 12, tzinfo=dt.UTC)
    events = [
        # 3 logins by 2 users: DAU 2
        {"metric": "im.login", "dimension": "u1", "value": Decimal(1)},
        {"metric": "im.login", "dimension": "u1", "value": Decimal(1)},
        {"metric": "im.login", "dimension": "u2", "value": Decimal(1)},
        # group count: the highest report, 120
        {"metric": "im.group_count", "value": Decimal(100)},
        {"metric": "im.group_count", "value": Decimal(120)},
        # audio: 60 + 90.5 seconds
        {"metric": "trtc.audio_seconds", "value": Decimal(60)},
        {"metric": "trtc.audio_seconds", "value": Decimal("90.5")},
        # video per resolution
        {"metric": "trtc.video_seconds", "dimension": "hd", "value": Decimal(30)},
        {"metric": "trtc.video_seconds", "dimension": "sd", "value": Decimal(45)},
    ]
    for event in events:
        UsageEventFactory(application=app, timestamp=day, **event)
    UsageEventFactory(application=app, timestamp=day + dt.timedelta(days=1))  # 11 Mar

    response = owner_client.get(url(app, "/usage?from=2025-03-10&to=2025-03-10"))

    assert response.status_code == 200, response.content
    rows = [
        (r["day"], r["metric"], r["resolution"], r["events"], r["quantity"])
        for r in response.json()["results"]
    ]
    assert rows == [
        ("2025-03-10", "im.group_count", None, 2, "120"),
        ("2025-03-10", "im.login", None, 3, "2"),
        ("2025-03-10", "trtc.audio_seconds", None, 2, "150.5"),
        ("2025-03-10", "trtc.video_seconds", "hd", 1, "30"),
        ("2025-03-10", "trtc.video_seconds", "sd", 1, "45"),
    ]
    only_audio = owner_client.get(url(app, "/usage?metric=trtc.audio_seconds"))
    assert [(r["day"], r["quantity"]) for r in only_audio.json()["results"]] == [
        ("2025-03-10", "150.5"),
        ("2025-03-11", "60"),
    ]


@pytest.mark.parametrize(
    "query, field, code",
    [
        ("from=2025-02-30", "from", "invalid"),
        ("to=yesterday", "to", "invalid"),
        ("from=2025-03-10&to=2025-03-01", "to", "invalid"),
        ("metric=im.nope", "metric", "invalid_choice"),
    ],
)
def test_usage_filters_are_validated(owner_client, app, query, field, code):
    response = owner_client.get(url(app, f"/usage?{query}"))

    assert response.status_code == 400
    assert [(e["field"], e["code"]) for e in errors_of(response)] == [(field, code)]


def test_usage_pages_by_cursor(owner_client, app):
    for n in range(7):
        UsageEventFactory(application=app, timestamp=dt.datetime(2025, 3, 1 + n, 4, tzinfo=dt.UTC))

    days, link = [], url(app, "/usage?limit=3")
    while link:
        page = owner_client.get(link).json()
        days += [row["day"] for row in page["results"]]
        link = page["next"]

    assert days == [f"2025-03-0{n}" for n in range(1, 8)]


def test_charges_with_exact_amounts(owner_client, app):
    ChargeFactory(application=app, day=dt.date(2025, 3, 10))  # 1000 min x 7 / 1000 = 7 CNY
    # 333 minutes: 333 x 7 / 1000 = 2.331 CNY, kept exact
    ChargeFactory(application=app, day=dt.date(2025, 3, 11), quantity=Decimal(333))
    ChargeFactory(application=app, day=dt.date(2025, 4, 1))

    response = owner_client.get(url(app, "/charges?from=2025-03-01&to=2025-03-31"))

    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(r["day"], r["item"], r["quantity"], r["unit_price"], r["amount"]) for r in rows] == [
        ("2025-03-10", "trtc.audio", "1000", "7", "7.00000000"),
        ("2025-03-11", "trtc.audio", "333", "7", "2.33100000"),
    ]
    assert rows[0]["per_quantity"] == "1000"
    assert rows[0]["currency"] == "CNY"


@pytest.mark.parametrize("count", [5, 50])
def test_usage_and_charges_query_count_does_not_grow(
    owner_client, app, count, django_assert_num_queries
):
    for n in range(count):
        day = dt.date(2024, 1, 1) + dt.timedelta(days=n)
        ChargeFactory(application=app, day=day)
        UsageEventFactory(
            application=app, timestamp=dt.datetime(day.year, day.month, day.day, 4, tzinfo=dt.UTC)
        )

    with django_assert_num_queries(3):  # the key, the application, the page
        charges = owner_client.get(url(app, "/charges?limit=200"))
    with django_assert_num_queries(4):  # and which of the page's days are rated
        usage = owner_client.get(url(app, "/usage?limit=200"))

    assert len(charges.json()["results"]) == count
    assert len(usage.json()["results"]) == count


def test_month_to_date_of_one_application(owner_client, pro_app, account):
    owner_client.post(
        url(pro_app, "/resource-packs"), {"item": "im.moderation_pack.monthly"}, format="json"
    )
    ChargeFactory(application=pro_app, day=dt.date(2025, 3, 10))  # 7.00 CNY of audio
    other = application_create(account=account, name="Other", region="cn")
    edition_change(application=other, edition_code="ultimate")  # not this application's

    response = owner_client.get(url(pro_app, "/month-to-date"))

    assert response.status_code == 200, response.content
    [cny] = response.json()
    # Pro term 999.00 + monthly moderation pack 1050.00 + audio 7.00 = 2056.00
    assert (cny["currency"], cny["month"], cny["total"]) == ("CNY", "2025-03", "2056.00")
    assert sorted((line["item"], line["amount"]) for line in cny["lines"]) == [
        ("im.edition.pro", "999.00"),
        ("im.moderation_pack.monthly", "1050.00"),
        ("trtc.audio", "7.00"),
    ]

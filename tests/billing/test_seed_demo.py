"""`manage.py seed_demo`: the demo design exists after one run, and a second run stores nothing
new and reports every event as a duplicate."""

import datetime as dt
import io
import re

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command

from accounts.models import Account, Membership
from billing.calendar import month_start
from billing.management.commands import seed_demo
from billing.models import (
    AddOnSubscription,
    Application,
    EditionPeriod,
    Invoice,
    Metric,
    PrepaidTerm,
    ResourcePack,
    UsageEvent,
)
from billing.selectors.editions import current_period
from billing.services.closing import invoice_finalize

pytestmark = pytest.mark.django_db

DAYS = 3
SDKAPPIDS = list(range(1400000101, 1400000110))
SUMMARY = re.compile(
    r"accounts (\d+) \((\d+) new\), applications (\d+) \((\d+) new\), "
    r"events accepted (\d+), duplicates (\d+)"
)
RESOLUTIONS = {"cn": {"sd", "hd", "fhd"}, "intl": {"hd", "fhd", "2k", "4k"}}
MODERATION = {
    Metric.IM_MODERATION_TEXT,
    Metric.IM_MODERATION_IMAGE,
    Metric.IM_MODERATION_AUDIO_SECONDS,
    Metric.IM_MODERATION_VIDEO_SECONDS,
}


@pytest.fixture
def today(monkeypatch):
    """One billing day for every run of the test, even across midnight."""
    today = seed_demo.billing_today()
    monkeypatch.setattr(seed_demo, "billing_today", lambda: today)
    return today


def run(days: int) -> tuple[dict, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("seed_demo", days=days, stdout=out, stderr=err)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1, out.getvalue()  # stdout is the summary only
    match = SUMMARY.fullmatch(lines[0])
    assert match, lines[0]
    keys = ("accounts", "accounts_new", "apps", "apps_new", "accepted", "duplicates")
    return dict(zip(keys, map(int, match.groups()), strict=True)), err.getvalue()


def row_counts() -> dict[str, int]:
    models = [
        *apps.get_app_config("billing").get_models(),
        *apps.get_app_config("accounts").get_models(),
        get_user_model(),
    ]
    return {model._meta.label: model.objects.count() for model in models}


def test_seed_demo_creates_the_design_once(today):
    yesterday = today - dt.timedelta(days=1)
    first_day = yesterday - dt.timedelta(days=DAYS - 1)

    first, progress = run(DAYS)
    events = UsageEvent.objects.count()
    assert first == {
        "accounts": 3,
        "accounts_new": 3,
        "apps": 9,
        "apps_new": 9,
        "accepted": events,
        "duplicates": 0,
    }
    assert events > 0
    assert "Lantern Social Ltd." in progress  # progress goes to stderr

    # Accounts: the customer owns the first; the others have ops@ owners with the password.
    owners = {
        m.account.name: m.user
        for m in Membership.objects.filter(role=Membership.Role.OWNER).select_related(
            "account", "user"
        )
    }
    assert Account.objects.count() == 3
    assert owners["Lantern Social Ltd."].username == "demo@example.com"
    for name, user in owners.items():
        assert user.check_password("demo-customer-pw"), name
        if name != "Lantern Social Ltd.":
            assert re.fullmatch(r"ops@[a-z]+\.example", user.username), user.username

    # Applications: fixed SDKAppIDs, created on the first day, both regions in every account.
    applications = list(Application.objects.order_by("sdkappid"))
    assert [a.sdkappid for a in applications] == SDKAPPIDS
    for account in Account.objects.all():
        assert set(account.applications.values_list("region", flat=True)) == {"cn", "intl"}
    for application in applications:
        assert application.edition_periods.order_by("starts_on").first().starts_on == first_day

    # Editions: all three in use yesterday; trial->pro, pro->ultimate with a proration credit,
    # and an ultimate->pro downgrade scheduled for when the Ultimate term ends.
    current = {current_period(a, yesterday).edition.code for a in applications}
    assert current == {"trial", "pro", "ultimate"}
    histories = [
        [p.edition.code for p in a.edition_periods.order_by("starts_on")] for a in applications
    ]
    assert ["trial", "pro"] in histories
    assert ["trial", "pro", "ultimate"] in histories
    downgrades = EditionPeriod.objects.filter(edition__code="pro", starts_on__gt=yesterday)
    assert downgrades.exists()
    for period in downgrades:
        before = period.application.edition_periods.filter(starts_on__lt=period.starts_on)
        assert before.order_by("-starts_on").first().edition.code == "ultimate"
    credit = PrepaidTerm.objects.get(cut_on__isnull=False, item__code="im.edition.pro")
    assert 0 < credit.credit_amount < credit.amount
    # Options sold for one edition end with it: the upgraded application's Pro options on
    # the upgrade day, the downgrading application's Ultimate options on the switch.
    switches = {credit.cut_on, *downgrades.values_list("starts_on", flat=True)}
    for term in PrepaidTerm.objects.filter(cut_on__isnull=False).exclude(pk=credit.pk):
        assert term.item.edition.code in {"pro", "ultimate"} and term.cut_on in switches

    # Add-ons: prepaid ones have a term running yesterday; local moderation is on a Trial app.
    subscriptions = AddOnSubscription.objects.select_related("item", "addon", "application")
    codes = {s.item.code for s in subscriptions}
    assert {
        "im.addon.avchatroom.pro",
        "im.addon.group_members.pro",
        "im.addon.group_members.ultimate",
        "im.addon.groups_per_user.pro",
        "im.addon.calls.basic",
        "im.addon.calls.advanced",
        "im.addon.local_moderation",
        "im.addon.message_history.pro.30d",
        "im.addon.message_history.ultimate.180d",
    } <= codes
    for subscription in subscriptions:
        if subscription.addon.billing == "prepaid":
            assert subscription.terms.filter(
                starts_on__lte=yesterday, ends_on__gte=yesterday
            ).exists(), subscription
        if subscription.item.code == "im.addon.local_moderation":
            assert current_period(subscription.application, yesterday).edition.code == "trial"
    # Renewals exist: every paid edition has a term covering yesterday.
    for application in applications:
        edition = current_period(application, yesterday).edition.code
        if edition != "trial":
            assert PrepaidTerm.objects.filter(
                application=application,
                item__code=f"im.edition.{edition}",
                starts_on__lte=yesterday,
                ends_on__gte=yesterday,
            ).exists(), application

    # Moderation packs (monthly and yearly small) on cn applications.
    packs = ResourcePack.objects.filter(covers="moderation_units").select_related("item")
    assert {p.item.code for p in packs} >= {
        "im.moderation_pack.monthly",
        "im.moderation_pack.yearly_small",
    }
    assert {p.application.region for p in packs} == {"cn"}

    # Usage: every metric of SPEC 7, only on the seeded days, only where it is sold.
    assert set(UsageEvent.objects.values_list("metric", flat=True).distinct()) == set(Metric.values)
    days = set(UsageEvent.objects.values_list("billing_day", flat=True).distinct())
    assert days == {first_day + dt.timedelta(days=n) for n in range(DAYS)}
    region_of = {a.pk: a.region for a in applications}
    for application_id, metric, dimension in (
        UsageEvent.objects.values_list("application", "metric", "dimension").distinct().iterator()
    ):
        region = region_of[application_id]
        if metric in MODERATION:
            assert region == "cn", metric
        if metric in (Metric.TRTC_AI_SECONDS, Metric.TRTC_STT_SECONDS):
            assert region == "intl", metric
        if metric == Metric.TRTC_VIDEO_SECONDS:
            assert dimension in RESOLUTIONS[region], (region, dimension)
    # Conversational AI: each task has the human's and the agent's audio.
    ai = UsageEvent.objects.filter(metric=Metric.TRTC_AI_SECONDS)
    agent_audio = UsageEvent.objects.filter(
        metric=Metric.TRTC_AUDIO_SECONDS, properties__role="agent"
    )
    assert ai.count() == agent_audio.count() > 0
    assert UsageEvent.objects.get(event_id=f"demo-1400000101-{first_day}-im.login-1")

    # Second run: nothing new anywhere, every event a duplicate.
    before = row_counts()
    second, _ = run(DAYS)
    assert second == {
        "accounts": 3,
        "accounts_new": 0,
        "apps": 9,
        "apps_new": 0,
        "accepted": 0,
        "duplicates": events,
    }
    assert row_counts() == before

    # After the month is finalized the ingestion refuses even duplicates (period_closed): a
    # rerun counts the stored events as duplicates, sends nothing, and says what it could not
    # store.
    lantern = Account.objects.get(name="Lantern Social Ltd.")
    month = month_start(first_day)
    Invoice.objects.get_or_create(account=lantern, currency="CNY", month=month)
    for invoice in Invoice.objects.filter(account=lantern, month=month):
        invoice_finalize(invoice=invoice)
    removed = UsageEvent.objects.filter(
        application__account=lantern, billing_day=first_day, metric=Metric.IM_GROUP_COUNT
    )
    removed_count = removed.count()
    assert removed_count > 0
    removed.delete()
    before = row_counts()
    out = io.StringIO()
    call_command("seed_demo", days=DAYS, stdout=out, stderr=io.StringIO())
    assert (
        out.getvalue()
        .strip()
        .endswith(
            f"events accepted 0, duplicates {events - removed_count}, "
            f"not stored (month closed) {removed_count}"
        )
    )
    assert row_counts() == before

    # A shorter history regenerates the same content for its days: duplicates only.
    third, _ = run(DAYS - 1)
    assert third["accepted"] == 0
    assert third["duplicates"] == UsageEvent.objects.filter(billing_day__gt=first_day).count()
    assert row_counts() == before

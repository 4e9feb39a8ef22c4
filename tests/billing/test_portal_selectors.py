"""The reads behind the customer portal (and the REST API): edition change preview, usage
series for the charts, free minutes and packs left, dashboard, invoice detail. Expected
numbers are worked out by hand from SPEC.md."""

import datetime as dt
from decimal import Decimal

import pytest

from accounts.services import account_create
from billing import selectors
from billing.errors import BillingError
from billing.models import Invoice, PrepaidTerm
from billing.selectors.documents import invoice_document
from billing.services.applications import (
    addon_subscribe,
    application_create,
    edition_change,
    resource_pack_purchase,
)
from billing.services.ingestion import SYSTEM, usage_events_ingest
from billing.services.jobs import bill_day, close_month
from tests.factories import CreditNoteFactory, PaymentFactory

pytestmark = pytest.mark.django_db

OCT = dt.date(2026, 10, 1)


def app_on(edition: str | None = None, *, region="cn", email="sel@example.com", on=OCT):
    account = account_create(name=f"Account of {email}", email=email)
    app = application_create(account=account, name="chat", region=region, created_on=on)
    if edition:
        edition_change(application=app, edition_code=edition, effective=on)
    return app


def event(app, n, metric, timestamp, value=None, **properties):
    data = {
        "id": f"e{n}",
        "application": app.sdkappid,
        "metric": metric,
        "timestamp": timestamp,
        "properties": properties,
    }
    if value is not None:
        data["value"] = value
    return data


# --------------------------------------------------------------------------------------------
# Edition change preview
# --------------------------------------------------------------------------------------------


def test_upgrade_preview_shows_credit_fee_and_start_and_matches_the_change():
    app = app_on("pro")  # Pro term 1 Oct to 31 Oct 2026, 999 CNY

    preview = selectors.edition_change_preview(
        application=app, edition_code="ultimate", today=dt.date(2026, 10, 11)
    )

    assert preview.is_upgrade
    assert preview.takes_effect_on == dt.date(2026, 10, 11)  # at once (SPEC 4.1)
    assert (preview.new_term_starts_on, preview.new_term_ends_on) == (
        dt.date(2026, 10, 11),
        dt.date(2026, 11, 10),
    )
    # Unused 11..31 Oct = 21 of 31 days: 999 x 21 / 31 = 676.7419... -> 676.74.
    assert preview.credit == Decimal("676.74")
    assert "21 / 31" in preview.credit_explanation
    assert preview.target.monthly_fee == Decimal("2999.00")
    assert preview.current.monthly_fee == Decimal("999.00")
    # On October's invoice: 2999.00 - 676.74 = 2322.26.
    assert preview.charged_now == Decimal("2322.26")
    assert preview.invoice_month == OCT
    assert preview.target.dau_included == Decimal(10000)

    # The change itself does what the preview said.
    edition_change(application=app, edition_code="ultimate", effective=dt.date(2026, 10, 11))
    cut = PrepaidTerm.objects.get(application=app, item__code="im.edition.pro")
    new = PrepaidTerm.objects.get(application=app, item__code="im.edition.ultimate")
    assert cut.credit_amount == preview.credit
    assert (new.starts_on, new.ends_on, new.amount) == (
        preview.new_term_starts_on,
        preview.new_term_ends_on,
        preview.target.monthly_fee,
    )


def test_downgrade_preview_takes_effect_when_the_term_ends():
    app = app_on("ultimate")  # Ultimate term 1 Oct to 31 Oct

    preview = selectors.edition_change_preview(
        application=app, edition_code="pro", today=dt.date(2026, 10, 20)
    )

    assert not preview.is_upgrade
    assert preview.takes_effect_on == dt.date(2026, 11, 1)  # the day after 31 Oct
    assert (preview.credit, preview.charged_now) == (Decimal(0), Decimal(0))
    assert preview.invoice_month == dt.date(2026, 11, 1)
    assert preview.target.monthly_fee == Decimal("999.00")
    period = edition_change(application=app, edition_code="pro", effective=dt.date(2026, 10, 20))
    assert period.starts_on == preview.takes_effect_on


def test_trial_upgrade_has_no_credit_and_intl_prices_come_from_the_intl_book():
    app = app_on(region="intl")
    preview = selectors.edition_change_preview(
        application=app, edition_code="pro", today=dt.date(2026, 10, 5)
    )
    # Region intl IM price book (SPEC 4.1): Pro 2999 CNY; Trial has no prepaid term.
    assert (preview.credit, preview.charged_now, preview.currency) == (
        Decimal(0),
        Decimal("2999.00"),
        "CNY",
    )
    assert preview.current_term is None


def test_preview_lists_running_addons_not_sold_on_the_target_edition():
    app = app_on("pro")
    addon_subscribe(application=app, item_code="im.addon.avchatroom.pro", day=OCT)
    preview = selectors.edition_change_preview(
        application=app, edition_code="ultimate", today=dt.date(2026, 10, 2)
    )
    assert preview.addons_not_sold_on_target == ["Unlimited live groups (AVChatRoom)"]


@pytest.mark.parametrize(
    ("setup", "target", "code"),
    [
        (None, "trial", "trial_not_allowed"),
        ("pro", "trial", "trial_not_allowed"),
        ("pro", "pro", "unchanged"),
        ("ultimate-then-pro", "pro", "change_pending"),
        (None, "platinum", "invalid"),
    ],
)
def test_preview_refuses_what_the_change_refuses(setup, target, code):
    app = app_on(None if setup in (None, "ultimate-then-pro") else setup)
    if setup == "ultimate-then-pro":
        edition_change(application=app, edition_code="ultimate", effective=OCT)
        edition_change(application=app, edition_code="pro", effective=dt.date(2026, 10, 3))
    day = dt.date(2026, 10, 5)

    with pytest.raises(BillingError) as previewed:
        selectors.edition_change_preview(application=app, edition_code=target, today=day)
    with pytest.raises(BillingError) as changed:
        edition_change(application=app, edition_code=target, effective=day)

    assert previewed.value.code == changed.value.code == code
    assert previewed.value.message == changed.value.message


def test_preview_refuses_a_finalized_month():
    app = app_on("pro")
    close_month(month=OCT)
    with pytest.raises(BillingError) as caught:
        selectors.edition_change_preview(
            application=app, edition_code="ultimate", today=dt.date(2026, 10, 30)
        )
    assert caught.value.code == "period_closed"


# --------------------------------------------------------------------------------------------
# Usage series for the charts
# --------------------------------------------------------------------------------------------


def test_usage_series_measures_each_metric_as_billing_does():
    app = app_on("pro")
    day5, day6 = "2026-10-05T{}+08:00", "2026-10-06T{}+08:00"
    events = [
        # DAU: u1 twice, u2, u3 -> 3 distinct users on 5 Oct; u1 -> 1 on 6 Oct.
        event(app, 1, "im.login", day5.format("09:00:00"), user_id="u1"),
        event(app, 2, "im.login", day5.format("10:00:00"), user_id="u1"),
        event(app, 3, "im.login", day5.format("11:00:00"), user_id="u2"),
        event(app, 4, "im.login", day5.format("12:00:00"), user_id="u3"),
        event(app, 5, "im.login", day6.format("09:00:00"), user_id="u1"),
        # Groups: the highest count reported that day, 80.
        event(app, 6, "im.group_count", day5.format("09:00:00"), 50),
        event(app, 7, "im.group_count", day5.format("12:00:00"), 80),
        event(app, 8, "im.group_count", day5.format("20:00:00"), 70),
        # Audio: 61 + 61 = 122 s a day -> 3 minutes (per event it would be 2 + 2 = 4).
        event(app, 9, "trtc.audio_seconds", day5.format("09:00:00"), 61),
        event(app, 10, "trtc.audio_seconds", day5.format("10:00:00"), 61),
        event(app, 11, "trtc.video_seconds", day5.format("10:00:00"), 30, resolution="hd"),
        # SPEC 4.4 worked example: 10 texts, 10 images, audio 25 s + 135 s in hour 8:
        # 10 x 1 + 10 x 0.65 + 2.5 min x 15 = 10 + 6.5 + 37.5 = 54 units.
        event(app, 14, "im.moderation.text", day5.format("08:10:00"), 10),
        event(app, 15, "im.moderation.image", day5.format("08:11:00"), 10),
        event(app, 16, "im.moderation.audio_seconds", day5.format("08:12:00"), 25),
        event(app, 17, "im.moderation.audio_seconds", day5.format("08:18:00"), 135),
        # Video: 29 s in hour 9 counts nothing; 31 s in hour 10 is 0.5 min x 56 = 28 units.
        event(app, 18, "im.moderation.video_seconds", day5.format("09:00:00"), 29),
        event(app, 19, "im.moderation.video_seconds", day5.format("10:00:00"), 31),
        # Today (7 Oct) is still running and not charted.
        event(app, 20, "im.login", "2026-10-07T09:00:00+08:00", user_id="u9"),
    ]
    usage_events_ingest(
        events=events, caller=SYSTEM, now=dt.datetime.fromisoformat("2026-10-07T12:00:00+08:00")
    )

    usage = selectors.usage_series(application=app, days=30, today=dt.date(2026, 10, 7))

    assert len(usage.days) == 30
    assert (usage.days[0], usage.days[-1]) == (dt.date(2026, 9, 7), dt.date(2026, 10, 6))
    charts = {chart.key: chart for chart in usage.charts}
    # Conversational AI and speech-to-text are sold in region intl only (SPEC 4.6).
    assert list(charts) == ["dau", "groups", "trtc_minutes", "moderation"]

    def series(key):
        return {s.label: s.values[-2:] for s in charts[key].series}

    assert series("dau") == {"DAU": [3, 1]}
    assert series("groups") == {"Groups": [80, None]}
    assert series("trtc_minutes") == {"TRTC audio": [3, 0], "TRTC video HD": [1, 0]}
    assert series("moderation") == {
        "Text": [10, 0],
        "Images": [Decimal("6.5"), 0],
        "Audio": [Decimal("37.5"), 0],
        "Video": [28, 0],
    }
    assert charts["dau"].series[0].peak == 3
    assert sum(s.total for s in charts["moderation"].series) == Decimal("82")  # 54 + 28

    week = usage.window(7)
    assert len(week.days) == 7 and len(week.charts[0].series[0].values) == 7


def test_usage_series_of_an_intl_application_charts_ai_and_speech_to_text():
    app = app_on(region="intl")
    usage_events_ingest(
        events=[
            event(app, 1, "trtc.ai_seconds", "2026-10-06T10:00:00+08:00", 90),  # 2 minutes
            event(app, 2, "trtc.ai_seconds", "2026-10-06T11:00:00+08:00", 30),  # 120 s: 2
            event(app, 3, "trtc.stt_seconds", "2026-10-06T10:00:00+08:00", 59),  # 1 minute
            event(app, 4, "trtc.video_seconds", "2026-10-06T10:00:00+08:00", 600, resolution="4k"),
        ],
        caller=SYSTEM,
        now=dt.datetime.fromisoformat("2026-10-07T12:00:00+08:00"),
    )
    usage = selectors.usage_series(application=app, days=30, today=dt.date(2026, 10, 7))
    charts = {chart.key: chart for chart in usage.charts}
    # No moderation in the intl price book: no moderation chart.
    assert list(charts) == ["dau", "groups", "trtc_minutes", "ai_stt"]
    assert {s.label: s.values[-1] for s in charts["ai_stt"].series} == {
        "Conversational AI": 2,  # 90 + 30 = 120 s
        "Speech-to-text": 1,
    }
    # Audio always has its series; video only the categories used: 600 s of 4K = 10 min.
    assert {s.label: s.values[-1] for s in charts["trtc_minutes"].series} == {
        "TRTC audio": 0,
        "TRTC video 4K": 10,
    }
    assert not charts["dau"].has_data and charts["ai_stt"].has_data


# --------------------------------------------------------------------------------------------
# Free minutes and packs left, dashboard
# --------------------------------------------------------------------------------------------


def test_free_minutes_and_pack_units_left_after_a_rated_day():
    app = app_on("pro")
    pack = resource_pack_purchase(application=app, item_code="im.moderation_pack.monthly", day=OCT)
    usage_events_ingest(
        events=[
            # 90,000 s = 1,500 minutes of audio, taken from the 10,000 free minutes.
            event(app, 1, "trtc.audio_seconds", "2026-10-03T10:00:00+08:00", 90000),
            # 100 texts = 100 units, taken from the 1,100,000-unit pack.
            event(app, 2, "im.moderation.text", "2026-10-03T10:00:00+08:00", 100),
        ],
        caller=SYSTEM,
        now=dt.datetime.fromisoformat("2026-10-04T12:00:00+08:00"),
    )
    bill_day(day=dt.date(2026, 10, 3))

    allowance = selectors.allowances_left(applications=[app], today=dt.date(2026, 10, 4))[app.pk]
    assert (allowance.included, allowance.used, allowance.left) == (10000, 1500, 8500)
    assert allowance.rated_through == dt.date(2026, 10, 3)
    [left] = selectors.packs_left(applications=[app], today=dt.date(2026, 10, 4))[app.pk]
    assert left.pack == pack
    assert (left.used, left.left) == (100, 1099900)  # 1,100,000 - 100

    # The allowance is monthly: nothing used yet in November; the pack ended on 31 Oct.
    november = selectors.allowances_left(applications=[app], today=dt.date(2026, 11, 2))
    assert november[app.pk].left == 10000
    assert selectors.packs_left(applications=[app], today=dt.date(2026, 11, 2)) == {}


def test_dashboard_shows_only_the_users_accounts_with_month_to_date_per_application():
    mine = app_on("pro", email="mine@example.com")  # Pro term 999.00 in October
    second = application_create(account=mine.account, name="second", region="cn", created_on=OCT)
    resource_pack_purchase(application=second, item_code="im.moderation_pack.monthly", day=OCT)
    app_on("ultimate", email="other@example.com")  # another account: never shown
    user = mine.account.memberships.get().user

    [summary] = selectors.dashboard_for_user(user=user, today=dt.date(2026, 10, 10))

    assert summary.account == mine.account and summary.role == "Owner"
    rows = {row.application.name: row for row in summary.applications}
    assert rows["chat"].month_to_date == {"CNY": Decimal("999.00")}
    assert rows["chat"].edition.code == "pro"
    assert rows["second"].month_to_date == {"CNY": Decimal("1050.00")}  # the pack's price
    assert rows["second"].edition.code == "trial"
    [left] = rows["second"].packs
    assert left.left == 1100000
    [estimate] = summary.month_to_date
    assert estimate.total == Decimal("2049.00")  # 999 + 1050


# --------------------------------------------------------------------------------------------
# Invoices
# --------------------------------------------------------------------------------------------


@pytest.fixture
def october_invoice():
    app = app_on("pro")
    addon_subscribe(application=app, item_code="im.addon.avchatroom.pro", day=OCT)
    close_month(month=OCT)
    return Invoice.objects.get(account=app.account, month=OCT)


def test_invoice_detail_lines_credit_notes_payments_and_amount_due(october_invoice):
    invoice = october_invoice
    CreditNoteFactory(invoice=invoice, amount=Decimal("100.00"))
    PaymentFactory(account=invoice.account, invoice=invoice, amount=Decimal("500.00"))
    PaymentFactory(account=invoice.account, amount=Decimal("50.00"))  # not for this invoice

    detail = invoice_document(invoice=invoice)

    assert detail.title == f"Invoice {invoice.number}"
    assert [line.amount for line in detail.lines] == [Decimal("999.00"), Decimal("1000.00")]
    assert invoice.total == Decimal("1999.00")  # 999 Pro + 1000 AVChatRoom
    assert (detail.credited, detail.paid) == (Decimal("100.00"), Decimal("500.00"))
    assert detail.amount_due == Decimal("1399.00")  # 1999 - 100 - 500
    assert detail.bill_to["name"] == invoice.account.name

    listed = selectors.invoices_for_user(user=invoice.account.memberships.get().user).get()
    assert (listed.credited, listed.paid) == (Decimal("100.00"), Decimal("500.00"))


@pytest.mark.parametrize("state", list(Invoice.State))
def test_amount_due_follows_invoice_amount_due_in_every_state(october_invoice, state):
    invoice = october_invoice
    CreditNoteFactory(invoice=invoice, amount=Decimal("100.00"))
    PaymentFactory(account=invoice.account, invoice=invoice, amount=Decimal("500.00"))
    invoice.state = state  # in memory only: the rule reads the state

    expected = {"draft": 0, "void": 0}.get(state, Decimal("1399.00"))  # 1999 - 100 - 500
    assert selectors.invoice_amount_due(invoice) == expected
    assert (
        selectors.amount_due(invoice, credited=Decimal("100.00"), paid=Decimal("500.00"))
        == expected
    )
    # More credited and paid than the total never shows a negative amount due.
    if state == "finalized":
        assert selectors.amount_due(invoice, credited=Decimal(2000), paid=Decimal(0)) == 0

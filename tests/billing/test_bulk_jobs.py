"""The chunk-shaped jobs (issue 7) against the behaviour they replaced: renewals made together
equal renewals made one application at a time, the COPY path stores what the ORM path
stores, chunks keep whole accounts within their bounds, and a draft that did not change is
left as it was."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import transaction

from accounts.services import account_create
from billing.models import (
    AddOnSubscription,
    Application,
    Charge,
    ChargeCoverage,
    Invoice,
    InvoiceLine,
    PrepaidTerm,
    ResourcePack,
)
from billing.services import bulk
from billing.services.applications import (
    addon_cancel,
    addon_subscribe,
    application_create,
    edition_change,
    resource_pack_purchase,
    terms_renew,
    terms_renew_bulk,
)
from billing.services.ingestion import SYSTEM, usage_events_ingest
from billing.services.jobs import account_chunks, bill_day, close_month
from tests.factories import AccountFactory, ApplicationFactory

pytestmark = pytest.mark.django_db

OCT_1 = dt.date(2026, 10, 1)
ONE_DAY = dt.timedelta(days=1)


def _ids_out(text: str) -> str:
    """Explanations name packs by id; two runs number them differently."""
    return re.sub(r"#\d+", "#_", text)


def terms_snapshot() -> list[tuple]:
    terms = PrepaidTerm.objects.values_list(
        "application__name", "item__code", "subscription__item__code", "anchor_date",
        "term_index", "starts_on", "ends_on", "currency", "amount", "cut_on",
    )  # fmt: skip
    packs = ResourcePack.objects.values_list(
        "application__name", "item__code", "units_total", "valid_from", "valid_until",
        "amount", "term__starts_on",
    )  # fmt: skip
    return sorted(terms) + sorted(packs)


def billing_snapshot() -> dict:
    charges = Charge.objects.values_list(
        "application__name", "item__code", "day", "period", "quantity", "covered_quantity",
        "billable_quantity", "unit_price", "amount", "currency", "details", "explanation",
    )  # fmt: skip
    coverages = ChargeCoverage.objects.values_list(
        "charge__application__name", "charge__item__code", "charge__day", "source",
        "pack__item__code", "usage_quantity", "units_used",
    )  # fmt: skip
    lines = InvoiceLine.objects.values_list(
        "invoice__account__name", "invoice__currency", "invoice__month", "kind", "description",
        "quantity", "unit_price", "exact_amount", "amount", "sort_key",
    )  # fmt: skip
    invoices = Invoice.objects.values_list("account__name", "currency", "month", "state", "total")
    return {
        "charges": sorted((*c[:-2], _ids_out(repr(c[-2])), _ids_out(c[-1])) for c in charges),
        "coverages": sorted(coverages, key=str),
        "lines": sorted((*line[:4], _ids_out(line[4]), *line[5:]) for line in lines),
        "invoices": sorted(invoices),
        "terms": terms_snapshot(),
    }


def rolled_back(run) -> object:
    """What ``run()`` leaves, then nothing of it."""
    with transaction.atomic():
        result = run()
        transaction.set_rollback(True)
    return result


# --------------------------------------------------------------------------------------------
# Renewals
# --------------------------------------------------------------------------------------------


@pytest.fixture
def subscribers():
    """Applications whose prepaid terms renew on every kind of anchor: the 31st (clamped to
    short months), mid-month, add-ons bought later, one cancelled, call minutes with their
    packs, local moderation on Trial, and a suspended application that must not renew."""
    account = account_create(name="Renewals Co", email="renew@example.com")
    start = dt.date(2026, 1, 2)

    def app(name, region="cn"):
        return application_create(account=account, name=name, region=region, created_on=start)

    end_of_month = app("end-of-month")
    edition_change(application=end_of_month, edition_code="pro", effective=dt.date(2026, 1, 31))
    middle = app("middle", "intl")
    edition_change(application=middle, edition_code="ultimate", effective=dt.date(2026, 1, 15))
    addon_subscribe(
        application=middle, item_code="im.addon.group_members.ultimate", day=dt.date(2026, 2, 3)
    )
    calls = app("calls")
    edition_change(application=calls, edition_code="pro", effective=dt.date(2026, 1, 10))
    addon_subscribe(application=calls, item_code="im.addon.calls.basic", day=dt.date(2026, 1, 30))
    cancelled = addon_subscribe(
        application=calls, item_code="im.addon.avchatroom.pro", day=dt.date(2026, 1, 12)
    )
    addon_cancel(subscription=cancelled, day=dt.date(2026, 2, 20))
    trial = app("trial")
    addon_subscribe(application=trial, item_code="im.addon.local_moderation", day=start)
    suspended = app("suspended")
    edition_change(application=suspended, edition_code="pro", effective=dt.date(2026, 1, 5))
    Application.objects.filter(pk=suspended.pk).update(status=Application.Status.SUSPENDED)
    assert AddOnSubscription.objects.filter(ends_on__isnull=False).count() == 1
    return list(Application.objects.filter(account=account).order_by("pk"))


def test_renewals_made_together_equal_renewals_made_one_by_one(subscribers):
    days = [dt.date(2026, 1, 31) + ONE_DAY * n for n in range(0, 120)]

    def one_by_one():
        for day in days:
            for application in Application.objects.filter(pk__in=[a.pk for a in subscribers]):
                terms_renew(application=application, day=day)
        return terms_snapshot()

    def together():
        for day in days:
            applications = list(Application.objects.filter(pk__in=[a.pk for a in subscribers]))
            terms_renew_bulk(applications=applications, day=day)
        return terms_snapshot()

    expected = rolled_back(one_by_one)
    assert rolled_back(together) == expected
    # The renewals happened: Pro anchored on 31 Jan renews on 28 Feb, 31 Mar and 30 Apr (the
    # days end on 30 May, the day before the next term).
    pro_starts = [t[5] for t in expected if t[0] == "end-of-month" and t[1] == "im.edition.pro"]
    assert pro_starts == [
        dt.date(2026, 1, 31),
        dt.date(2026, 2, 28),
        dt.date(2026, 3, 31),
        dt.date(2026, 4, 30),
    ]
    # The cancelled add-on stopped after the term running on the day it was cancelled
    # (12 Feb - 11 Mar); the suspended application renewed nothing after its first term.
    avchatroom = [t[5] for t in expected if t[1] == "im.addon.avchatroom.pro"]
    assert avchatroom == [dt.date(2026, 1, 12), dt.date(2026, 2, 12)]
    assert [t[5] for t in expected if t[0] == "suspended"] == [dt.date(2026, 1, 5)]


def test_a_missed_renewal_is_caught_up_either_way(subscribers):
    # No daily run for two months: one call on 1 April creates every term due since.
    day = dt.date(2026, 4, 1)

    def one_by_one():
        for application in subscribers:
            terms_renew(application=application, day=day)
        return terms_snapshot()

    def together():
        terms_renew_bulk(applications=subscribers, day=day)
        return terms_snapshot()

    assert rolled_back(together) == rolled_back(one_by_one)


# --------------------------------------------------------------------------------------------
# COPY and the ORM store the same rows
# --------------------------------------------------------------------------------------------


def _event(app, event_id, metric, timestamp, value, **properties):
    return {
        "id": event_id,
        "application": app.sdkappid,
        "metric": metric,
        "timestamp": timestamp,
        "value": value,
        "properties": properties,
    }


@pytest.fixture
def busy_month():
    """Two accounts, both regions, packs and the free allowance in play over three days, a
    Pro application with IM overage, and postpaid message history."""
    first = account_create(name="First Co", email="first@example.com")
    second = account_create(name="Second Co", email="second@example.com")
    chat = application_create(account=first, name="chat", region="cn", created_on=OCT_1)
    edition_change(application=chat, edition_code="pro", effective=dt.date(2026, 10, 2))
    addon_subscribe(application=chat, item_code="im.addon.calls.basic", day=dt.date(2026, 10, 2))
    addon_subscribe(
        application=chat, item_code="im.addon.message_history.pro.30d", day=dt.date(2026, 10, 5)
    )
    resource_pack_purchase(
        application=chat, item_code="im.moderation_pack.monthly", day=dt.date(2026, 10, 2)
    )
    agent = application_create(account=second, name="agent", region="intl", created_on=OCT_1)
    events = []
    for day in (10, 11, 12):
        ts = f"2026-10-{day}T09:15:00+08:00"
        events += [
            _event(chat, f"t{day}", "im.moderation.text", ts, 400_000),
            _event(chat, f"a{day}", "im.moderation.audio_seconds", ts, 95),
            _event(chat, f"v{day}", "trtc.video_seconds", ts, 2_000_000, resolution="hd"),
            _event(chat, f"s{day}", "trtc.audio_seconds", ts, 900_000),
            _event(agent, f"ai{day}", "trtc.ai_seconds", ts, 400_000),
            _event(agent, f"au{day}", "trtc.audio_seconds", ts, 300_000),
            _event(agent, f"st{day}", "trtc.stt_seconds", ts, 1_234),
        ]
        events += [
            _event(chat, f"l{day}-{n}", "im.login", ts, 1, user_id=f"u{n}") for n in range(30)
        ]
    usage_events_ingest(events=events, caller=SYSTEM)


def _rate_and_close():
    for day in (10, 11, 12):
        bill_day(day=dt.date(2026, 10, day))
    # A late event re-rates the 11th and the days after it.
    app = Application.objects.get(name="chat")
    late = _event(app, "late", "im.moderation.text", "2026-10-11T23:00:00+08:00", 77)
    usage_events_ingest(events=[late], caller=SYSTEM)
    bill_day(day=dt.date(2026, 10, 13))
    close_month(month=OCT_1)
    return billing_snapshot()


def test_copy_and_the_orm_store_the_same_charges_lines_and_terms(busy_month, monkeypatch):
    with_copy = rolled_back(_rate_and_close)
    monkeypatch.setattr(bulk, "COPY_ENABLED", False)
    without_copy = rolled_back(_rate_and_close)

    assert with_copy == without_copy
    # The run did real work: packs and allowance covered part of the usage, the invoices are
    # issued, and pack coverage is named in the explanations.
    assert any(c[3] == "pack" for c in with_copy["coverages"])
    assert any(c[3] == "allowance" for c in with_copy["coverages"])
    assert {i[3] for i in with_copy["invoices"]} <= {"finalized", "paid"}
    assert any("pack #_" in c[-1] for c in with_copy["charges"])


def test_rerating_an_unchanged_day_rewrites_no_charge_and_no_line(busy_month):
    bill_day(day=dt.date(2026, 10, 10))
    charges = list(Charge.objects.order_by("pk").values_list("pk", "rated_at"))
    lines = list(InvoiceLine.objects.order_by("pk").values_list("pk", "amount"))

    assert bill_day(day=dt.date(2026, 10, 10)).summary["charges_written"] == 0

    assert list(Charge.objects.order_by("pk").values_list("pk", "rated_at")) == charges
    assert list(InvoiceLine.objects.order_by("pk").values_list("pk", "amount")) == lines


# --------------------------------------------------------------------------------------------
# Chunks
# --------------------------------------------------------------------------------------------


def test_chunks_hold_whole_accounts_within_both_bounds(settings):
    settings.BILLING_CHUNK_ACCOUNTS = 3
    settings.BILLING_CHUNK_APPLICATIONS = 10
    sizes = [1, 4, 4, 2, 12, 1, 1, 1, 1, 3]
    accounts = []
    for size in sizes:
        account = AccountFactory()
        ApplicationFactory.create_batch(size, account=account)
        accounts.append(account.pk)
    applications_of = dict(zip(accounts, sizes, strict=True))

    chunks = account_chunks()

    assert [a for chunk in chunks for a in chunk] == sorted(accounts)  # each account once
    for chunk in chunks:
        held = sum(applications_of[a] for a in chunk)
        assert len(chunk) <= 3
        assert held <= 10 or len(chunk) == 1  # 12 applications: an account alone
    # 1+4+4 | 2 | 12 | 1+1+1 | 1+3
    assert [len(chunk) for chunk in chunks] == [3, 1, 1, 3, 2]


# --------------------------------------------------------------------------------------------
# Ingestion
# --------------------------------------------------------------------------------------------


def test_batches_in_one_transaction_store_only_their_own_events():
    account = account_create(name="Batch Co", email="batch@example.com")
    app = application_create(account=account, name="b", region="cn", created_on=OCT_1)
    ts = "2026-10-10T10:00:00+08:00"
    with transaction.atomic():
        first = usage_events_ingest(
            events=[_event(app, "one", "im.moderation.text", ts, 1)], caller=SYSTEM
        )
        app.usageevent_set.filter(event_id="one").delete()
        second = usage_events_ingest(
            events=[_event(app, "two", "im.moderation.text", ts, 2)], caller=SYSTEM
        )
        again = usage_events_ingest(
            events=[_event(app, "two", "im.moderation.text", ts, 2)], caller=SYSTEM
        )
        stored = sorted(app.usageevent_set.values_list("event_id", "value"))
    assert (first.accepted, second.accepted) == (1, 1)
    assert (again.accepted, again.duplicates) == (0, 1)
    # The first batch's row, deleted in between, did not come back with the second batch.
    assert stored == [("two", Decimal(2))]

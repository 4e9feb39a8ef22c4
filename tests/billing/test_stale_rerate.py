"""Re-rating the days late events made stale, right away (billing.services.rating
.stale_days_rerate, run by the task the API enqueues after commit; SPEC 7)."""

import datetime as dt
from decimal import Decimal

import pytest

from billing.models import Charge, Invoice, RatedDay
from billing.services.closing import invoice_finalize
from billing.services.ingestion import SYSTEM, usage_events_ingest
from billing.services.rating import rate_accounts_day, stale_days_rerate
from billing.tasks import rerate_stale_days
from tests.factories import ApplicationFactory, EditionPeriodFactory

pytestmark = pytest.mark.django_db
MARCH_10 = dt.date(2025, 3, 10)


def audio(app, event_id, seconds, day=10):
    return {
        "id": event_id,
        "application": app.sdkappid,
        "metric": "trtc.audio_seconds",
        "timestamp": f"2025-03-{day:02d}T12:00:00+08:00",
        "value": seconds,
    }


@pytest.fixture
def app():
    application = ApplicationFactory()
    EditionPeriodFactory(application=application)  # Trial from 1 Mar 2025
    return application


@pytest.fixture
def stale_day(app):
    """10 and 11 March rated (120 s and 60 s of audio), then 180 s more of 10 March late."""
    usage_events_ingest(events=[audio(app, "a", 120), audio(app, "b", 60, day=11)], caller=SYSTEM)
    for day in (MARCH_10, MARCH_10 + dt.timedelta(days=1)):
        rate_accounts_day(account_ids=[app.account_id], day=day)
    result = usage_events_ingest(events=[audio(app, "late", 180)], caller=SYSTEM)
    assert result.restaled_days == {(app.pk, MARCH_10)}
    return MARCH_10


def test_the_stale_day_and_the_days_after_it_are_rated_again(app, stale_day):
    result = stale_days_rerate(application_ids=[app.pk])

    # 10 March: (120 + 180) / 60 = 5 minutes; 11 March follows it (the allowance runs on)
    assert result.days_rated == 2
    charge = Charge.objects.get(application=app, item__code="trtc.audio", day=MARCH_10)
    assert charge.quantity == Decimal("5")
    assert set(RatedDay.objects.values_list("state", flat=True)) == {RatedDay.State.RATED}


def test_a_second_run_finds_nothing_to_do(app, stale_day):
    stale_days_rerate(application_ids=[app.pk])

    assert stale_days_rerate(application_ids=[app.pk]).days_rated == 0


def test_a_stale_day_in_an_issued_month_is_left_alone(app, stale_day):
    # given March issued (finalizing rates its stale days), and a day of it stale again
    invoice_finalize(invoice=Invoice.objects.get(account=app.account, month=dt.date(2025, 3, 1)))
    RatedDay.objects.filter(day=MARCH_10).update(state=RatedDay.State.STALE)
    charges_before = list(Charge.objects.values_list("id", "quantity", "amount"))

    result = stale_days_rerate(application_ids=[app.pk])

    # then nothing of an issued month is rated again (SPEC 6: it never changes)
    assert result.days_rated == 0
    assert list(Charge.objects.values_list("id", "quantity", "amount")) == charges_before


def test_the_task_takes_ids_and_reports_what_it_did(app, stale_day):
    summary = rerate_stale_days.apply(args=[[app.pk]]).get()

    assert summary["days_rated"] == 2

"""Properties of the whole pipeline (ingestion, daily job, invoices), with hypothesis:
the same events split into any batches, in any order, give the same charges; rerunning the
job changes nothing; every invoice total is the sum of its rounded lines."""

import datetime as dt

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.services import account_create
from billing.models import Charge, Invoice
from billing.services.applications import application_create
from billing.services.ingestion import SYSTEM, usage_events_ingest
from billing.services.jobs import bill_day

pytestmark = pytest.mark.django_db

DAYS = [dt.date(2026, 10, 10), dt.date(2026, 10, 11)]
METRICS = {
    "cn": ["im.moderation.text", "im.moderation.audio_seconds", "trtc.audio_seconds"],
    "intl": ["trtc.audio_seconds", "trtc.ai_seconds", "trtc.stt_seconds"],
}


@pytest.fixture
def apps():
    account = account_create(name="Prop Co", email="prop@example.com")
    return [
        application_create(
            account=account, name=region, region=region, created_on=dt.date(2026, 10, 1)
        )
        for region in ("cn", "intl")
    ]


def event_strategy(apps):
    def build(n, app_index, metric_index, day_index, hour, minute, value):
        app = apps[app_index]
        metric = METRICS[app.region][metric_index]
        day = DAYS[day_index]
        return {
            "id": f"e{n}",
            "application": app.sdkappid,
            "metric": metric,
            "timestamp": f"{day}T{hour:02d}:{minute:02d}:00+08:00",
            "value": value,
        }

    return st.lists(
        st.tuples(
            st.integers(0, 1),
            st.integers(0, 2),
            st.integers(0, 1),
            st.integers(0, 23),
            st.integers(0, 59),
            st.integers(0, 400_000),
        ),
        min_size=1,
        max_size=30,
    ).map(lambda rows: [build(n, *row) for n, row in enumerate(rows)])


def outcome():
    charges = sorted(
        Charge.objects.values_list(
            "application__name", "item__code", "day", "quantity", "covered_quantity", "amount"
        )
    )
    invoices = sorted(Invoice.objects.values_list("currency", "total"))
    return charges, invoices


def run(events, batch_sizes):
    """Ingest ``events`` in batches of the given sizes, rate both days, return the outcome;
    everything is rolled back afterwards."""
    with transaction.atomic():
        start, sizes = 0, iter(batch_sizes)
        while start < len(events):
            size = next(sizes, len(events))
            usage_events_ingest(events=events[start : start + size], caller=SYSTEM)
            start += size
        for day in DAYS:
            bill_day(day=day)
        result = outcome()
        for invoice in Invoice.objects.all():
            lines = list(invoice.lines.values_list("amount", flat=True))
            assert invoice.total == sum(lines)  # the total is the sum of its rounded lines
        # Rerunning the job changes nothing.
        for day in DAYS:
            assert bill_day(day=day).summary["charges_written"] == 0
        assert outcome() == result
        transaction.set_rollback(True)
    return result


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_batching_and_order_gives_the_same_charges(apps, data):
    events = data.draw(event_strategy(apps))
    baseline = run(events, [len(events)])
    shuffled = data.draw(st.permutations(events))
    sizes = data.draw(st.lists(st.integers(1, 5), max_size=30))
    # Duplicates sent again in another batch are counted once.
    resent = shuffled + data.draw(st.lists(st.sampled_from(events), max_size=5))
    assert run(resent, sizes) == baseline

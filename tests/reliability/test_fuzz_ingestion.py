"""Property-based fuzzing of the ingestion service: whatever a client sends, the answer is
either a result whose counts add up or a rejection whose every error names an index and a
field; nothing else escapes (which the API would turn into a 500), and a rejected batch
stores nothing."""

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.services import account_create
from billing.models import Metric, UsageEvent
from billing.services.applications import application_create
from billing.services.ingestion import SYSTEM, IngestionRejected, usage_events_ingest

pytestmark = pytest.mark.django_db

SDKAPPID = {}

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
numbers_as_text = st.sampled_from(
    ["1", "1e999999", "-5", "0", "NaN", "Infinity", "1" * 40, "0.000000001", " 7 ", "1e-999999"]
)
timestamps = st.datetimes(
    min_value=dt.datetime(1, 1, 2),  # noqa: DTZ001 (hypothesis takes naive bounds)
    max_value=dt.datetime(9999, 12, 30),  # noqa: DTZ001
    timezones=st.timezones(),
).map(lambda d: d.isoformat())


def events(sdkappid):
    return st.fixed_dictionaries(
        {},
        optional={
            "id": st.text(max_size=300) | json_values,
            "application": st.just(sdkappid)
            | st.integers(min_value=-(2**70), max_value=2**70)
            | json_values,
            "metric": st.sampled_from(list(Metric.values)) | st.text(max_size=50),
            "timestamp": timestamps
            | st.sampled_from(["2026-10-10T10:00:00+08:00", "2026-10-10T10:00:00", ""])
            | json_values,
            "value": numbers_as_text | scalars,
            "properties": st.dictionaries(
                st.sampled_from(["user", "resolution", "x"]), json_values, max_size=3
            )
            | json_values,
        },
    )


@pytest.fixture
def sdkappid():
    account = account_create(name="Fuzz Co", email="fuzz@example.com")
    app = application_create(
        account=account, name="fuzz", region="cn", created_on=dt.date(2020, 1, 1)
    )
    return app.sdkappid


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_ingestion_never_fails_other_than_by_a_named_rejection(sdkappid, data):
    batch = data.draw(st.lists(events(sdkappid) | json_values, max_size=6) | json_values)
    before = UsageEvent.objects.count()
    try:
        result = usage_events_ingest(events=batch, caller=SYSTEM)
    except IngestionRejected as rejected:
        assert rejected.errors
        for error in rejected.errors:
            # The field named: an unknown key is named as sent, even when it is "".
            assert error.field or error.code == "unknown_field"
            assert error.code and error.message
            size = len(batch) if isinstance(batch, list) else 0
            assert error.index == -1 or 0 <= error.index < size
        assert UsageEvent.objects.count() == before  # nothing half written
    else:
        assert result.accepted + result.duplicates == len(batch)
        assert UsageEvent.objects.count() == before + result.accepted

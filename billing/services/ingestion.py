"""Usage ingestion (SPEC 7): a batch of events is validated whole, then written in one
transaction with one multi-row ``INSERT ... ON CONFLICT DO NOTHING RETURNING``.

- The same (application, id) with the same content is a duplicate: accepted, counted once.
- The same id with different content is a conflict: nothing of the batch is stored.
- An event for a day already rated, in a month still draft, marks that day stale so the
  rating job rates it again (nothing is counted twice: charges are replaced, not added).
"""

import datetime as dt
import itertools
import math
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import TextField
from django.db.models.functions import Cast
from django.utils import timezone

from billing.calendar import billing_tz, month_end, month_start
from billing.locks import applications_lock
from billing.models import Application, Invoice, Metric, PriceEntry, RatedDay, UsageEvent
from billing.parsing import (
    ParseError,
    json_depth,
    json_dumps_exact,
    json_loads_exact,
    parse_decimal,
    parse_timestamp,
)
from notifications import outbox

MAX_BATCH = 1000
MAX_EVENT_ID = 255
MAX_FUTURE = dt.timedelta(minutes=5)
VALUE_PLACES = Decimal("0.000001")
MAX_VALUE = Decimal("1e17")
VIDEO_RESOLUTIONS = ("sd", "hd", "fhd", "2k", "4k")
# Limits of one event's properties (README, "REST API"; SPEC 7): far above what the metrics
# need (a user id, a resolution), far below what would bloat the usage table.
MAX_PROPERTIES_BYTES = 4096  # its JSON text, UTF-8
MAX_PROPERTIES_DEPTH = 4  # {"a": {"b": [..]}} is 3
MAX_PROPERTIES_KEYS = 64  # keys at every level together
MAX_PROPERTIES_EXPONENT = 1000  # jsonb holds numbers up to about 1e131071, not every 1eN

# Which price-book item must exist in the application's region for a metric to be accepted.
METRIC_ITEM = {
    Metric.IM_LOGIN: "im.overage.dau.pro",
    Metric.IM_GROUP_COUNT: "im.overage.groups.pro",
    Metric.IM_MODERATION_TEXT: "im.moderation.text",
    Metric.IM_MODERATION_IMAGE: "im.moderation.image",
    Metric.IM_MODERATION_AUDIO_SECONDS: "im.moderation.audio",
    Metric.IM_MODERATION_VIDEO_SECONDS: "im.moderation.video",
    Metric.TRTC_AUDIO_SECONDS: "trtc.audio",
    Metric.TRTC_AI_SECONDS: "trtc.ai",
    Metric.TRTC_STT_SECONDS: "trtc.stt",
}
VIDEO_ITEM = {resolution: f"trtc.video.{resolution}" for resolution in VIDEO_RESOLUTIONS}
METRICS = frozenset(Metric.values)
EVENT_FIELDS = frozenset({"id", "application", "metric", "timestamp", "value", "properties"})


@dataclass(frozen=True)
class EventError:
    index: int
    field: str
    code: str
    message: str

    def as_dict(self) -> dict:
        return {
            "index": self.index,
            "field": self.field,
            "code": self.code,
            "message": self.message,
        }


class _ApplicationRow(NamedTuple):
    """What validation needs of an application (no model instance per event's app)."""

    pk: int
    sdkappid: int
    account_id: int
    region: str
    created_at: dt.datetime


class IngestionRejected(Exception):
    """The batch was refused; nothing was stored. ``conflict`` is true when the only reason
    is ids already stored with other content (HTTP 409)."""

    def __init__(self, errors: Sequence[EventError], *, conflict: bool = False):
        super().__init__(f"{len(errors)} invalid event(s)")
        self.errors = list(errors)
        self.conflict = conflict

    @property
    def period_closed(self) -> bool:
        return any(error.code == "period_closed" for error in self.errors)


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    # Of the accepted: events of a finalized month within the late-usage window (SPEC 7).
    late: int = 0
    # (account id, month) of those late events, for their restatements (SPEC 6).
    late_months: set = field(default_factory=set)
    restaled_days: set = field(default_factory=set)


@dataclass(frozen=True)
class Caller:
    """Who reports: an account (its own applications) or a platform service (any)."""

    account_id: int | None = None
    is_service: bool = False

    def may_report_for(self, application) -> bool:
        return self.is_service or application.account_id == self.account_id


SYSTEM = Caller(is_service=True)


class _Clean(NamedTuple):
    application_id: int
    event_id: str
    metric: str
    timestamp: dt.datetime
    billing_day: dt.date
    value: Decimal
    dimension: str
    properties: dict

    def same_content(self, row: dict) -> bool:
        return (
            row["metric"] == self.metric
            and row["timestamp"] == self.timestamp
            and Decimal(row["value"]) == self.value
            and json_loads_exact(row["properties_text"]) == self.properties
        )


def _parse_value(raw) -> Decimal:
    """The event's value: a JSON number or a decimal string, by the one strict parser
    (billing.parsing: ASCII digits, no spaces, underscores or exponent in text)."""
    if raw is None:
        return Decimal(1)
    if isinstance(raw, float):  # a caller inside Python (JSON bodies decode to Decimal)
        if not math.isfinite(raw):
            raise ParseError("value must be a finite decimal number.")
        raw = Decimal(repr(raw)) if "e" not in repr(raw) else raw
    if isinstance(raw, str) and raw.startswith("-"):
        raise ParseError("value must not be negative.", "negative")
    if isinstance(raw, Decimal) and raw.is_finite() and raw < 0:
        raise ParseError("value must not be negative.", "negative")
    if isinstance(raw, int) and not isinstance(raw, bool) and raw < 0:
        raise ParseError("value must not be negative.", "negative")
    try:
        return parse_decimal(raw, max_places=6, max_integer_digits=17)
    except ParseError as exc:
        if exc.code in ("precision", "too_large"):
            raise ParseError(
                "value has more than 6 decimal places or is too large.", "invalid"
            ) from None
        raise


def _properties_problem(properties: dict) -> tuple[str, str] | None:
    """(code, message) when ``properties`` passes a documented limit (README, "REST API"):
    its JSON at most MAX_PROPERTIES_BYTES, nesting at most MAX_PROPERTIES_DEPTH, at most
    MAX_PROPERTIES_KEYS keys in all; numbers with an exponent PostgreSQL's jsonb can hold."""
    depth = json_depth(properties, stop_at=MAX_PROPERTIES_DEPTH)
    if depth > MAX_PROPERTIES_DEPTH:
        return "too_deep", f"properties nests deeper than {MAX_PROPERTIES_DEPTH} levels."
    keys = 0
    stack = [properties]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            keys += len(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, Decimal) and item.is_finite() and item:
            if abs(item.adjusted()) > MAX_PROPERTIES_EXPONENT:
                return "invalid", (
                    f"properties holds a number beyond 1e{MAX_PROPERTIES_EXPONENT} or below "
                    f"1e-{MAX_PROPERTIES_EXPONENT}."
                )
        elif isinstance(item, float) and not math.isfinite(item):
            return "invalid", "properties holds a number that is not finite."
    if keys > MAX_PROPERTIES_KEYS:
        return "too_many_keys", f"properties has more than {MAX_PROPERTIES_KEYS} keys."
    if len(json_dumps_exact(properties).encode()) > MAX_PROPERTIES_BYTES:
        return "too_large", f"properties is larger than {MAX_PROPERTIES_BYTES} bytes as JSON."
    return None


class _Validator:
    """Validates a batch against the database in a fixed number of queries."""

    def __init__(self, events: Sequence, caller: Caller, now: dt.datetime):
        self.events = events
        self.caller = caller
        self.now = now
        self.errors: list[EventError] = []
        sdkappids = {
            e.get("application")
            for e in events
            if isinstance(e, dict)
            and isinstance(e.get("application"), int)
            and not isinstance(e.get("application"), bool)
            # Beyond a 64-bit column no application exists (SQLite cannot even bind it): such
            # an event is refused below as an unknown application, like any other.
            and 0 < e.get("application") < 2**63
        }
        self.applications = {
            row[1]: _ApplicationRow(*row)
            for row in Application.objects.filter(sdkappid__any=sdkappids).values_list(
                "pk", "sdkappid", "account_id", "region", "created_at"
            )
        }
        regions = {app.region for app in self.applications.values()}
        self.sold = set(
            PriceEntry.objects.filter(price_book__region__in=regions)
            .values_list("price_book__region", "item__code")
            .order_by()
            .distinct()
        )
        self.tz = billing_tz()
        # (index, account, billing day) of the events valid so far: their months are checked
        # together afterwards (check_closed_months), in one query.
        self.pending: list[tuple[int, int, dt.date]] = []
        # Indexes of the events that fall in a finalized month within the late-usage window.
        self.late: set[int] = set()

    def error(self, index: int, field_name: str, code: str, message: str) -> None:
        self.errors.append(EventError(index, field_name, code, message))

    def check_closed_months(self, cleaned: list) -> None:
        """The valid events that fall in a month whose invoice is finalized: late within the
        late-usage window (``self.late``), refused beyond it (``period_closed``), with one
        query for the whole batch; errors stay in event order."""
        self.late = set()
        if not self.pending:
            return
        closed = set(
            Invoice.objects.filter(
                account_id__any={account for _, account, _ in self.pending},
                month__in={month_start(day) for _, _, day in self.pending},
            )
            .exclude(state=Invoice.State.DRAFT)
            .values_list("account_id", "month")
            .order_by()
        )
        if not closed:
            return
        today = self.now.astimezone(self.tz).date()
        window = dt.timedelta(days=settings.LATE_USAGE_WINDOW_DAYS)
        for index, account_id, day in self.pending:
            if (account_id, month_start(day)) not in closed:
                continue
            if today <= month_end(day) + window:
                self.late.add(index)
                continue
            self.error(
                index,
                "timestamp",
                "period_closed",
                f"The invoice for {day:%Y-%m} is finalized and its late-usage window ended "
                f"on {month_end(day) + window:%Y-%m-%d} ({settings.LATE_USAGE_WINDOW_DAYS} "
                "days after the month); this month takes no more usage. Corrections are made "
                "by credit notes or adjustments.",
            )
            cleaned[index] = None
        self.errors.sort(key=lambda error: error.index)

    def clean(self, index: int, event) -> _Clean | None:
        if not isinstance(event, dict):
            self.error(index, "event", "invalid", "Each event must be a JSON object.")
            return None
        before = len(self.errors)
        if not event.keys() <= EVENT_FIELDS:
            for name in sorted(set(event) - EVENT_FIELDS):
                self.error(index, name, "unknown_field", f"Unknown field {name!r}.")

        event_id = event.get("id")
        if not isinstance(event_id, str) or not event_id.strip():
            self.error(index, "id", "required", "id is required: a non-empty string.")
        elif len(event_id) > MAX_EVENT_ID:
            self.error(index, "id", "too_long", f"id is longer than {MAX_EVENT_ID} characters.")

        sdkappid = event.get("application")
        application = None
        if not isinstance(sdkappid, int) or isinstance(sdkappid, bool) or sdkappid <= 0:
            self.error(
                index,
                "application",
                "required",
                "application is required: the SDKAppID, a positive integer.",
            )
        else:
            application = self.applications.get(sdkappid)
            if application is None or not self.caller.may_report_for(application):
                self.error(
                    index,
                    "application",
                    "unknown_application",
                    f"No application {sdkappid} that this key may report for.",
                )
                application = None

        metric = event.get("metric")
        if not isinstance(metric, str):
            self.error(
                index,
                "metric",
                "invalid",
                f"metric must be a string, one of: {', '.join(Metric.values)}.",
            )
            metric = None
        elif metric not in METRICS:
            self.error(
                index,
                "metric",
                "unknown_metric",
                f"Unknown metric {metric[:60]!r}; one of: {', '.join(Metric.values)}.",
            )
            metric = None

        timestamp = None
        try:
            timestamp = parse_timestamp(event.get("timestamp"))
        except ParseError as exc:
            self.error(index, "timestamp", exc.code, exc.message)
        if timestamp is not None and timestamp - self.now > MAX_FUTURE:
            self.error(
                index, "timestamp", "in_future", "timestamp is more than 5 minutes in the future."
            )
            timestamp = None
        if timestamp is not None and application is not None:
            created_day = application.created_at.astimezone(self.tz).date()
            if timestamp.astimezone(self.tz).date() < created_day:
                self.error(
                    index,
                    "timestamp",
                    "before_application",
                    f"timestamp is before the application's creation day ({created_day} in "
                    "the billing time zone).",
                )
                timestamp = None

        value = None
        try:
            value = _parse_value(event.get("value"))
        except ParseError as exc:
            self.error(index, "value", exc.code, exc.message)
        if value is not None and value >= MAX_VALUE:
            self.error(
                index, "value", "invalid", "value has more than 6 decimal places or is too large."
            )
            value = None

        properties = event.get("properties", {})
        dimension = ""
        if properties is None:
            properties = {}
        if not isinstance(properties, dict):
            self.error(index, "properties", "invalid", "properties must be a JSON object.")
            properties = None
        elif (problem := _properties_problem(properties)) is not None:
            self.error(index, "properties", *problem)
            properties = None
        elif metric == Metric.IM_LOGIN:
            user_id = properties.get("user_id")
            if (
                isinstance(user_id, bool)
                or not isinstance(user_id, str | int)
                or (str(user_id).strip() == "")
            ):
                self.error(
                    index, "properties.user_id", "required", "im.login needs properties.user_id."
                )
            elif len(str(user_id)) > 255:
                self.error(
                    index,
                    "properties.user_id",
                    "too_long",
                    "user_id is longer than 255 characters.",
                )
            else:
                dimension = str(user_id)
        elif metric == Metric.TRTC_VIDEO_SECONDS:
            resolution = properties.get("resolution")
            if resolution not in VIDEO_RESOLUTIONS:
                self.error(
                    index,
                    "properties.resolution",
                    "invalid",
                    f"trtc.video_seconds needs properties.resolution, one of "
                    f"{', '.join(VIDEO_RESOLUTIONS)}.",
                )
            else:
                dimension = resolution

        if application is not None and metric is not None and len(self.errors) == before:
            item = (
                VIDEO_ITEM[dimension]
                if metric == Metric.TRTC_VIDEO_SECONDS
                else (METRIC_ITEM[metric])
            )
            if (application.region, item) not in self.sold:
                where = "properties.resolution" if metric == Metric.TRTC_VIDEO_SECONDS else "metric"
                self.error(
                    index,
                    where,
                    "not_available_in_region",
                    f"{metric} {dimension} is not sold in region {application.region}.".replace(
                        "  ", " "
                    ),
                )
        if len(self.errors) != before:
            return None
        day = timestamp.astimezone(self.tz).date()  # the billing day (billing_day_of)
        self.pending.append((index, application.account_id, day))
        return _Clean(
            application_id=application.pk,
            event_id=event_id,
            metric=metric,
            timestamp=timestamp,
            billing_day=day,
            value=value,
            dimension=dimension,
            properties=properties,
        )


def usage_events_ingest(
    *, events: Sequence, caller: Caller, now: dt.datetime | None = None
) -> IngestResult:
    """Validate ``events`` whole, then store the new ones in one transaction.

    Raises IngestionRejected with every error (index, field, code, message) and stores
    nothing when any event is invalid or conflicts with a stored one."""
    if not isinstance(events, list | tuple) or not events:
        raise IngestionRejected(
            [EventError(-1, "events", "required", "events must be a non-empty list.")]
        )
    if len(events) > MAX_BATCH:
        raise IngestionRejected(
            [
                EventError(
                    -1,
                    "events",
                    "too_many",
                    f"At most {MAX_BATCH} events a batch; got {len(events)}.",
                )
            ]
        )
    validator = _Validator(events, caller, now or timezone.now())
    cleaned = [validator.clean(index, event) for index, event in enumerate(events)]
    if validator.errors:
        validator.check_closed_months(cleaned)  # name every invalid event, closed months too
        raise IngestionRejected(validator.errors)

    result = IngestResult()
    with transaction.atomic():
        # Shared locks on the batch's applications (billing.locks), then the closed months:
        # a close that committed before is seen here; one that starts later waits for this
        # batch to commit, and rates it.
        applications_lock({event.application_id for event in cleaned}, shared=True)
        validator.check_closed_months(cleaned)
        if validator.errors:
            raise IngestionRejected(validator.errors)
        # Repeats inside the batch: the first counts, a same-content repeat is a duplicate.
        unique: dict[tuple[int, str], tuple[int, _Clean]] = {}
        conflicts: list[EventError] = []
        for index, event in enumerate(cleaned):
            key = (event.application_id, event.event_id)
            if key in unique:
                if unique[key][1] != event:
                    conflicts.append(
                        EventError(
                            index,
                            "id",
                            "conflict",
                            f"id {event.event_id!r} appears twice in the batch with different "
                            "content.",
                        )
                    )
                else:
                    result.duplicates += 1
            else:
                unique[key] = (index, event)
        if conflicts:
            raise IngestionRejected(conflicts, conflict=True)
        inserted = _insert(event for _, event in unique.values())
        leftovers = [(i, e) for key, (i, e) in unique.items() if key not in inserted]
        if leftovers:
            stored = _stored_rows([e for _, e in leftovers])
            for index, event in leftovers:
                row = stored.get((event.application_id, event.event_id))
                if row is None or not event.same_content(row):
                    conflicts.append(
                        EventError(
                            index,
                            "id",
                            "conflict",
                            f"id {event.event_id!r} was already reported with different content.",
                        )
                    )
                else:
                    result.duplicates += 1
            if conflicts:
                transaction.set_rollback(True)
                raise IngestionRejected(conflicts, conflict=True)
        result.accepted = len(inserted)
        late = {k: e for k, (i, e) in unique.items() if k in inserted and i in validator.late}
        if late:
            _mark_late(late)
            result.late = len(late)
            accounts = {app.pk: app.account_id for app in validator.applications.values()}
            result.late_months = {
                (accounts[e.application_id], month_start(e.billing_day)) for e in late.values()
            }
        # Days of a closed month are never rated again: their late events go to a restatement.
        days = {
            (e.application_id, e.billing_day)
            for k, (_, e) in unique.items()
            if k in inserted and k not in late
        }
        result.restaled_days = _mark_rated_days_stale(days)
        outbox.usage_changed(application_ids={app_id for app_id, _ in days})
    return result


COLUMNS = (
    "application_id",
    "event_id",
    "metric",
    "timestamp",
    "billing_day",
    "value",
    "dimension",
    "properties",
    "received_at",
)


def _insert(events) -> set[tuple[int, str]]:
    """One INSERT ... ON CONFLICT DO NOTHING RETURNING: the keys actually stored (on
    PostgreSQL the rows come from a COPY, ``_insert_copy``).

    Rows go in key order: two batches sharing keys then wait on each other's rows in the same
    order instead of deadlocking (found by tests/reliability/test_concurrency.py)."""
    rows = sorted(events, key=lambda e: (e.application_id, e.event_id))
    if not rows:
        return set()
    table = connection.ops.quote_name(UsageEvent._meta.db_table)
    received = timezone.now()
    conflict = (
        " ON CONFLICT (application_id, event_id) DO NOTHING RETURNING application_id, event_id"
    )
    if connection.vendor == "postgresql":
        return _insert_copy(rows, table, received, conflict)
    fields = [
        UsageEvent._meta.get_field("application" if name == "application_id" else name)
        for name in COLUMNS
    ]
    placeholders = "(" + ", ".join(["%s"] * len(COLUMNS)) + ")"
    params = []
    for e in rows:
        values = (e.application_id, e.event_id, e.metric, e.timestamp, e.billing_day,
                  e.value, e.dimension, e.properties, received)  # fmt: skip
        # Each field adapts its value as the ORM would (aware datetimes to UTC on
        # SQLite, JSON encoding, decimals).
        params += [
            json_dumps_exact(v) if f.name == "properties" else f.get_db_prep_save(v, connection)
            for f, v in zip(fields, values, strict=True)
        ]
    sql = (
        f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES "
        + ", ".join([placeholders] * len(rows))
        + conflict
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {(app_id, event_id) for app_id, event_id in cursor.fetchall()}


_batch_numbers = itertools.count(random.getrandbits(40))


def _insert_copy(rows: list[_Clean], table: str, received, conflict: str) -> set:
    """PostgreSQL: COPY the batch into a session-local staging table, then one INSERT ...
    SELECT ... ON CONFLICT DO NOTHING into the usage table. COPY sends rows as they are (no
    SQL text to build and parse per value). The staging table empties at commit; within one
    transaction each batch reads only its own rows (``batch``), never an earlier batch's."""
    columns = ", ".join(COLUMNS)
    batch = next(_batch_numbers)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS usage_staging ON COMMIT DELETE ROWS "
            f"AS SELECT 0::bigint AS batch, {columns} FROM {table} WITH NO DATA"
        )
        copy_sql = f"COPY usage_staging (batch, {columns}) FROM STDIN"
        with connection.wrap_database_errors, cursor.cursor.copy(copy_sql) as copy:
            for e in rows:
                copy.write_row(
                    (batch, e.application_id, e.event_id, e.metric, e.timestamp, e.billing_day,
                     e.value, e.dimension, json_dumps_exact(e.properties), received)
                )  # fmt: skip
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM usage_staging "
            f"WHERE batch = %s ORDER BY application_id, event_id" + conflict,
            [batch],
        )
        return {(app_id, event_id) for app_id, event_id in cursor.fetchall()}


def _stored_rows(events: list[_Clean]) -> dict[tuple[int, str], dict]:
    """The stored rows of these (application, id) keys: one IN list per application."""
    ids_by_application: dict[int, list[str]] = defaultdict(list)
    for e in events:
        ids_by_application[e.application_id].append(e.event_id)
    found: dict[tuple[int, str], dict] = {}
    for application_id, event_ids in ids_by_application.items():
        rows = UsageEvent.objects.filter(
            application_id=application_id, event_id__in=event_ids
        ).values(
            "application_id",
            "event_id",
            "metric",
            "timestamp",
            "value",
            # As text, read back with exact decimals: 1.5 read as a float would differ from
            # the Decimal the client sent (0.1 != Decimal("0.1")).
            properties_text=Cast("properties", TextField()),
        )
        found.update({(row["application_id"], row["event_id"]): row for row in rows})
    return found


def _mark_late(events: dict[tuple[int, str], _Clean]) -> None:
    """Flag the late events just stored (one UPDATE per application; late events are few)."""
    ids_by_application: dict[int, list[str]] = defaultdict(list)
    for application_id, event_id in events:
        ids_by_application[application_id].append(event_id)
    for application_id, event_ids in sorted(ids_by_application.items()):
        UsageEvent.objects.filter(application_id=application_id, event_id__in=event_ids).update(
            late=True
        )


def _mark_rated_days_stale(days: set[tuple[int, dt.date]]) -> set[tuple[int, dt.date]]:
    """Late events for days already rated: those days must be rated again (SPEC 7). One
    UPDATE for the whole batch on PostgreSQL."""
    if not days:
        return set()
    if connection.vendor == "postgresql":
        ordered = sorted(days)
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE billing_ratedday AS r SET state = %s "
                "FROM unnest(%s::bigint[], %s::date[]) AS v(application_id, day) "
                "WHERE r.application_id = v.application_id AND r.day = v.day AND r.state = %s "
                "RETURNING r.application_id, r.day",
                [
                    RatedDay.State.STALE,
                    [application_id for application_id, _ in ordered],
                    [day for _, day in ordered],
                    RatedDay.State.RATED,
                ],
            )
            return set(cursor.fetchall())
    days_by_application: dict[int, set[dt.date]] = defaultdict(set)
    for application_id, day in days:
        days_by_application[application_id].add(day)
    stale: set[tuple[int, dt.date]] = set()
    for application_id, app_days in days_by_application.items():
        rated = RatedDay.objects.filter(
            application_id=application_id, day__in=app_days, state=RatedDay.State.RATED
        )
        found = set(rated.values_list("application_id", "day"))
        if found:
            rated.update(state=RatedDay.State.STALE)
            stale |= found
    return stale

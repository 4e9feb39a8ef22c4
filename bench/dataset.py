"""The benchmark's data set, written with PostgreSQL COPY (never one ORM save per row).

- accounts with their owner user and membership; applications in both regions, skewed over
  accounts (most have one or two, a few have dozens);
- every edition (Trial, Pro, Ultimate), with the edition history and the prepaid terms the
  services would have created; prepaid add-ons with their terms (call-minute add-ons with the
  minute pack of each term), postpaid message history, moderation packs;
- one billing day of usage over every metric of SPEC 7 that the application's region sells,
  skewed: application sizes follow a Zipf law (a handful of applications send a few percent
  of the day each, most send a few dozen events). Events are written in time order, hour by
  hour, applications interleaved, as platform services report them.

The events are written to files first (COPY text format) so that loading them measures
PostgreSQL and not the generator; every ``stride``-th event goes to the API sample instead
(the same row as COPY text and as the JSON the API takes).
"""

import datetime as dt
import itertools
import json
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from django.contrib.auth.hashers import make_password
from django.db import connection

from billing.calendar import billing_tz
from billing.models import AddOn, Edition, PriceEntry
from billing.rating.terms import term_bounds, term_index_on, term_start

from .scales import Scale

Progress = Callable[[str], None]

OWNER_PASSWORD = "bench-owner-password"
FIRST_SDKAPPID = 1_400_000_000
ONE_DAY = dt.timedelta(days=1)

# Activity by clock hour of the billing time zone (seed_demo's "social" rhythm).
RHYTHM = [2, 1, 1, 1, 1, 1, 2, 4, 5, 5, 5, 5, 6, 5, 5, 5, 5, 6, 7, 9, 10, 10, 8, 4]

# What an application does, by region: metric -> share of its events.
KINDS = {
    "cn": {
        "chat": {
            "im.login": 40,
            "im.group_count": 1,
            "im.moderation.text": 33,
            "im.moderation.image": 12,
            "im.moderation.audio_seconds": 5,
            "im.moderation.video_seconds": 2,
            "trtc.audio_seconds": 4,
            "trtc.video_seconds": 3,
        },
        "calls": {
            "im.login": 20,
            "im.group_count": 1,
            "im.moderation.text": 5,
            "trtc.audio_seconds": 40,
            "trtc.video_seconds": 34,
        },
    },
    "intl": {
        "chat": {
            "im.login": 55,
            "im.group_count": 1,
            "trtc.audio_seconds": 20,
            "trtc.video_seconds": 14,
            "trtc.ai_seconds": 5,
            "trtc.stt_seconds": 5,
        },
        "ai": {
            "im.login": 20,
            "im.group_count": 1,
            "trtc.audio_seconds": 30,
            "trtc.video_seconds": 4,
            "trtc.ai_seconds": 25,
            "trtc.stt_seconds": 20,
        },
    },
}
RESOLUTIONS = {
    "cn": {"sd": 30, "hd": 50, "fhd": 20},
    "intl": {"hd": 50, "fhd": 30, "2k": 15, "4k": 5},
}
# Value ranges (inclusive) per metric: messages, images, seconds.
VALUES = {
    "im.moderation.text": (1, 20),
    "im.moderation.image": (1, 5),
    "im.moderation.audio_seconds": (5, 120),
    "im.moderation.video_seconds": (5, 300),
    "trtc.audio_seconds": (30, 1800),
    "trtc.video_seconds": (30, 1800),
    "trtc.ai_seconds": (30, 900),
    "trtc.stt_seconds": (10, 300),
}

EVENT_COLUMNS = (
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


@dataclass
class App:
    id: int
    sdkappid: int
    account_id: int
    region: str
    kind: str
    edition: str
    created_on: dt.date
    paid_from: dt.date | None
    events: int = 0
    groups: int = 1
    hours: list[int] = field(default_factory=list)


@dataclass
class Catalog:
    """The reference price book, looked up once: (item code, region) -> entry."""

    entries: dict[tuple[str, str], PriceEntry]
    editions: dict[str, int]
    addons: dict[str, int]

    @classmethod
    def load(cls) -> "Catalog":
        entries = {
            (e.item.code, e.price_book.region): e
            for e in PriceEntry.objects.select_related("item", "price_book").order_by(
                "effective_from"
            )
        }
        return cls(
            entries=entries,
            editions=dict(Edition.objects.values_list("code", "pk")),
            addons=dict(AddOn.objects.values_list("code", "pk")),
        )

    def entry(self, code: str, region: str) -> PriceEntry | None:
        return self.entries.get((code, region))


def copy_rows(table: str, columns: Iterable[str], rows: Iterable[tuple]) -> int:
    """COPY Python rows into ``table`` (psycopg 3 adapts dates, decimals, None)."""
    count = 0
    with connection.cursor() as cursor:
        sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with cursor.cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
    return count


def copy_file(
    path: Path,
    table: str,
    columns: Iterable[str],
    *,
    rows_per_statement: int = 1_000_000,
    progress: Progress | None = None,
) -> int:
    """COPY a file in COPY text format into ``table``, one statement per
    ``rows_per_statement`` lines (each its own transaction unless the caller holds one: the
    deferred foreign-key checks of a statement are queued until it commits). Returns rows."""
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    rows = 0
    with path.open("rb") as source:
        while lines := list(itertools.islice(source, rows_per_statement)):
            with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
                for start in range(0, len(lines), 20_000):
                    copy.write(b"".join(lines[start : start + 20_000]))
            rows += len(lines)
            if progress:
                progress(f"{table}: {rows:,} rows copied")
    return rows


def reset_sequences(tables: Iterable[str]) -> None:
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)"
            )


# --------------------------------------------------------------------------------------------
# Accounts, applications and what they bought
# --------------------------------------------------------------------------------------------


def zipf_sizes(total: int, count: int, rng: random.Random, exponent: float = 1.0) -> list[int]:
    """``count`` sizes adding up to ``total``, Zipf-distributed over a random order."""
    weights = [1.0 / (rank**exponent) for rank in range(1, count + 1)]
    scale = total / sum(weights)
    sizes = [int(w * scale) for w in weights]
    for i in range(total - sum(sizes)):
        sizes[i % count] += 1
    rng.shuffle(sizes)
    return sizes


def _hours(events: int, rng: random.Random) -> list[int]:
    """Events per clock hour: the rhythm's expected share, the remainder drawn at random."""
    weight = sum(RHYTHM)
    counts = [events * w // weight for w in RHYTHM]
    rest = events - sum(counts)
    if rest:
        for hour in rng.choices(range(24), weights=RHYTHM, k=rest):
            counts[hour] += 1
    return counts


def build_applications(scale: Scale, day: dt.date, rng: random.Random) -> list[App]:
    apps_per_account = [1] * scale.accounts
    extra = scale.applications - scale.accounts
    if extra < 0:
        raise ValueError("need at least one application per account")
    account_weights = [1.0 / (rank**0.8) for rank in range(1, scale.accounts + 1)]
    for index in rng.choices(range(scale.accounts), weights=account_weights, k=extra):
        apps_per_account[index] += 1
    sizes = zipf_sizes(scale.events, scale.applications, rng)
    big = sorted(sizes, reverse=True)[max(0, scale.applications // 100 - 1)]
    apps: list[App] = []
    app_id = 0
    for account_index, count in enumerate(apps_per_account):
        for _ in range(count):
            app_id += 1
            events = sizes[app_id - 1]
            region = "cn" if rng.random() < 0.6 else "intl"
            kind = rng.choices(list(KINDS[region]), weights=[65, 35])[0]
            created_on = day - dt.timedelta(days=rng.randint(20, 400))
            # The largest one percent are paying customers; the rest are mixed.
            if events >= big:
                edition = rng.choice(["pro", "ultimate"])
            else:
                edition = rng.choices(["trial", "pro", "ultimate"], weights=[45, 40, 15])[0]
            paid_from = None
            if edition != "trial":
                paid_from = created_on + dt.timedelta(
                    days=rng.randint(0, (day - ONE_DAY - created_on).days)
                )
            app = App(
                id=app_id,
                sdkappid=FIRST_SDKAPPID + app_id,
                account_id=account_index + 1,
                region=region,
                kind=kind,
                edition=edition,
                created_on=created_on,
                paid_from=paid_from,
                events=events,
                groups=max(1, events // 4 + rng.randint(0, 50)),
            )
            app.hours = _hours(events, rng)
            apps.append(app)
    return apps


class _Ids:
    def __init__(self):
        self.counters: dict[str, itertools.count] = {}

    def next(self, table: str) -> int:
        return next(self.counters.setdefault(table, itertools.count(1)))


def _terms_before(anchor: dt.date, day: dt.date) -> list[int]:
    """Indexes of the terms the services would hold before ``day`` is rated: the last one
    that started before the billing day and the one before it (enough for the invoice of the
    month and for the renewal of the day, which the daily job itself makes)."""
    last = term_index_on(anchor, day - ONE_DAY)
    return list(range(max(0, last - 1), last + 1))


def load_entities(scale: Scale, day: dt.date, rng: random.Random, progress: Progress) -> list[App]:
    """Write accounts, users, applications, edition periods, add-ons, terms and packs."""
    catalog = Catalog.load()
    apps = build_applications(scale, day, rng)
    now = dt.datetime.now(dt.UTC)
    # Applications exist well before the bench day (usage before creation is refused).
    created = dt.datetime.combine(day - dt.timedelta(days=800), dt.time.min, tzinfo=dt.UTC)
    password = make_password(OWNER_PASSWORD)
    ids = _Ids()

    copy_rows(
        "auth_user",
        ["id", "password", "is_superuser", "username", "first_name", "last_name", "email",
         "is_staff", "is_active", "date_joined"],
        (
            (n, password, False, f"owner{n}@bench.example", "", "", f"owner{n}@bench.example",
             False, True, now)
            for n in range(1, scale.accounts + 1)
        ),
    )  # fmt: skip
    copy_rows(
        "accounts_account",
        ("id", "name", "billing_email", "billing_address", "created_at"),
        (
            (n, f"Bench customer {n}", f"owner{n}@bench.example", f"{n} Bench Road", now)
            for n in range(1, scale.accounts + 1)
        ),
    )
    copy_rows(
        "accounts_membership",
        ("id", "role", "created_at", "account_id", "user_id"),
        ((n, "owner", now, n, n) for n in range(1, scale.accounts + 1)),
    )
    copy_rows(
        "billing_application",
        ("id", "sdkappid", "name", "region", "status", "status_reason", "created_at",
         "account_id"),
        ((a.id, a.sdkappid, f"{a.kind} app {a.id}", a.region, "active", "", created,
          a.account_id) for a in apps),
    )  # fmt: skip
    progress(f"{scale.accounts:,} accounts, {len(apps):,} applications")

    periods, subscriptions, terms, packs = [], [], [], []

    def add_terms(app, item_code, anchor, subscription_id=None, minutes_pack=False):
        entry = catalog.entry(item_code, app.region)
        for index in _terms_before(anchor, day):
            starts_on, ends_on = term_bounds(anchor, index)
            term_id = ids.next("term")
            currency = entry.price_book.currency
            terms.append(
                (term_id, anchor, index, starts_on, ends_on, currency, entry.unit_price, now,
                 app.id, entry.item_id, subscription_id, entry.pk)
            )  # fmt: skip
            if minutes_pack:
                packs.append(
                    (ids.next("pack"), "call_minutes", entry.included_quantity, starts_on,
                     ends_on, currency, Decimal(0), now, app.id, entry.item_id, entry.pk,
                     term_id)
                )  # fmt: skip

    def subscribe(app, addon, item_code, starts_on, *, prepaid, minutes_pack=False):
        entry = catalog.entry(item_code, app.region)
        if entry is None:
            return
        sub_id = ids.next("subscription")
        subscriptions.append(
            (sub_id, starts_on, None, now, catalog.addons[addon], app.id, entry.item_id)
        )
        if prepaid:
            add_terms(app, item_code, starts_on, sub_id, minutes_pack)

    for app in apps:
        trial = catalog.editions["trial"]
        if app.paid_from is None:
            periods.append((ids.next("period"), app.created_on, None, now, app.id, trial))
        else:
            if app.paid_from > app.created_on:
                periods.append(
                    (ids.next("period"), app.created_on, app.paid_from - ONE_DAY, now, app.id,
                     trial)
                )  # fmt: skip
            periods.append(
                (ids.next("period"), app.paid_from, None, now, app.id,
                 catalog.editions[app.edition])
            )  # fmt: skip
            add_terms(app, f"im.edition.{app.edition}", app.paid_from)
        since = app.paid_from or app.created_on
        start = since + dt.timedelta(days=rng.randint(0, (day - ONE_DAY - since).days))
        if app.paid_from is not None:
            if app.edition == "pro" and rng.random() < 0.2:
                subscribe(app, "avchatroom", "im.addon.avchatroom.pro", start, prepaid=True)
            if rng.random() < 0.15:
                code = f"im.addon.group_members.{app.edition}"
                subscribe(app, "group_member_limit", code, start, prepaid=True)
            if rng.random() < 0.1:
                code = f"im.addon.groups_per_user.{app.edition}"
                subscribe(app, "groups_per_user", code, start, prepaid=True)
            if rng.random() < 0.2:
                days = rng.choice(["30d", "90d", "180d", "360d"] if app.edition == "pro" else
                                  ["90d", "180d", "360d"])  # fmt: skip
                code = f"im.addon.message_history.{app.edition}.{days}"
                subscribe(app, "message_history", code, start, prepaid=False)
            if app.region == "cn" and (app.kind == "calls" or rng.random() < 0.1):
                option = rng.choice(["basic", "advanced", "premium"])
                subscribe(
                    app, "calls", f"im.addon.calls.{option}", start, prepaid=True,
                    minutes_pack=True,
                )  # fmt: skip
        if app.region == "cn" and rng.random() < 0.08:
            subscribe(app, "local_moderation", "im.addon.local_moderation", start, prepaid=True)
        if app.region == "cn" and app.kind == "chat" and rng.random() < 0.12:
            code = rng.choice(
                ["im.moderation_pack.monthly"] * 3
                + ["im.moderation_pack.yearly_small", "im.moderation_pack.yearly_medium"]
            )
            entry = catalog.entry(code, "cn")
            months = entry.validity_months
            bought = day - dt.timedelta(days=rng.randint(1, 27 if months == 1 else 300))
            packs.append(
                (ids.next("pack"), "moderation_units", entry.included_quantity, bought,
                 term_start(bought, months) - ONE_DAY, "CNY", entry.unit_price, now, app.id,
                 entry.item_id, entry.pk, None)
            )  # fmt: skip
    copy_rows(
        "billing_editionperiod",
        ("id", "starts_on", "ends_on", "created_at", "application_id", "edition_id"),
        periods,
    )
    copy_rows(
        "billing_addonsubscription",
        ("id", "starts_on", "ends_on", "created_at", "addon_id", "application_id", "item_id"),
        subscriptions,
    )
    copy_rows(
        "billing_prepaidterm",
        ("id", "anchor_date", "term_index", "starts_on", "ends_on", "currency", "amount",
         "created_at", "application_id", "item_id", "subscription_id", "price_entry_id"),
        terms,
    )  # fmt: skip
    copy_rows(
        "billing_resourcepack",
        ("id", "covers", "units_total", "valid_from", "valid_until", "currency", "amount",
         "created_at", "application_id", "item_id", "price_entry_id", "term_id"),
        packs,
    )  # fmt: skip
    reset_sequences(
        [
            "auth_user",
            "accounts_account",
            "accounts_membership",
            "billing_application",
            "billing_editionperiod",
            "billing_addonsubscription",
            "billing_prepaidterm",
            "billing_resourcepack",
        ]
    )
    progress(
        f"{len(periods):,} edition periods, {len(subscriptions):,} add-ons, "
        f"{len(terms):,} prepaid terms, {len(packs):,} packs"
    )
    return apps


# --------------------------------------------------------------------------------------------
# Usage events
# --------------------------------------------------------------------------------------------


@dataclass
class EventFiles:
    bulk: Path  # COPY text, everything but the sample
    sample_copy: Path  # COPY text, the API sample
    sample_json: Path  # one JSON event a line, the same rows as sample_copy
    bulk_rows: int = 0
    sample_rows: int = 0
    metrics: dict[str, int] = field(default_factory=dict)


def write_events(
    scale: Scale, day: dt.date, apps: list[App], rng: random.Random, out: Path, progress: Progress
) -> EventFiles:
    out.mkdir(parents=True, exist_ok=True)
    files = EventFiles(out / "events.copy", out / "sample.copy", out / "sample.jsonl")
    tz = billing_tz()
    midnight = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    utc = ZoneInfo("UTC")
    ts_copy, ts_json = [], []
    for second in range(86400):
        moment = midnight + dt.timedelta(seconds=second)
        ts_copy.append(moment.astimezone(utc).strftime("%Y-%m-%d %H:%M:%S+00"))
        ts_json.append(moment.isoformat())
    day_text = day.isoformat()
    received = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S+00")
    stride = max(1, scale.events // max(1, scale.api_events))
    metric_counts: dict[str, int] = dict.fromkeys(
        {m for kinds in KINDS.values() for mix in kinds.values() for m in mix}, 0
    )

    plans = []
    for app in apps:
        mix = KINDS[app.region][app.kind]
        resolutions = RESOLUTIONS[app.region]
        plans.append(
            (
                list(mix),
                list(itertools.accumulate(mix.values())),
                list(resolutions),
                list(itertools.accumulate(resolutions.values())),
                max(1, (app.events * mix["im.login"] // 100) * 2 // 3),  # user pool
            )
        )

    randrange = rng.randrange
    randint = rng.randint
    choices = rng.choices
    seq = 0
    sample_left = scale.api_events
    bulk = files.bulk.open("w", buffering=1 << 22)
    sample_copy = files.sample_copy.open("w", buffering=1 << 20)
    sample_json = files.sample_json.open("w", buffering=1 << 20)
    order = list(range(len(apps)))
    try:
        for hour in range(24):
            rng.shuffle(order)
            base = hour * 3600
            lines: list[str] = []
            for index in order:
                app = apps[index]
                count = app.hours[hour]
                if not count:
                    continue
                metrics, cum, resolutions, res_cum, users = plans[index]
                app_id = app.id
                for metric in choices(metrics, cum_weights=cum, k=count):
                    second = base + randrange(3600)
                    if metric == "im.login":
                        value = 1
                        dimension = f"u{randrange(users)}"
                        properties = f'{{"user_id": "{dimension}"}}'
                    elif metric == "im.group_count":
                        value = app.groups + randrange(1 + app.groups // 20)
                        dimension = ""
                        properties = "{}"
                    else:
                        low, high = VALUES[metric]
                        value = randint(low, high)
                        if metric == "trtc.video_seconds":
                            dimension = choices(resolutions, cum_weights=res_cum)[0]
                            properties = f'{{"resolution": "{dimension}"}}'
                        else:
                            dimension = ""
                            properties = "{}"
                    seq += 1
                    event_id = f"ev-{seq:09x}"
                    line = (
                        f"{app_id}\t{event_id}\t{metric}\t{ts_copy[second]}\t{day_text}\t"
                        f"{value}\t{dimension}\t{properties}\t{received}\n"
                    )
                    metric_counts[metric] += 1
                    if sample_left and seq % stride == 0:
                        sample_left -= 1
                        sample_copy.write(line)
                        sample_json.write(
                            json.dumps(
                                {
                                    "id": event_id,
                                    "application": app.sdkappid,
                                    "metric": metric,
                                    "timestamp": ts_json[second],
                                    "value": value,
                                    "properties": json.loads(properties),
                                },
                                separators=(",", ":"),
                            )
                            + "\n"
                        )
                        files.sample_rows += 1
                    else:
                        lines.append(line)
                        files.bulk_rows += 1
                if len(lines) > 50_000:
                    bulk.write("".join(lines))
                    lines.clear()
            bulk.write("".join(lines))
            progress(f"events: hour {hour:02d} written ({seq:,} so far)")
    finally:
        bulk.close()
        sample_copy.close()
        sample_json.close()
    files.metrics = {m: n for m, n in sorted(metric_counts.items()) if n}
    return files

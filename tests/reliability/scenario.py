"""Shared set-up of the reliability tests: many small accounts with usage of one day, and
snapshots of what the jobs produce so that a faulty run can be compared with a clean one."""

import datetime as dt
import random
import time

from accounts.services import account_create
from billing.models import Charge, ChargeCoverage, Invoice, InvoiceLine, JobRun, RatedDay
from billing.services.applications import application_create, edition_change
from billing.services.ingestion import SYSTEM, usage_events_ingest

OCT_1 = dt.date(2026, 10, 1)
DAY = dt.date(2026, 10, 10)


def day_events(app, *, seed: int, count: int = 40) -> list[dict]:
    """A day of mixed usage for one application: moderated texts and images, TRTC audio and
    HD video seconds, and logins of a few users."""
    rng = random.Random(seed)
    events = []
    for n in range(count):
        metric = rng.choice(
            ["im.moderation.text", "im.moderation.image", "trtc.audio_seconds", "trtc.video"]
        )
        event = {
            "id": f"{app.sdkappid}-{seed}-{n}",
            "application": app.sdkappid,
            "timestamp": f"2026-10-10T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00+08:00",
        }
        if metric == "trtc.video":
            event |= {
                "metric": "trtc.video_seconds",
                "value": rng.randrange(60, 20000),
                "properties": {"resolution": "hd"},
            }
        elif metric == "trtc.audio_seconds":
            event |= {"metric": metric, "value": rng.randrange(60, 50000)}
        else:
            event |= {"metric": metric, "value": rng.randrange(1, 3000)}
        events.append(event)
    return events


def accounts_with_usage(n: int, *, pro: bool = False) -> list:
    apps = []
    for i in range(n):
        account = account_create(name=f"Reliable {i}", email=f"reliable{i}@example.com")
        app = application_create(account=account, name="app", region="cn", created_on=OCT_1)
        if pro:
            edition_change(application=app, edition_code="pro", effective=dt.date(2026, 10, 2))
        usage_events_ingest(events=day_events(app, seed=i), caller=SYSTEM)
        apps.append(app)
    return apps


def charges_snapshot() -> dict:
    return {
        (sdkappid, code, day, period): (quantity, billable, amount)
        for sdkappid, code, day, period, quantity, billable, amount in Charge.objects.values_list(
            "application__sdkappid",
            "item__code",
            "day",
            "period",
            "quantity",
            "billable_quantity",
            "amount",
        )
    }


def invoice_totals() -> dict:
    return {
        (account, currency, month): total
        for account, currency, month, total in Invoice.objects.values_list(
            "account__name", "currency", "month", "total"
        )
    }


def wipe_rating_output() -> None:
    """Forget what the jobs produced (drafts only), keeping the usage: the clean slate on
    which the faulty run starts after the clean run was recorded."""
    assert not Invoice.objects.exclude(state="draft").exists()
    ChargeCoverage.objects.all().delete()
    Charge.objects.all().delete()
    RatedDay.objects.all().delete()
    InvoiceLine.objects.filter(kind="usage").delete()
    JobRun.objects.all().delete()


def wait_until(predicate, *, timeout: float, interval: float = 0.01, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")

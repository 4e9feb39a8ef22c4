"""Eight clients send overlapping batches, with duplicates inside and across batches, to the
real HTTP API (POST /api/v1/usage-events, a live server thread per request) while the daily
job runs again and again for the same day. No event is lost, none counted twice, and the
final charges equal those of a serial run over the same events."""

import json
import random
import threading
import urllib.error
import urllib.request

import pytest

from accounts.services import account_create, api_key_create
from billing.models import UsageEvent
from billing.services import jobs
from billing.services.applications import application_create
from portal.celery import app as celery_app
from tests.conftest import require_postgresql
from tests.reliability.scenario import DAY, OCT_1, charges_snapshot, day_events, wipe_rating_output

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

CLIENTS = 8
BATCHES = 12
BATCH = 150


def post(url: str, key: str, events: list) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps({"events": events}).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        text = error.read().decode(errors="replace")
        try:
            return error.code, json.loads(text)
        except ValueError:
            return error.code, {"body": text[:3000]}


def test_concurrent_clients_and_the_daily_job_lose_nothing(live_server):
    require_postgresql()
    apps = []
    for n in range(4):
        account = account_create(name=f"Busy {n}", email=f"busy{n}@example.com")
        apps.append(application_create(account=account, name="busy", region="cn", created_on=OCT_1))
    _, service_key = api_key_create(account=None, is_service=True)
    pool = [event for n, app in enumerate(apps) for event in day_events(app, seed=n, count=400)]
    url = f"{live_server.url}/api/v1/usage-events"

    sent, accepted, duplicates, statuses = [0], [0], [0], []
    lock = threading.Lock()

    def client(number: int):
        rng = random.Random(number)
        mine = pool[number::CLIENTS]  # together the clients send every event of the pool
        for batch_number in range(BATCHES):
            share = mine[batch_number::BATCHES]
            batch = share + rng.sample(pool, BATCH - len(share) - 10)
            batch += rng.sample(batch, 10)  # repeats inside the batch
            rng.shuffle(batch)
            status, body = post(url, service_key, batch)
            with lock:
                if status != 200:
                    print(status, body)
                statuses.append(status)
                sent[0] += len(batch)
                accepted[0] += body.get("accepted", 0)
                duplicates[0] += body.get("duplicates", 0)

    done = threading.Event()
    job_runs = [0]

    def daily_job_again_and_again():
        from django.db import connection

        try:
            while not done.is_set():
                jobs.bill_day(day=DAY)
                job_runs[0] += 1
        finally:
            connection.close()

    job = threading.Thread(target=daily_job_again_and_again)
    job.start()
    clients = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join(timeout=300)
    done.set()
    job.join(timeout=300)
    celery_app.control.purge()  # the re-rate tasks the API queued: the rerun below does it

    print(
        f"\n[concurrency] {CLIENTS} clients, {len(statuses)} batches, {sent[0]} events sent, "
        f"{accepted[0]} accepted, {duplicates[0]} duplicates, daily job ran {job_runs[0]} times"
    )
    assert set(statuses) == {200}
    assert accepted[0] == len(pool) == UsageEvent.objects.count()  # none lost, none twice
    assert accepted[0] + duplicates[0] == sent[0]
    assert job_runs[0] >= 2  # the job really ran while the clients were sending

    jobs.bill_day(day=DAY)  # the next run re-rates what late events made stale
    concurrent = charges_snapshot()
    wipe_rating_output()
    jobs.bill_day(day=DAY)  # a serial run over the same events
    assert charges_snapshot() == concurrent

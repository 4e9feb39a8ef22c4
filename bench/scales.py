"""Sizes of the benchmark. ``full`` is issue 7's data set; ``small`` is for development;
``tiny`` runs inside ``make test`` so the benchmark cannot rot."""

import datetime as dt
from dataclasses import dataclass, replace

# The billing day that gets the usage, and so the month that is closed. A fixed day keeps
# runs comparable; it only has to be in the past (ingestion refuses future timestamps).
BENCH_DAY = dt.date(2026, 10, 31)


@dataclass(frozen=True)
class Scale:
    name: str
    accounts: int
    applications: int
    events: int  # usage events of the billing day, all loaded
    api_events: int  # of those, how many go through the HTTP API (and a raw COPY of the same)
    api_clients: int  # client processes posting batches of 1000
    memory_applications: int  # the smaller daily job whose worker memory is compared
    invoices: int  # at least this many invoices in the database for the page latencies
    http_seconds: float  # how long each page is loaded by the 10 clients
    http_clients: int = 10
    server_workers: int = 4  # gunicorn processes
    # Applications per chunk of the jobs (BILLING_CHUNK_APPLICATIONS); None: the setting's.
    chunk_applications: int | None = None
    seed: int = 7


SCALES = {
    "tiny": Scale(
        name="tiny",
        accounts=20,
        applications=100,
        events=20_000,
        api_events=2_000,
        api_clients=2,
        memory_applications=10,
        invoices=100,
        http_seconds=1.0,
        server_workers=2,
        chunk_applications=20,
    ),
    "small": Scale(
        name="small",
        accounts=2_000,
        applications=10_000,
        events=1_000_000,
        api_events=50_000,
        api_clients=4,
        memory_applications=1_000,
        invoices=10_000,
        http_seconds=10.0,
    ),
    "full": Scale(
        name="full",
        accounts=20_000,
        applications=100_000,
        events=10_000_000,
        api_events=200_000,
        api_clients=4,
        memory_applications=10_000,
        invoices=10_000,
        http_seconds=20.0,
    ),
}


def scale_named(name: str, **overrides) -> Scale:
    try:
        scale = SCALES[name]
    except KeyError:
        raise ValueError(f"unknown scale {name!r}; one of {', '.join(SCALES)}") from None
    return replace(scale, **{k: v for k, v in overrides.items() if v is not None})

"""Transaction-scoped PostgreSQL advisory locks on applications, so that usage ingestion and
the jobs that rate or close an application's usage never interleave.

- Ingestion takes a *shared* lock on each application of its batch: batches run side by side.
- Rating a day, closing a month and finalizing an invoice take the *exclusive* lock of every
  application they read usage of.

So an event is either committed before the job reads the day (and is rated), or it waits for
the job to commit and then finds the day rated (and marks it stale for the next run) or the
month closed (and is refused with ``period_closed``). None is stored and then left unbilled.

Locks are taken in ascending id order in one statement and released at commit or rollback.
SQLite (the embedded mode) serializes every write transaction already; there it is a no-op."""

from collections.abc import Iterable

from django.db import connection


def applications_lock(application_ids: Iterable[int], *, shared: bool = False) -> None:
    ids = sorted(set(application_ids))
    if not ids or connection.vendor != "postgresql":
        return
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count({function}(id)) FROM "
            "(SELECT unnest(%s::bigint[]) AS id ORDER BY 1) AS ids",
            [ids],
        )

"""Bulk inserts for the billing jobs (STYLE: "Bulk writes use COPY or multi-row inserts, not a
save() per row").

On PostgreSQL rows go in with ``COPY ... FROM STDIN`` (psycopg 3), their ids drawn from the
table's sequence first when the caller needs them; elsewhere (SQLite, the embedded mode) the
same rows go through ``bulk_create``. Both paths store the same values; the tests run the jobs
both ways and compare."""

import json
from collections.abc import Sequence

from django.db import connection, models

# Switched off by the test that compares both paths.
COPY_ENABLED = True


def copy_available() -> bool:
    return COPY_ENABLED and connection.vendor == "postgresql"


def insert_rows(
    model: type[models.Model], fields: Sequence[str], rows: Sequence[Sequence], *, ids=False
) -> list[int]:
    """Insert ``rows`` (values in the order of ``fields``, model field names) into ``model``'s
    table; with ``ids``, return the new primary keys in row order."""
    if not rows:
        return []
    model_fields = [model._meta.get_field(name) for name in fields]
    if not copy_available():
        objects = [model(**dict(zip(fields, row, strict=True))) for row in rows]
        model.objects.bulk_create(objects, batch_size=500)
        return [obj.pk for obj in objects] if ids else []
    table = model._meta.db_table
    columns = [field.column for field in model_fields]
    json_at = [i for i, field in enumerate(model_fields) if isinstance(field, models.JSONField)]
    new_ids: list[int] = []
    with connection.cursor() as cursor:
        if ids:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, len(rows)],
            )
            new_ids = [row[0] for row in cursor.fetchall()]
            columns = ["id", *columns]
        sql = f"COPY {connection.ops.quote_name(table)} ({', '.join(columns)}) FROM STDIN"
        with cursor.cursor.copy(sql) as copy:
            for index, row in enumerate(rows):
                values = list(row)
                for at in json_at:
                    values[at] = json.dumps(values[at], cls=model_fields[at].encoder)
                if ids:
                    values.insert(0, new_ids[index])
                copy.write_row(values)
    return new_ids

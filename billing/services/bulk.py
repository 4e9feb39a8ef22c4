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
        # COPY runs on psycopg's own cursor: its errors are raised as Django's (a dropped
        # connection is an OperationalError the tasks retry).
        with connection.wrap_database_errors, cursor.cursor.copy(sql) as copy:
            for index, row in enumerate(rows):
                values = list(row)
                for at in json_at:
                    values[at] = json.dumps(values[at], cls=model_fields[at].encoder)
                if ids:
                    values.insert(0, new_ids[index])
                copy.write_row(values)
    return new_ids


def _array_params(model_fields, rows, start: int = 0) -> tuple[list[str], list]:
    """One typed array parameter per column, for ``unnest``: json as text cast to jsonb."""
    casts, params = [], []
    for index, field in enumerate(model_fields):
        values = [row[start + index] for row in rows]
        if isinstance(field, models.JSONField):
            values = [json.dumps(value, cls=field.encoder) for value in values]
        casts.append(f"%s::{field.db_type(connection)}[]")
        params.append(values)
    return casts, params


def update_rows(model: type[models.Model], fields: Sequence[str], rows: Sequence[Sequence]):
    """Set ``fields`` of many rows of ``model``; each row is (pk, *values). One UPDATE ...
    FROM unnest(...) on PostgreSQL, ``bulk_update`` elsewhere."""
    if not rows:
        return
    if not copy_available():
        objects = []
        for pk, *values in rows:
            obj = model(pk=pk)
            for name, value in zip(fields, values, strict=True):
                setattr(obj, name, value)
            objects.append(obj)
        model.objects.bulk_update(objects, list(fields), batch_size=500)
        return
    pk = model._meta.pk
    model_fields = [model._meta.get_field(name) for name in fields]
    casts, params = _array_params([pk, *model_fields], rows)
    columns = [pk.column, *(field.column for field in model_fields)]
    table = connection.ops.quote_name(model._meta.db_table)
    sets = ", ".join(f"{column} = v.{column}" for column in columns[1:])
    sql = (
        f"UPDATE {table} AS t SET {sets} FROM unnest({', '.join(casts)}) "
        f"AS v({', '.join(columns)}) WHERE t.{pk.column} = v.{pk.column}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def upsert_rows(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Sequence[Sequence],
    *,
    unique_fields: Sequence[str],
    update_fields: Sequence[str],
):
    """INSERT ... ON CONFLICT (unique_fields) DO UPDATE SET update_fields, for many rows: one
    statement over unnest(...) on PostgreSQL, ``bulk_create(update_conflicts=True)``
    elsewhere."""
    if not rows:
        return
    if not copy_available():
        model.objects.bulk_create(
            [model(**dict(zip(fields, row, strict=True))) for row in rows],
            update_conflicts=True,
            unique_fields=list(unique_fields),
            update_fields=list(update_fields),
            batch_size=500,
        )
        return
    model_fields = [model._meta.get_field(name) for name in fields]
    casts, params = _array_params(model_fields, rows)
    columns = [field.column for field in model_fields]
    column_of = {
        name: model._meta.get_field(name).column for name in [*unique_fields, *update_fields]
    }
    table = connection.ops.quote_name(model._meta.db_table)
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({', '.join(casts)}) "
        f"ON CONFLICT ({', '.join(column_of[name] for name in unique_fields)}) DO UPDATE SET "
        + ", ".join(f"{column_of[n]} = EXCLUDED.{column_of[n]}" for n in update_fields)
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)

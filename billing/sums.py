"""Sums of money computed by the database, with the scale of money on every database.

SQLite keeps DECIMAL columns as REAL and hands an aggregate back as a float turned into a
``Decimal`` without the column's scale (949.50 reads as ``949.5``); PostgreSQL keeps the
scale. ``MoneyAmount`` is the output field of such computed amounts (a ``Sum``, a coalesced
subquery): it quantizes what the database returns to its decimal places, so a summed amount
is the same ``Decimal`` (and the same text in an audit record, a CSV or a page) on both."""

from decimal import Decimal

from django.db import models


class MoneyAmount(models.DecimalField):
    """A computed amount: ``decimal_places`` 2 for rounded money, 8 for exact amounts."""

    def __init__(self, *, decimal_places: int = 2, max_digits: int = 24, **kwargs):
        super().__init__(decimal_places=decimal_places, max_digits=max_digits, **kwargs)

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        return Decimal(value).quantize(Decimal(1).scaleb(-self.decimal_places))


def money_sum(field: str, *, decimal_places: int = 2, **extra) -> models.Sum:
    """``Sum(field)`` of a money column, read back with the column's scale."""
    return models.Sum(field, output_field=MoneyAmount(decimal_places=decimal_places), **extra)

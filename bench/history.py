"""Earlier months' invoices, so that the page latencies are measured with at least the
issue's 10,000 invoices in the database whatever the scale: paid invoices of the months
before the benchmark's month, one per account and month going back, two lines each, numbered
in sequence. Written as the services leave them (lines added while draft, then issued), with
COPY and one UPDATE."""

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Account
from billing.models import DocumentSequence, Invoice

from .dataset import copy_rows


def _months_before(month: dt.date):
    while True:
        month = (month - dt.timedelta(days=1)).replace(day=1)
        yield month


def ensure_invoices(target: int, *, before: dt.date) -> int:
    """Add paid invoices of months before ``before`` until there are ``target`` invoices;
    returns how many were added."""
    missing = target - Invoice.objects.count()
    if missing <= 0:
        return 0
    accounts = list(Account.objects.order_by("pk").values("pk", "name", "billing_email"))
    taken = set(Invoice.objects.values_list("account_id", "month"))
    keys = []
    for month in _months_before(before):
        for account in accounts:
            if (account["pk"], month) not in taken:
                keys.append((account, month))
                if len(keys) == missing:
                    break
        if len(keys) == missing:
            break
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence('billing_invoice', 'id')) "
            "FROM generate_series(1, %s)",
            [len(keys)],
        )
        ids = [row[0] for row in cursor.fetchall()]
        copy_rows(
            "billing_invoice",
            ("id", "account_id", "currency", "month", "state", "total", "billing_snapshot",
             "void_reason", "created_at", "updated_at"),
            [(pk, account["pk"], "CNY", month, "draft", 0, "{}", "", now, now)
             for pk, (account, month) in zip(ids, keys, strict=True)],
        )  # fmt: skip
        lines = []
        totals = {}
        for n, (pk, (_, month)) in enumerate(zip(ids, keys, strict=True)):
            fee = Decimal(999)
            usage = Decimal(n % 500) + Decimal("0.37")
            totals[pk] = fee + usage
            lines.append((pk, "prepaid", f"IM Pro edition: prepaid term {month:%b %Y}", 1, fee,
                          fee, fee, f"0-1-{month:%Y%m%d}"))  # fmt: skip
            lines.append((pk, "usage", f"Cloud moderation, {month:%b %Y}", usage * 1000,
                          Decimal("0.001"), usage, usage, "0-2-0060"))  # fmt: skip
        copy_rows(
            "billing_invoiceline",
            ("invoice_id", "kind", "description", "quantity", "unit_price", "exact_amount",
             "amount", "sort_key"),
            lines,
        )  # fmt: skip
        # Issue them in month order with gapless numbers of the year they were issued in.
        numbers: dict[int, str] = {}
        by_year = defaultdict(list)
        for pk, (_, month) in zip(ids, keys, strict=True):
            by_year[(month + dt.timedelta(days=32)).year].append((month, pk))
        for year, items in by_year.items():
            sequence, _ = DocumentSequence.objects.select_for_update().get_or_create(
                kind="invoice", year=year
            )
            for _month, pk in sorted(items):
                sequence.last_number += 1
                numbers[pk] = f"INV-{year}-{sequence.last_number:06d}"
            sequence.save(update_fields=["last_number"])
        cursor.execute(
            """
            UPDATE billing_invoice AS i
            SET state = 'paid', number = v.number, total = v.total,
                finalized_at = (i.month + interval '1 month')::date + time '02:00',
                paid_at = (i.month + interval '1 month')::date + time '10:00',
                due_date = (i.month + interval '1 month' + interval '7 days')::date,
                billing_snapshot = jsonb_build_object('name', a.name, 'billing_email',
                                                      a.billing_email)
            FROM unnest(%s::bigint[], %s::varchar[], %s::numeric[]) AS v(id, number, total),
                 accounts_account AS a
            WHERE i.id = v.id AND a.id = i.account_id
            """,
            [ids, [numbers[pk] for pk in ids], [totals[pk] for pk in ids]],
        )
    return len(keys)

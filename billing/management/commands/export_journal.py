import sys
from collections import defaultdict
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError

from billing.calendar import parse_month
from billing.reports.journal import journal_csv, journal_for_month


class Command(BaseCommand):
    help = (
        "Print the accounting journal of a month as CSV (date,entry,account,debit,credit,"
        "currency,reference): invoices finalized, prepaid terms recognized, credit notes, "
        "payments and voids, as double entries per currency. A summary goes to stderr."
    )

    def add_arguments(self, parser):
        parser.add_argument("--month", required=True, help="YYYY-MM")

    def handle(self, *args, month, **options):
        try:
            first = parse_month(month)
        except ValueError as error:
            raise CommandError(f"--month: {error}") from None
        entries = journal_for_month(first)
        self.stdout.write(journal_csv(entries), ending="")
        debits: dict[str, Decimal] = defaultdict(Decimal)
        credits: dict[str, Decimal] = defaultdict(Decimal)
        for entry in entries:
            debits[entry.currency] += entry.debits
            credits[entry.currency] += entry.credits
        totals = ", ".join(
            f"{currency} debits {debits[currency]:.2f} credits {credits[currency]:.2f}"
            for currency in sorted(debits)
        )
        print(f"{month}: {len(entries)} entries; {totals or 'nothing posted'}", file=sys.stderr)

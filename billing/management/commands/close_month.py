from django.core.management.base import BaseCommand, CommandError

from billing.calendar import parse_month
from billing.models import Invoice
from billing.services.jobs import close_month

from ._progress import StderrProgress


class Command(BaseCommand):
    help = (
        "Rate the monthly items of a month (IM overage, postpaid add-ons) and finalize its "
        "invoices. Run it after the month's last day is rated. Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument("--month", required=True, help="YYYY-MM")

    def handle(self, *args, month, **options):
        try:
            first = parse_month(month)
        except ValueError as error:
            raise CommandError(f"--month: {error}") from None
        run = close_month(month=first, progress=StderrProgress(f"close {month}"))
        finalized = Invoice.objects.filter(month=first).exclude(state=Invoice.State.DRAFT)
        self.stdout.write(
            f"{month} {run.state} invoices_finalized={finalized.count()} "
            + " ".join(f"{key}={value}" for key, value in run.summary.items())
        )

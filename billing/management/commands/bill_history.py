import datetime as dt

from django.core.management.base import BaseCommand
from django.db.models import Min

from billing.calendar import billing_today, month_start
from billing.models import Invoice, RatedDay, UsageEvent
from billing.services.jobs import bill_day, close_month

from ._progress import StderrProgress


class Command(BaseCommand):
    help = (
        "Backfill: rate every day from the first usage up to yesterday that is not rated yet, "
        "and close every complete month whose invoices are still drafts. Idempotent."
    )

    def handle(self, *args, **options):
        first = UsageEvent.objects.aggregate(first=Min("billing_day"))["first"]
        yesterday = billing_today() - dt.timedelta(days=1)
        if first is None:
            self.stdout.write("nothing to rate: no usage events")
            return
        rated = set(RatedDay.objects.values_list("day", flat=True).distinct())
        day, days_rated, months_closed = first, 0, 0
        while day <= yesterday:
            if day not in rated:
                bill_day(day=day, progress=StderrProgress(f"rate {day}"))
                days_rated += 1
            next_day = day + dt.timedelta(days=1)
            if next_day.day == 1 and next_day <= yesterday + dt.timedelta(days=1):
                month = month_start(day)
                if Invoice.objects.filter(month=month, state=Invoice.State.DRAFT).exists():
                    close_month(month=month, progress=StderrProgress(f"close {month:%Y-%m}"))
                    months_closed += 1
            day = next_day
        self.stdout.write(f"days rated {days_rated}, months closed {months_closed}")

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from billing.calendar import parse_day
from billing.models import Application
from billing.services.jobs import bill_day

from ._progress import StderrProgress


class Command(BaseCommand):
    help = (
        "Rate one billing day (or a range, for backfills) for every application or one "
        "SDKAppID. Idempotent: rerunning changes nothing. Prints a summary per day."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", help="YYYY-MM-DD, the billing day")
        parser.add_argument("--from", dest="start", help="YYYY-MM-DD, first day of a range")
        parser.add_argument("--to", dest="end", help="YYYY-MM-DD, last day of a range")
        parser.add_argument("--application", type=int, help="SDKAppID")

    def handle(self, *args, date, start, end, application, **options):
        try:
            if date and not (start or end):
                days = [parse_day(date)]
            elif start and end and not date:
                first, last = parse_day(start), parse_day(end)
                if last < first:
                    raise CommandError("--to is before --from")
                days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
            else:
                raise CommandError("give --date YYYY-MM-DD, or --from and --to")
        except ValueError as error:
            raise CommandError(str(error)) from None
        if (
            application is not None
            and not Application.objects.filter(sdkappid=application).exists()
        ):
            raise CommandError(f"--application: no application with SDKAppID {application}")
        for day in days:
            run = bill_day(day=day, sdkappid=application, progress=StderrProgress(str(day)))
            summary = " ".join(f"{key}={value}" for key, value in run.summary.items())
            self.stdout.write(f"{day} {run.state} {summary}")

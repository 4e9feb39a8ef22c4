from django.core.management.base import BaseCommand, CommandError

from billing.calendar import parse_day
from billing.errors import BillingError
from billing.models import Application
from billing.services.applications import edition_change


class Command(BaseCommand):
    help = (
        "Change an application's IM edition as the portal would. --effective backdates the "
        "change (customers migrated from another system): it creates exactly what the portal "
        "would have created on that day; a prepaid fee lands on the invoice of the month in "
        "which its term starts."
    )

    def add_arguments(self, parser):
        parser.add_argument("--application", type=int, required=True, help="SDKAppID")
        parser.add_argument("--edition", required=True, choices=["trial", "pro", "ultimate"])
        parser.add_argument("--effective", help="YYYY-MM-DD (default: today)")

    def handle(self, *args, application, edition, effective, **options):
        app = Application.objects.filter(sdkappid=application).first()
        if app is None:
            raise CommandError(f"--application: no application with SDKAppID {application}")
        try:
            day = parse_day(effective) if effective else None
            period = edition_change(application=app, edition_code=edition, effective=day)
        except ValueError as error:
            raise CommandError(f"--effective: {error}") from None
        except BillingError as error:
            raise CommandError(f"--{error.field or 'edition'}: {error.message}") from None
        self.stdout.write(f"{application} {period.edition.code} from {period.starts_on}")

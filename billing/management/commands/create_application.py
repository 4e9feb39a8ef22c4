from django.core.management.base import BaseCommand, CommandError

from accounts.models import Account
from billing.calendar import parse_day
from billing.errors import BillingError
from billing.models import Region
from billing.services.applications import application_create

# The service's field names as this command spells its options.
OPTION_OF_FIELD = {"name": "--name", "region": "--region", "created_on": "--created-on"}


class Command(BaseCommand):
    help = (
        "Create an application on Trial as the portal would, and print its new SDKAppID. "
        "--created-on backdates the creation (customers migrated from another system; then "
        "`change_edition --effective` for their edition); a date in the future is refused."
    )

    def add_arguments(self, parser):
        parser.add_argument("--account", type=int, required=True, help="account id")
        parser.add_argument("--name", required=True, help="the application's name")
        parser.add_argument("--region", required=True, choices=Region.values)
        parser.add_argument("--created-on", help="YYYY-MM-DD, today or earlier (default: today)")

    def handle(self, *args, account, name, region, created_on, **options):
        owner = Account.objects.filter(pk=account).first()
        if owner is None:
            raise CommandError(f"--account: no account with id {account}")
        try:
            day = parse_day(created_on) if created_on else None
        except ValueError as error:
            raise CommandError(f"--created-on: {error}") from None
        try:
            application = application_create(
                account=owner, name=name, region=region, created_on=day
            )
        except BillingError as error:
            option = OPTION_OF_FIELD.get(error.field or "", "--account")
            raise CommandError(f"{option}: {error.message}") from None
        self.stdout.write(str(application.sdkappid))

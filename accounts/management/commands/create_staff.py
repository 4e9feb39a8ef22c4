from django.core.management.base import BaseCommand, CommandError

from accounts.services import AccountError, staff_create


class Command(BaseCommand):
    help = (
        "Create (or update the password of) a staff user for the admin; --finance puts it in "
        "the finance group, --support in the view-only support group. Prints the user id."
    )

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--finance", action="store_true")
        parser.add_argument("--support", action="store_true")

    def handle(self, *args, email, password, finance, support, **options):
        try:
            user, _ = staff_create(email=email, password=password, finance=finance, support=support)
        except AccountError as error:
            raise CommandError(f"--{error.field}: {error}") from None
        self.stdout.write(str(user.pk))

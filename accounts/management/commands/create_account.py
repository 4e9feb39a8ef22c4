from django.core.management.base import BaseCommand, CommandError

from accounts.services import AccountError, account_create


class Command(BaseCommand):
    help = "Create a customer account and its owner user; prints the account id."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", help="omit to create the owner without a password")

    def handle(self, *args, name, email, password, **options):
        try:
            account = account_create(name=name, email=email, password=password)
        except AccountError as error:
            raise CommandError(f"--{error.field}: {error}") from None
        self.stdout.write(str(account.pk))

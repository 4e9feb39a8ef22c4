from django.core.management.base import BaseCommand, CommandError

from accounts.models import Account
from accounts.services import api_key_create


class Command(BaseCommand):
    help = (
        "Create an API key and print it once (only its hash is stored). --service makes a key "
        "that may report usage for any application and do nothing else."
    )

    def add_arguments(self, parser):
        parser.add_argument("--account", type=int, help="account id (not with --service)")
        parser.add_argument("--service", action="store_true")
        parser.add_argument("--name", default="")

    def handle(self, *args, account, service, name, **options):
        if service == (account is not None):
            raise CommandError("give exactly one of --account ID or --service")
        owner = None
        if account is not None:
            owner = Account.objects.filter(pk=account).first()
            if owner is None:
                raise CommandError(
                    f"--account: no account with id {account} (create_account prints ids)"
                )
        _, raw_key = api_key_create(account=owner, is_service=service, name=name)
        self.stdout.write(raw_key)

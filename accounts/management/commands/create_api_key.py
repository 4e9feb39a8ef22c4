import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Account
from accounts.permissions import SCOPES
from accounts.services import AccountError, api_key_create


class Command(BaseCommand):
    help = (
        "Create an API key and print it once (only its hash is stored). --service makes a key "
        "that may report usage for any application and do nothing else. --scopes limits an "
        f"account key ({', '.join(SCOPES)}); without it the key has the account's full rights."
    )

    def add_arguments(self, parser):
        parser.add_argument("--account", type=int, help="account id (not with --service)")
        parser.add_argument("--service", action="store_true")
        parser.add_argument("--name", default="")
        parser.add_argument(
            "--scopes",
            default="",
            help="comma-separated, e.g. usage:write,billing:read (default: full account rights)",
        )
        parser.add_argument(
            "--expires-at",
            default=None,
            help="RFC 3339 instant after which the key stops working, "
            "e.g. 2027-01-01T00:00:00+08:00",
        )

    def handle(self, *args, account, service, name, scopes, expires_at, **options):
        if service == (account is not None):
            raise CommandError("give exactly one of --account ID or --service")
        owner = None
        if account is not None:
            owner = Account.objects.filter(pk=account).first()
            if owner is None:
                raise CommandError(
                    f"--account: no account with id {account} (create_account prints ids)"
                )
        expires = None
        if expires_at:
            try:
                expires = dt.datetime.fromisoformat(expires_at)
            except ValueError:
                expires = None
            if expires is None or expires.tzinfo is None:
                raise CommandError(
                    f"--expires-at: {expires_at!r} is not an RFC 3339 instant with an offset"
                )
        try:
            _, raw_key = api_key_create(
                account=owner, is_service=service, name=name, scopes=scopes, expires_at=expires
            )
        except AccountError as error:
            raise CommandError(
                f"--{(error.field or 'scopes').replace('_', '-')}: {error}"
            ) from None
        self.stdout.write(raw_key)

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Account
from billing.calendar import month_end, parse_month
from billing.models import UsageEvent
from billing.services.restatements import restatements_refresh


class Command(BaseCommand):
    help = (
        "Compute the restatements of a closed month (late usage, SPEC 6): for every account "
        "with late events in it, the affected items rated again, against what was billed. "
        "Pending ones are recomputed; decided ones stay. Idempotent. Review them in the admin "
        "or GET /api/v1/restatements?state=pending."
    )

    def add_arguments(self, parser):
        parser.add_argument("--month", required=True, help="YYYY-MM, a closed month")
        parser.add_argument("--account", type=int, help="only this account id")

    def handle(self, *args, month, account=None, **options):
        try:
            first = parse_month(month)
        except ValueError as error:
            raise CommandError(f"--month: {error}") from None
        events = UsageEvent.objects.filter(billing_day__range=(first, month_end(first)), late=True)
        if account is not None:
            if not Account.objects.filter(pk=account).exists():
                raise CommandError(f"--account: no account {account}; see the admin's accounts.")
            events = events.filter(application__account_id=account)
        account_ids = sorted(set(events.values_list("application__account_id", flat=True)))
        totals = {"created": 0, "recomputed": 0, "unchanged": 0, "auto_approved": 0}
        for done, account_id in enumerate(account_ids, start=1):
            result = restatements_refresh(account_id=account_id, month=first)
            for name in totals:
                totals[name] += getattr(result, name)
            for restatement in result.restatements:
                self.stdout.write(
                    f"restatement {restatement.pk} account={account_id} "
                    f"{restatement.currency} {month} {restatement.state} "
                    f"difference={restatement.difference} lines={restatement.lines.count()}"
                )
            self.stderr.write(f"restate {month}: account {done}/{len(account_ids)}")
        self.stdout.write(
            f"{month} accounts={len(account_ids)} "
            + " ".join(f"{name}={value}" for name, value in totals.items())
        )

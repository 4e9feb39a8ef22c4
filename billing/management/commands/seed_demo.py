"""Demo data: three customer accounts with applications in both regions, every edition, add-ons,
resource packs and ``--days`` days of usage ending yesterday (billing time zone).

Everything goes through the services (accounts, applications, ingestion), backdated with their
``created_on`` / ``effective`` / ``day`` arguments. The command is idempotent:

- accounts are found by name and owner e-mail, applications by their fixed SDKAppIDs; an
  application that exists is not set up again (its account was set up in one transaction);
- event ids are deterministic (``demo-<sdkappid>-<day>-<metric>-<n>``) and the content of one
  application's day is a pure function of (seed, SDKAppID, day, edition on that day, days since
  the application was created), so a second run stores nothing and reports every event as a
  duplicate, also when run on a later day or with another ``--days``.

stdout gets one summary line; progress goes to stderr.
"""

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email
from django.db import DatabaseError, transaction

from accounts.models import Account, Membership
from accounts.services import AccountError, account_create
from billing.calendar import billing_today, month_start
from billing.demo.plans import PLANS, AccountPlan, AppPlan
from billing.demo.usage import day_events
from billing.errors import BillingError
from billing.models import Application, Edition, EditionPeriod, Invoice, UsageEvent
from billing.services.applications import (
    addon_subscribe,
    application_create,
    edition_change,
    resource_pack_purchase,
    terms_renew,
)
from billing.services.ingestion import (
    MAX_BATCH,
    SYSTEM,
    IngestionRejected,
    usage_events_ingest,
)

# The plans (accounts, applications, what they buy) are data in billing/demo/plans.py; the
# events of one application-day are made by billing/demo/usage.py.
ONE_DAY = dt.timedelta(days=1)
MAX_DAYS = 400


# --------------------------------------------------------------------------------------------
# The command
# --------------------------------------------------------------------------------------------


@dataclass
class Totals:
    accounts: int = 0
    accounts_new: int = 0
    applications: int = 0
    applications_new: int = 0
    accepted: int = 0
    duplicates: int = 0
    closed: int = 0  # events of months whose invoice is finalized that are not stored


class Command(BaseCommand):
    help = (
        "Create demo accounts, applications, editions, add-ons, resource packs and --days days "
        "of usage ending yesterday. Idempotent: a second run creates nothing. Prints one "
        "summary line on stdout; progress goes to stderr."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=60, help="days of usage (default 60)")
        parser.add_argument("--customer-email", default="demo@example.com")
        parser.add_argument("--customer-password", default="demo-customer-pw")
        parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")

    def progress(self, message: str) -> None:
        self.stderr.write(message, style_func=str)

    def handle(self, *args, days, customer_email, customer_password, seed, **options):
        if not 1 <= days <= MAX_DAYS:
            raise CommandError(f"--days must be between 1 and {MAX_DAYS}; got {days}.")
        customer_email = (customer_email or "").strip().lower()
        try:
            validate_email(customer_email)
        except ValidationError:
            raise CommandError(
                f"--customer-email: {customer_email!r} is not an e-mail address."
            ) from None
        if not customer_password:
            raise CommandError("--customer-password must not be empty.")
        try:
            price_book_loaded = Edition.objects.filter(code="trial").exists()
        except DatabaseError as error:
            raise CommandError(
                f"The database is not ready ({error}): run `manage.py migrate` first."
            ) from None
        if not price_book_loaded:
            raise CommandError("The reference price book is missing: run `manage.py migrate`.")

        yesterday = billing_today() - ONE_DAY
        start = yesterday - dt.timedelta(days=days - 1)
        totals = Totals()
        accounts: list[tuple[AccountPlan, Account, list]] = []
        for plan in PLANS:
            email = plan.email or customer_email
            account, apps = self._account_ensure(
                plan, email, customer_password, start, yesterday, totals
            )
            accounts.append((plan, account, apps))
            self.progress(
                f"account {account.name} ({email}): "
                + ", ".join(f"{app.sdkappid} {app.region}" for _, app in apps)
            )
        for _plan, _account, apps in accounts:
            for _app_plan, application in apps:
                application.refresh_from_db()
                terms_renew(application=application, day=yesterday)

        for plan, account, apps in accounts:
            self._usage_ingest(plan, account, apps, start, yesterday, seed, totals)

        self.stdout.write(
            f"accounts {totals.accounts} ({totals.accounts_new} new), "
            f"applications {totals.applications} ({totals.applications_new} new), "
            f"events accepted {totals.accepted}, duplicates {totals.duplicates}"
            + (f", not stored (month closed) {totals.closed}" if totals.closed else "")
        )

    # ---- accounts, applications and what they bought ----------------------------------------

    def _account_ensure(self, plan, email, password, start, yesterday, totals):
        try:
            with transaction.atomic():
                account = (
                    Account.objects.filter(
                        name=plan.name,
                        memberships__user__username=email,
                        memberships__role=Membership.Role.OWNER,
                    )
                    .order_by("pk")
                    .first()
                )
                if account is None:
                    account = account_create(name=plan.name, email=email, password=password)
                    totals.accounts_new += 1
                totals.accounts += 1
                apps = []
                for app_plan in plan.apps:
                    application = Application.objects.filter(sdkappid=app_plan.sdkappid).first()
                    if application is None:
                        application = self._application_setup(account, app_plan, start, yesterday)
                        totals.applications_new += 1
                    elif application.account_id != account.pk:
                        raise CommandError(
                            f"SDKAppID {app_plan.sdkappid} belongs to account "
                            f"{application.account} (id {application.account_id}), not to the "
                            f"demo account {plan.name}: seed an empty database, or remove that "
                            "application."
                        )
                    totals.applications += 1
                    apps.append((app_plan, application))
        except (BillingError, AccountError) as error:
            raise CommandError(
                f"Setting up the demo account {plan.name} failed: {error} Nothing of this "
                "account was saved. Check that the price book is migrated, then run seed_demo "
                "again (on an empty database if the data was changed by hand)."
            ) from None
        return account, apps

    def _application_setup(self, account, plan: AppPlan, start, yesterday) -> Application:
        application = application_create(
            account=account,
            name=plan.name,
            region=plan.region,
            created_on=start,
            sdkappid=plan.sdkappid,
        )
        for step in plan.steps:
            planned = yesterday if step.offset is None else start + dt.timedelta(step.offset)
            if planned > yesterday and step.optional:
                continue
            day = min(planned, yesterday)
            # What the daily job would have renewed by then.
            terms_renew(application=application, day=day)
            if step.kind == "edition":
                edition_change(application=application, edition_code=step.code, effective=day)
            elif step.kind == "addon":
                addon_subscribe(application=application, item_code=step.code, day=day)
            elif step.kind == "pack":
                resource_pack_purchase(application=application, item_code=step.code, day=day)
            else:  # pragma: no cover - a typo in PLANS
                raise ValueError(f"unknown step kind {step.kind!r}")
        return application

    # ---- usage -------------------------------------------------------------------------------

    def _usage_ingest(self, plan, account, apps, start, yesterday, seed, totals) -> None:
        # A month whose invoice is finalized takes no more usage, not even duplicates
        # (period_closed): its events are counted as duplicates when stored, never sent.
        closed_months = set(
            Invoice.objects.filter(account=account)
            .exclude(state=Invoice.State.DRAFT)
            .values_list("month", flat=True)
        )
        timelines = {application.sdkappid: _timeline(application) for _, application in apps}
        days = (yesterday - start).days + 1
        batch = MAX_BATCH
        buffer: list = []
        accepted_before, duplicates_before = totals.accepted, totals.duplicates
        for index in range(days):
            day = start + dt.timedelta(index)
            for app_plan, application in apps:
                created_on, edition_of = timelines[application.sdkappid]
                if day < created_on:
                    continue  # the application did not exist yet
                events = day_events(app_plan, day, edition_of(day), (day - created_on).days, seed)
                if month_start(day) in closed_months:
                    stored = set(
                        UsageEvent.objects.filter(
                            application=application, billing_day=day
                        ).values_list("event_id", flat=True)
                    )
                    known = sum(1 for event in events if event["id"] in stored)
                    totals.duplicates += known
                    totals.closed += len(events) - known
                    continue
                buffer += events
                while len(buffer) >= batch:
                    self._ingest(buffer[:batch], totals)
                    del buffer[:batch]
            if index + 1 == days and buffer:
                self._ingest(buffer, totals)
            if (index + 1) % 10 == 0 or index + 1 == days:
                self.progress(
                    f"  {plan.name}: usage to {day} ({index + 1}/{days} days): "
                    f"{totals.accepted - accepted_before} accepted, "
                    f"{totals.duplicates - duplicates_before} duplicates"
                )

    def _ingest(self, events: list, totals: Totals) -> None:
        try:
            result = usage_events_ingest(events=events, caller=SYSTEM)
        except IngestionRejected as rejected:
            details = "; ".join(_error_text(events, error) for error in rejected.errors[:3])
            if rejected.conflict:
                hint = (
                    "Events with these ids were stored before with other content: run with the "
                    "--seed of the first run, or seed an empty database."
                )
            elif rejected.period_closed:
                hint = (
                    "The invoice of that month is finalized: seed an empty database, or fewer "
                    "--days so the history stays in months still open."
                )
            else:
                hint = "This is a bug in seed_demo or in the ingestion; report it."
            raise CommandError(
                f"Usage ingestion refused a batch ({len(rejected.errors)} error(s): {details}). "
                f"{hint}"
            ) from None
        totals.accepted += result.accepted
        totals.duplicates += result.duplicates


def _timeline(application: Application):
    """The application's first day and a look-up of its edition code on a day."""
    periods = list(
        EditionPeriod.objects.filter(application=application)
        .select_related("edition")
        .order_by("starts_on")
    )
    created_on = periods[0].starts_on

    def edition_of(day: dt.date) -> str:
        code = periods[0].edition.code
        for period in periods:
            if period.starts_on <= day:
                code = period.edition.code
        return code

    return created_on, edition_of


def _error_text(events: list, error) -> str:
    """One ingestion error, naming the event unless the message already does."""
    event_id = events[error.index].get("id") if 0 <= error.index < len(events) else None
    if event_id and event_id not in error.message:
        return f"{event_id}: {error.field}: {error.message}"
    return error.message

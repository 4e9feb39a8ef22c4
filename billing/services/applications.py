"""Writes about applications and what they buy: create, change edition, add-ons, resource
packs, term renewals (SPEC 3, 4.1, 4.3, 4.4).

Every function validates first and writes in one transaction. Purchases become invoice lines
of the month in which their term starts (``billing.services.invoicing``)."""

import datetime as dt
import random

from django.db import IntegrityError, transaction

from accounts.models import Account
from billing import catalog
from billing.audit import audit_record_create
from billing.calendar import billing_today, billing_tz
from billing.errors import BillingError
from billing.models import (
    AddOnSubscription,
    Application,
    BillableItem,
    Edition,
    EditionPeriod,
    Region,
    ResourcePack,
)
from billing.rating.terms import proration_credit, term_start
from billing.selectors.editions import (
    edition_change_refusal_check,
    edition_item,
    edition_on,
)
from billing.selectors.invoices import month_open_check
from billing.services.invoicing import invoices_mark_stale
from billing.services.terms import (  # noqa: F401 (terms_renew*: their older import path)
    term_create,
    term_running,
    terms_renew,
    terms_renew_bulk,
)
from notifications import outbox

ONE_DAY = dt.timedelta(days=1)


# The operating system's randomness: a seeded global ``random`` (tests, libraries) would hand
# every process the same sequence of SDKAppIDs.
_SDKAPPID_RANDOM = random.SystemRandom()


SDKAPPID_RANGE = (1_400_000_000, 1_499_999_999)


# --------------------------------------------------------------------------------------------
# Applications
# --------------------------------------------------------------------------------------------


def application_create(
    *,
    account: Account,
    name: str,
    region: str,
    actor=None,
    created_on: dt.date | None = None,
    sdkappid: int | None = None,
) -> Application:
    """A new application on Trial (SPEC 2: a new application starts on Trial)."""
    name = (name or "").strip()
    if not name:
        raise BillingError("Give the application a name.", code="required", field="name")
    if len(name) > 100:
        raise BillingError("The name is longer than 100 characters.", code="invalid", field="name")
    if region not in Region.values:
        raise BillingError(
            f"Unknown region {region!r}; choose one of {', '.join(Region.values)}.",
            code="invalid",
            field="region",
        )
    today = billing_today()
    day = created_on or today
    if day > today:
        # An application cannot have existed before it is created: its Trial would start
        # on a day no usage has been reported for, and the day's jobs have not run yet.
        raise BillingError(
            f"{day:%Y-%m-%d} is in the future (today is {today:%Y-%m-%d}); give today or an "
            "earlier day.",
            code="future_date",
            field="created_on",
        )
    trial = catalog.edition_by_code("trial")
    for _attempt in range(10):
        candidate = sdkappid or _SDKAPPID_RANDOM.randint(*SDKAPPID_RANGE)
        try:
            with transaction.atomic():
                application = Application.objects.create(
                    sdkappid=candidate, account=account, name=name, region=region
                )
                if created_on is not None and created_on < billing_today():
                    # Backdated (seed_demo, an operator's import): usage is accepted from its
                    # creation day on (ingestion refuses earlier timestamps).
                    application.created_at = dt.datetime.combine(
                        created_on, dt.time.min, billing_tz()
                    )
                    Application.objects.filter(pk=application.pk).update(
                        created_at=application.created_at
                    )
                EditionPeriod.objects.create(
                    application=application, edition=trial, starts_on=day, created_by=actor
                )
                audit_record_create(
                    actor=actor,
                    action="application.create",
                    target=application,
                    account=account,
                    after={"sdkappid": candidate, "region": region, "edition": "trial"},
                )
                outbox.record("application.created", application)
                return application
        except IntegrityError:
            if sdkappid is not None:
                raise BillingError(
                    f"SDKAppID {sdkappid} is taken.", code="taken", field="sdkappid"
                ) from None
    raise BillingError("Could not allocate an SDKAppID; try again.", code="busy")


def edition_change(
    *,
    application: Application,
    edition_code: str,
    actor=None,
    effective: dt.date | None = None,
) -> EditionPeriod:
    """Change the IM edition (SPEC 4.1).

    - Trial to Pro or Ultimate, and Pro to Ultimate: at once; a new term starts that day.
      From Pro, the unused days of the Pro term come back as a proration credit.
    - Ultimate to Pro: when the current Ultimate term ends.
    - Never back to Trial.
    Returns the new edition period (which may start in the future for a downgrade).
    ``effective`` backdates the change (migrations from another system); default today.
    """
    target = catalog.edition_by_code(edition_code)
    day = effective or billing_today()
    with transaction.atomic():
        application = Application.objects.select_for_update().get(pk=application.pk)
        period = edition_change_refusal_check(application=application, target=target, day=day)
        current = period.edition
        # The edition's price must exist in this region before anything is written.
        catalog.price_entry_in_force(item=edition_item(target), region=application.region, day=day)
        before = {"edition": current.code}
        if target.rank > current.rank:
            new_period = _upgrade(application, period, target, day, actor)
        else:
            new_period = _schedule_downgrade(application, period, target, day, actor)
        audit_record_create(
            actor=actor,
            action="application.edition_change",
            target=application,
            account=application.account,
            before=before,
            after={"edition": target.code, "starts_on": new_period.starts_on},
        )
        outbox.record(
            "application.edition_changed",
            application,
            data={
                "edition": {
                    "from": current.code,
                    "to": target.code,
                    "starts_on": str(new_period.starts_on),
                }
            },
        )
        return new_period


def _upgrade(application, period, target, day, actor) -> EditionPeriod:
    old_item = edition_item(period.edition)
    term = term_running(application, old_item, day)
    if term is not None:
        credit, _ = proration_credit(term.amount, term.starts_on, term.ends_on, day, term.currency)
        term.cut_on = day
        term.credit_amount = credit
        term.save(update_fields=["cut_on", "credit_amount"])
        invoices_mark_stale(account_id=application.account_id, day=day)
    if period.starts_on == day:
        # The old edition never had a whole day: it is replaced, not ended.
        period.delete()
    else:
        period.ends_on = day - ONE_DAY
        period.save(update_fields=["ends_on"])
    new_period = EditionPeriod.objects.create(
        application=application, edition=target, starts_on=day, created_by=actor
    )
    term_create(
        application=application, item=edition_item(target), anchor=day, index=0, actor=actor
    )
    _end_edition_addons(application, period.edition, day, actor)
    return new_period


def _end_edition_addons(application, edition: Edition, day: dt.date, actor) -> None:
    """The options sold for one edition only (AVChatRoom for Pro, the Pro group limits, Pro
    message history) end when the application leaves that edition on ``day``: a prepaid term
    is cut with the same proration credit as the edition's, so nothing is paid twice (Ultimate
    includes AVChatRoom). The customer buys the new edition's option if they want it."""
    running = AddOnSubscription.objects.select_for_update().filter(
        application=application, item__edition=edition, starts_on__lte=day, ends_on__isnull=True
    )
    for subscription in running.select_related("item", "addon"):
        term = term_running(application, subscription.item, day)
        if term is not None and term.cut_on is None:
            credit, _ = proration_credit(
                term.amount, term.starts_on, term.ends_on, day, term.currency
            )
            term.cut_on = day
            term.credit_amount = credit
            term.save(update_fields=["cut_on", "credit_amount"])
        subscription.ends_on = max(day - ONE_DAY, subscription.starts_on)
        subscription.save(update_fields=["ends_on"])
        audit_record_create(
            actor=actor,
            action="addon.end",
            target=subscription,
            account=application.account,
            after={"ends_on": subscription.ends_on, "credit_on": day},
            reason=f"the application left the {edition.name} edition",
        )
    invoices_mark_stale(account_id=application.account_id, day=day)


def _schedule_downgrade(application, period, target, day, actor) -> EditionPeriod:
    term = term_running(application, edition_item(period.edition), day)
    switch_on = (term.ends_on + ONE_DAY) if term is not None else day
    if switch_on == period.starts_on:
        period.delete()
    else:
        period.ends_on = switch_on - ONE_DAY
        period.save(update_fields=["ends_on"])
    new_period = EditionPeriod.objects.create(
        application=application, edition=target, starts_on=switch_on, created_by=actor
    )
    if switch_on <= day:
        term_create(
            application=application, item=edition_item(target), anchor=day, index=0, actor=actor
        )
    _end_edition_addons(application, period.edition, switch_on, actor)
    return new_period


# --------------------------------------------------------------------------------------------
# Renewals (run by the daily job, and by a customer bringing a lapsed application back)
# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# Add-ons and resource packs
# --------------------------------------------------------------------------------------------


def addon_subscribe(
    *, application: Application, item_code: str, actor=None, day: dt.date | None = None
) -> AddOnSubscription:
    """Buy one option of an add-on (SPEC 4.3): Pro and Ultimate only (local moderation:
    every edition), one option of each add-on at a time. A prepaid option starts its first
    term today; a postpaid one accrues by day."""
    day = day or billing_today()
    item = catalog.item_by_code(item_code)
    if item.addon is None:
        raise BillingError(f"{item.name} is not an add-on.", code="invalid", field="item")
    month_open_check(application, day)
    with transaction.atomic():
        application = Application.objects.select_for_update().get(pk=application.pk)
        if application.status != Application.Status.ACTIVE:
            raise BillingError(
                f"Application {application.sdkappid} is {application.status}.",
                code="not_active",
                field="application",
            )
        edition = edition_on(application, day)
        if item.addon.requires_addon_edition and not edition.may_buy_addons:
            raise BillingError(
                f"{edition.name} cannot buy value-added services: upgrade to Pro or Ultimate.",
                code="edition_not_allowed",
                field="item",
            )
        if item.edition_id is not None and item.edition_id != edition.pk:
            raise BillingError(
                f"{item.name} is sold for {item.edition.name}, not {edition.name}.",
                code="edition_not_allowed",
                field="item",
            )
        catalog.price_entry_in_force(item=item, region=application.region, day=day)
        running = AddOnSubscription.objects.filter(
            application=application, addon=item.addon, ends_on__isnull=True
        ).first()
        if running is not None:
            raise BillingError(
                f"{item.addon.name} is already running ({running.item.name}); cancel it before "
                "buying another option.",
                code="addon_running",
                field="item",
            )
        subscription = AddOnSubscription.objects.create(
            application=application,
            addon=item.addon,
            item=item,
            starts_on=day,
            created_by=actor,
        )
        if item.addon.billing == item.addon.Billing.PREPAID:
            term_create(
                application=application,
                item=item,
                anchor=day,
                index=0,
                actor=actor,
                subscription=subscription,
            )
        else:
            invoices_mark_stale(account_id=application.account_id, day=day)
        audit_record_create(
            actor=actor,
            action="addon.subscribe",
            target=subscription,
            account=application.account,
            after={"item": item.code, "starts_on": day},
        )
        outbox.application_changed(application)
        return subscription


def addon_cancel(
    *, subscription: AddOnSubscription, actor=None, day: dt.date | None = None
) -> AddOnSubscription:
    """Stop an add-on. A prepaid option runs to the end of the term already paid and is not
    renewed; a postpaid option accrues up to and including the day of cancellation."""
    day = day or billing_today()
    with transaction.atomic():
        subscription = AddOnSubscription.objects.select_for_update().get(pk=subscription.pk)
        if subscription.ends_on is not None:
            raise BillingError("This add-on is already cancelled.", code="cancelled", field="id")
        ends_on = day
        if subscription.addon.billing == subscription.addon.Billing.PREPAID:
            term = term_running(subscription.application, subscription.item, day)
            if term is not None:
                ends_on = term.ends_on
        subscription.ends_on = max(ends_on, subscription.starts_on)
        subscription.save(update_fields=["ends_on"])
        invoices_mark_stale(account_id=subscription.application.account_id, day=day)
        audit_record_create(
            actor=actor,
            action="addon.cancel",
            target=subscription,
            account=subscription.application.account,
            after={"ends_on": subscription.ends_on},
        )
        outbox.application_changed(subscription.application)
        return subscription


def resource_pack_purchase(
    *, application: Application, item_code: str, actor=None, day: dt.date | None = None
) -> ResourcePack:
    """Buy a prepaid resource pack (SPEC 4.4), valid from today for its validity months."""
    day = day or billing_today()
    item = catalog.item_by_code(item_code)
    if item.kind != BillableItem.Kind.RESOURCE_PACK:
        raise BillingError(f"{item.name} is not a resource pack.", code="invalid", field="item")
    entry = catalog.price_entry_in_force(item=item, region=application.region, day=day)
    month_open_check(application, day)
    if application.status == Application.Status.CLOSED:
        raise BillingError(
            f"Application {application.sdkappid} is closed.", code="closed", field="application"
        )
    with transaction.atomic():
        pack = ResourcePack.objects.create(
            application=application,
            item=item,
            price_entry=entry,
            covers=item.covers,
            units_total=entry.included_quantity,
            valid_from=day,
            valid_until=term_start(day, entry.validity_months) - ONE_DAY,
            currency=entry.price_book.currency,
            amount=entry.unit_price,
            created_by=actor,
        )
        invoices_mark_stale(account_id=application.account_id, day=day)
        audit_record_create(
            actor=actor,
            action="resource_pack.purchase",
            target=pack,
            account=application.account,
            after={"item": item.code, "amount": pack.amount, "valid_until": pack.valid_until},
        )
        return pack

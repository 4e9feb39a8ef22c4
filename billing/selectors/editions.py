"""Editions and terms: which edition period covers a day, what an edition includes in a
region, and the refusals an edition change meets (asked by the change and its preview)."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from django.db.models import Q

from billing import catalog
from billing.errors import BillingError
from billing.models import (
    Application,
    Edition,
    EditionPeriod,
)
from billing.money import round_money
from billing.selectors.invoices import month_open_check


def period_covering(periods: list, day: dt.date):
    """Of ``periods`` (``EditionPeriod`` or ``PeriodRow``, ordered by start), the
    latest-starting one that covers ``day``."""
    found = None
    for period in periods:
        if period.starts_on <= day and (period.ends_on is None or period.ends_on >= day):
            found = period
    return found


def current_period(application: Application, day: dt.date) -> EditionPeriod:
    """The edition period covering ``day`` (the latest period when day is in the future)."""
    periods = list(application.edition_periods.select_related("edition").order_by("starts_on"))
    found = period_covering(periods, day)
    if found is None:
        raise BillingError(
            f"Application {application.sdkappid} has no edition on {day}.",
            code="no_edition",
            field="effective",
        )
    return found


def edition_on(application: Application, day: dt.date) -> Edition:
    return current_period(application, day).edition


def edition_change_refusal_check(
    *, application: Application, target: Edition, day: dt.date
) -> EditionPeriod:
    """Raise the BillingError an edition change to ``target`` on ``day`` meets (Trial, a
    closed application, a finalized month, a change already scheduled, no change); else the
    edition period running on ``day``. The change and its preview both ask here."""
    if target.code == "trial":
        raise BillingError(
            "An application never goes back to Trial. Create a new application to use Trial.",
            code="trial_not_allowed",
            field="edition",
        )
    if application.status == Application.Status.CLOSED:
        raise BillingError(
            f"Application {application.sdkappid} is closed.", code="closed", field="application"
        )
    month_open_check(application, day)
    period = current_period(application, day)
    pending = application.edition_periods.filter(starts_on__gt=day).first()
    if pending is not None:
        raise BillingError(
            f"A change to {pending.edition.name} on {pending.starts_on} is already scheduled.",
            code="change_pending",
            field="edition",
        )
    if target == period.edition:
        raise BillingError(
            f"Application {application.sdkappid} is already on {period.edition.name}.",
            code="unchanged",
            field="edition",
        )
    return period


class PeriodRow(NamedTuple):
    """An edition period as the bulk jobs read it (what ``period_covering`` and the renewal
    check need, without a model instance per row)."""

    starts_on: dt.date
    ends_on: dt.date | None
    edition_id: int
    edition: Edition


def edition_periods_by_application(application_ids: list[int]) -> dict[int, list[PeriodRow]]:
    """Each application's edition periods (with their edition), ordered by start."""
    periods: dict[int, list[PeriodRow]] = {pk: [] for pk in application_ids}
    editions = {edition.pk: edition for edition in Edition.objects.all()}
    rows = (
        EditionPeriod.objects.filter(application_id__any=application_ids)
        .order_by("application_id", "starts_on")
        .values_list("application_id", "starts_on", "ends_on", "edition_id")
    )
    for application_id, starts_on, ends_on, edition_id in rows:
        periods[application_id].append(
            PeriodRow(starts_on, ends_on, edition_id, editions[edition_id])
        )
    return periods


def editions_on(applications: list[Application], today: dt.date):
    """Per application id: the edition period covering today and a later scheduled one."""
    periods = EditionPeriod.objects.filter(
        application_id__in=[app.pk for app in applications]
    ).filter(Q(ends_on__isnull=True) | Q(ends_on__gte=today))
    current, pending = {}, {}
    for period in periods.select_related("edition").order_by("starts_on"):
        if period.starts_on <= today:
            current[period.application_id] = period
        else:
            pending[period.application_id] = period
    return current, pending


def edition_item_code(edition: Edition) -> str:
    return f"im.edition.{edition.code}"


@dataclass
class EditionTerms:
    """What an edition includes in the application's region (SPEC 4.1)."""

    edition: Edition
    monthly_fee: Decimal
    currency: str
    dau_included: Decimal | None
    groups_included: Decimal | None


def edition_terms(edition: Edition, region: str, day: dt.date) -> EditionTerms:
    codes = [
        edition_item_code(edition),
        f"im.overage.dau.{edition.code}",
        f"im.overage.groups.{edition.code}",
    ]
    entries = catalog.price_entries_in_force(item_codes=codes, region=region, day=day)
    fee = entries.get(codes[0])
    if fee is None:
        raise BillingError(
            f"{edition.name} is not sold in region {region}.", code="not_sold", field="edition"
        )
    dau, groups = entries.get(codes[1]), entries.get(codes[2])
    return EditionTerms(
        edition=edition,
        monthly_fee=round_money(fee.unit_price, fee.currency),
        currency=fee.currency,
        dau_included=dau.included_quantity if dau else None,
        groups_included=groups.included_quantity if groups else None,
    )

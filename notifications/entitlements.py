"""What an application may do now (issue 16, item 5), for the IM and TRTC back ends.

The answer comes from the price book and the application's rows: status, edition and its
limits (included DAU and groups from the edition's price entries; hard for Trial), the add-ons
in force with their limits, call minutes left, and the paid features suspended because their
prepaid term lapsed (SPEC 5: ended more than 7 days ago without renewal). ``version`` is a
digest of all of it, so it changes whenever any of it changes."""

import datetime as dt
import hashlib
import json
import re
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q

from billing import catalog
from billing.calendar import billing_today
from billing.models import AddOnSubscription, Application, EditionPeriod, PrepaidTerm
from billing.selectors import packs_left

# The limits each add-on option grants (SPEC 4.3: the option's figure, also in its name).
ADDON_LIMITS = {
    "im.addon.avchatroom.pro": {"live_groups": "unlimited"},
    "im.addon.group_members.pro": {"members_per_group": 2000},
    "im.addon.group_members.ultimate": {"members_per_group": 6000},
    "im.addon.groups_per_user.pro": {"groups_per_user": 1000},
    "im.addon.groups_per_user.ultimate": {"groups_per_user": 3000},
}
# Ultimate includes unlimited live groups (SPEC 4.3: "- (included)").
EDITION_INCLUDES = {"ultimate": {"live_groups": "unlimited"}}


def _addon_limits(item, entry) -> dict:
    if item.code in ADDON_LIMITS:
        return dict(ADDON_LIMITS[item.code])
    history = re.search(r"\.(\d+)d$", item.code)
    if history:
        return {"message_history_days": int(history[1])}
    if item.covers == "call_minutes" and entry is not None:
        return {"call_minutes_per_month": int(entry.included_quantity or 0)}
    return {}


def _lapsed(term_end: dt.date | None, today: dt.date) -> bool:
    return term_end is not None and today - term_end > dt.timedelta(
        days=settings.PREPAID_LAPSE_DAYS
    )


def entitlements(*, application: Application, today: dt.date | None = None) -> dict:
    today = today or billing_today()
    period = (
        EditionPeriod.objects.filter(application=application, starts_on__lte=today)
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=today))
        .select_related("edition")
        .order_by("-starts_on")
        .first()
    )
    edition = period.edition if period else None
    code = edition.code if edition else None
    # The latest term end of each prepaid item of the application (one query).
    term_ends = dict(
        PrepaidTerm.objects.filter(application=application, starts_on__lte=today)
        .values("item__code")
        .annotate(last=Max("ends_on"))
        .values_list("item__code", "last")
    )
    suspended = []
    limits = {}
    if edition is not None:
        entries = catalog.price_entries_in_force(
            item_codes=[f"im.overage.dau.{code}", f"im.overage.groups.{code}"],
            region=application.region,
            day=today,
        )
        dau = entries.get(f"im.overage.dau.{code}")
        groups = entries.get(f"im.overage.groups.{code}")
        limits = {
            "dau_included": int(dau.included_quantity) if dau else None,
            "groups_included": int(groups.included_quantity) if groups else None,
            "hard_limits": edition.limits_are_hard,
            "message_history_days": edition.message_history_days,
            "may_buy_addons": edition.may_buy_addons,
            **EDITION_INCLUDES.get(code, {}),
        }
        edition_item = f"im.edition.{code}"
        if edition.may_buy_addons and _lapsed(term_ends.get(edition_item), today):
            suspended.append(
                {"item": edition_item, "term_ended_on": term_ends[edition_item].isoformat()}
            )
    addons = []
    running = (
        AddOnSubscription.objects.filter(application=application, starts_on__lte=today)
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=today))
        .select_related("item", "addon")
        .order_by("item__code")
    )
    for subscription in running:
        item = subscription.item
        entry = catalog.price_entries_in_force(
            item_codes=[item.code], region=application.region, day=today
        ).get(item.code)
        prepaid = subscription.addon.billing == "prepaid"
        if prepaid and _lapsed(term_ends.get(item.code), today):
            suspended.append({"item": item.code, "term_ended_on": term_ends[item.code].isoformat()})
            continue
        addons.append(
            {
                "item": item.code,
                "name": item.name,
                "starts_on": subscription.starts_on.isoformat(),
                "ends_on": subscription.ends_on.isoformat() if subscription.ends_on else None,
                "limits": _addon_limits(item, entry),
            }
        )
    paid_suspended = bool(suspended)
    if not paid_suspended:
        for addon in addons:
            limits.update(
                {k: v for k, v in addon["limits"].items() if k != "call_minutes_per_month"}
            )
    else:
        addons = []  # lapsed: it behaves as its edition's limits allow (SPEC 5)
    call_left = sum(
        (
            p.left
            for p in packs_left(applications=[application], today=today).get(application.pk, [])
            if p.pack.covers == "call_minutes"
        ),
        Decimal(0),
    )
    body = {
        "sdkappid": application.sdkappid,
        "status": application.status,
        "edition": code,
        "limits": limits,
        "addons": addons,
        "call_minutes_left": None if paid_suspended else f"{call_left.normalize():f}",
        "paid_features_suspended": paid_suspended,
        "suspended_features": suspended,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    body["version"] = hashlib.sha256(canonical.encode()).hexdigest()[:16]
    return body


def entitlements_check(*, application_ids: list[int], today: dt.date | None = None) -> int:
    """Record ``application.entitlements_changed`` (in the caller's transaction) for each
    application whose version differs from the one last announced. Returns how many."""
    from notifications.models import EntitlementsState
    from notifications.outbox import record

    changed = 0
    with transaction.atomic():
        known = dict(
            EntitlementsState.objects.filter(application_id__in=application_ids).values_list(
                "application_id", "version"
            )
        )
        for application in Application.objects.filter(pk__in=application_ids):
            answer = entitlements(application=application, today=today)
            if known.get(application.pk) == answer["version"]:
                continue
            EntitlementsState.objects.update_or_create(
                application=application, defaults={"version": answer["version"]}
            )
            record(
                "application.entitlements_changed",
                account_id=application.account_id,
                application_id=application.pk,
                data={"entitlements": answer},
            )
            changed += 1
    return changed


def lapse_candidates(today: dt.date) -> list[int]:
    """Applications whose prepaid term could have lapsed today or recently (the daily check)."""
    lapse = settings.PREPAID_LAPSE_DAYS
    window = (today - dt.timedelta(days=lapse + 3), today - dt.timedelta(days=lapse + 1))
    return list(
        PrepaidTerm.objects.filter(ends_on__range=window)
        .values_list("application_id", flat=True)
        .distinct()
    )

"""Charge drafts: what the pure rules of ``billing.rating`` make of aggregated usage, for a
day or a month. Written nowhere: the rating service stores them, estimates show them."""

import datetime as dt
from collections import defaultdict
from dataclasses import replace
from decimal import Decimal

from billing.calendar import days_in_month, month_end, month_start
from billing.models import (
    AddOnSubscription,
    Application,
    BillableItem,
)
from billing.money import ZERO
from billing.rating.im_overage import DayMeasure, rate_im_overage_month
from billing.rating.message_history import rate_message_history_month
from billing.rating.moderation import rate_moderation_day
from billing.rating.trtc import rate_trtc_day, seconds_to_minutes
from billing.rating.types import ChargeDraft, Price
from billing.selectors.prices import ALLOWANCE_ITEM, PriceCatalog, price_of
from billing.selectors.usage import (
    DayInputs,
    DayUsage,
    day_inputs,
    month_measures,
    postpaid_subscriptions,
)

MODERATION_ITEMS = {kind: f"im.moderation.{kind}" for kind in ("text", "image", "audio", "video")}


MODERATION_UNIT_ITEM = "im.moderation.unit"


def _allowance_left(price: Price | None, used: Decimal) -> Decimal:
    if price is None:
        return ZERO
    return max(ZERO, (price.included_quantity or ZERO) - used)


def rate_day_drafts(
    application: Application,
    day: dt.date,
    usage: DayUsage,
    catalog: PriceCatalog,
    inputs: DayInputs | None = None,
) -> list[ChargeDraft]:
    """The charges of one application and day, from the pure rules. ``inputs`` are read
    for the application when not given."""
    if inputs is None:
        inputs = day_inputs([application.pk], day)[application.pk]
    prices = catalog.prices(application.region, day)
    currency_of = catalog.currencies(application.region, day)
    drafts: list[ChargeDraft] = []
    if usage.moderation_counts or any(usage.moderation_seconds.values()):
        mod_drafts, _ = rate_moderation_day(
            text_count=usage.moderation_counts.get("text", ZERO),
            image_count=usage.moderation_counts.get("image", ZERO),
            audio_seconds_by_hour=usage.moderation_seconds["audio"],
            video_seconds_by_hour=usage.moderation_seconds["video"],
            ratios={kind: prices[code] for kind, code in MODERATION_ITEMS.items()},
            unit_price=prices[MODERATION_UNIT_ITEM],
            packs=inputs.packs.get(BillableItem.Covers.MODERATION_UNITS, []),
            item_codes=MODERATION_ITEMS,
            currency=currency_of[MODERATION_UNIT_ITEM],
        )
        if mod_drafts:
            drafts.append(_moderation_charge(mod_drafts))
    if usage.trtc_seconds:
        minutes = {
            code: seconds_to_minutes(seconds)
            for code, seconds in sorted(
                usage.trtc_seconds.items(), key=lambda kv: catalog.items[kv[0]].sort_order
            )
        }
        allowance_items = [
            code
            for code in sorted(minutes, key=lambda c: catalog.items[c].sort_order)
            if catalog.items[code].uses_free_allowance
        ]
        trtc_drafts, _, _ = rate_trtc_day(
            minutes_by_item=minutes,
            prices={code: prices[code] for code in minutes},
            allowance_left=_allowance_left(prices.get(ALLOWANCE_ITEM), inputs.allowance_used),
            allowance_items=allowance_items,
            packs=inputs.packs.get(BillableItem.Covers.CALL_MINUTES, []),
            currency=currency_of[next(iter(minutes))],
            item_names={code: catalog.items[code].name for code in minutes},
        )
        drafts += trtc_drafts
    return drafts


def _moderation_charge(by_type: list[ChargeDraft]) -> ChargeDraft:
    """Cloud moderation is one billable item priced per deduction unit (SPEC 4.4): the day's
    types add up to one charge, each type's units and coverage kept in its explanation."""
    first = by_type[0]
    billable = sum((d.billable_quantity for d in by_type), ZERO)
    return replace(
        first,
        item_code=MODERATION_UNIT_ITEM,
        quantity=sum((d.quantity for d in by_type), ZERO),
        covered_quantity=sum((d.covered_quantity for d in by_type), ZERO),
        billable_quantity=billable,
        amount=sum((d.amount for d in by_type), ZERO),
        explanation=" ".join(d.explanation for d in by_type),
        details={"types": [d.details for d in by_type]},
        coverages=tuple(c for d in by_type for c in d.coverages),
    )


def rate_month_drafts(
    application: Application,
    month: dt.date,
    catalog: PriceCatalog,
    *,
    through: dt.date | None = None,
    measures: list[DayMeasure] | None = None,
    subscriptions: list[AddOnSubscription] | None = None,
) -> list[ChargeDraft]:
    """IM overage and postpaid add-ons of ``month`` (up to ``through`` for a preview).
    ``measures`` and ``subscriptions`` are read for the application when not given."""
    first = month_start(month)
    last = min(month_end(month), through) if through else month_end(month)
    entries = catalog.entries(application.region, last)
    editions = list(catalog.editions.values())
    drafts: list[ChargeDraft] = []
    dau_prices, group_prices = {}, {}
    for edition in editions:
        dau = entries.get(f"im.overage.dau.{edition.code}")
        groups = entries.get(f"im.overage.groups.{edition.code}")
        if dau is not None:
            dau_prices[edition.code] = price_of(dau)
        if groups is not None:
            group_prices[edition.code] = price_of(groups)
    if measures is None:
        measures = month_measures([application.pk], first, last).get(application.pk, [])
    if measures:
        hard = {e.code for e in editions if e.limits_are_hard}
        paid_codes = {m.edition_code for m in measures} - hard
        if paid_codes and paid_codes <= set(dau_prices) & set(group_prices):
            # The item billed is the overage item of the edition on the day that set the peak.
            for draft in rate_im_overage_month(
                days=measures,
                dau_prices=dau_prices,
                group_prices=group_prices,
                hard_limit_editions=hard,
                dau_item_code="im.overage.dau",
                groups_item_code="im.overage.groups",
                currency=entries[next(iter(entries))].price_book.currency,
                edition_names={e.code: e.name for e in editions},
            ):
                item_code = f"{draft.item_code}.{draft.details['edition']}"
                drafts.append(_with_item(draft, item_code))
    if subscriptions is None:
        subscriptions = postpaid_subscriptions([application.pk], first, last)[application.pk]
    drafts += _message_history_drafts(subscriptions, first, last, entries)
    return drafts


def _with_item(draft: ChargeDraft, item_code: str) -> ChargeDraft:
    return replace(draft, item_code=item_code)


def _message_history_drafts(subscriptions, first, last, entries) -> list[ChargeDraft]:
    days_by_item: dict[str, set[int]] = defaultdict(set)
    for subscription in subscriptions:
        start = max(subscription.starts_on, first)
        end = min(subscription.ends_on or last, last)
        for offset in range((end - start).days + 1):
            days_by_item[subscription.item.code].add((start + dt.timedelta(days=offset)).day)
    drafts = []
    for code, days in sorted(days_by_item.items()):
        entry = entries.get(code)
        if entry is None:
            continue
        draft = rate_message_history_month(
            item_code=code,
            price=price_of(entry),
            days_in_month=days_in_month(first),
            enabled_days=sorted(days),
            currency=entry.price_book.currency,
        )
        if draft is not None:
            drafts.append(draft)
    return drafts

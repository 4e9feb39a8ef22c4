"""TRTC audio/video minutes, Conversational AI and speech-to-text, rated per day
(SPEC 4.5, 4.6).

A day's minutes per billable item (one per category: audio, each video resolution, AI,
speech-to-text) are covered in this order: the month's free allowance (1:1, only items the
allowance applies to, in the order it applies to them), then call-minute packs at the item's
deduction ratio, earliest-expiring first; the rest is billed at the item's postpaid price.
"""

from collections.abc import Mapping, Sequence
from decimal import Decimal

from billing.money import ceil_whole
from billing.rating.packs import describe_pack_coverages, draw_from_packs, units_used_by_pack
from billing.rating.text import dec, money_text, price_text, qty
from billing.rating.types import ZERO, ChargeDraft, Coverage, PackBalance, Price

# SPEC 4.5 and 4.6 state this as a rule: durations are turned into minutes, part minutes
# rounded up.
SECONDS_PER_MINUTE = Decimal(60)


def seconds_to_minutes(seconds: Decimal) -> Decimal:
    """Minutes billed for a day's seconds of one category: any part minute rounds up
    (SPEC 4.5 "minutes rounded up", 4.6 "part minute rounded up"): 61 s is 2 minutes."""
    if seconds < 0:
        raise ValueError(f"seconds must not be negative, got {seconds}")
    return ceil_whole(Decimal(seconds) / SECONDS_PER_MINUTE)


def coverage_order(
    minutes_by_item: Mapping[str, Decimal], allowance_items: Sequence[str]
) -> list[str]:
    """Items in the order a day is covered and listed: the allowance's items in its order
    (audio, video by rising resolution, AI), then the others in the caller's order."""
    first = [code for code in allowance_items if code in minutes_by_item]
    return first + [code for code in minutes_by_item if code not in allowance_items]


def rate_trtc_day(
    *,
    minutes_by_item: Mapping[str, Decimal],
    prices: Mapping[str, Price],
    allowance_left: Decimal,
    allowance_items: Sequence[str],
    packs: Sequence[PackBalance],
    currency: str = "",
    item_names: Mapping[str, str] | None = None,
) -> tuple[list[ChargeDraft], Decimal, dict[int, Decimal]]:
    """Rate one day of TRTC minutes for one application (SPEC 4.5, 4.6).

    ``minutes_by_item`` maps item code to the day's minutes (already rounded up per
    category); ``prices`` holds each item's postpaid price, with ``deduction_ratio`` set on
    items a call-minute pack may cover (pack minutes per usage minute); ``allowance_left``
    is the free minutes left this month and ``allowance_items`` the items it covers, in the
    order it covers them (speech-to-text is never among them); ``packs`` are the call-minute
    packs valid on the day. A pack that cannot pay for all remaining minutes of an item
    covers as many whole minutes as its units allow (see ``draw_from_packs``). ``currency``
    and ``item_names`` (item code -> name) only label the explanation.

    Returns one charge per item with minutes > 0, the allowance minutes used and the pack
    minutes used per pack id.
    """
    if allowance_left < 0:
        raise ValueError(f"allowance left must not be negative, got {allowance_left}")
    allowance = allowance_left
    balances = tuple(packs)
    drafts: list[ChargeDraft] = []
    all_coverages: list[Coverage] = []
    for code in coverage_order(minutes_by_item, allowance_items):
        minutes = Decimal(minutes_by_item[code])
        if minutes < 0:
            raise ValueError(f"{code}: minutes must not be negative, got {minutes}")
        if minutes == 0:
            continue
        price = prices.get(code)
        if price is None:
            raise ValueError(f"no price in force for TRTC item {code!r}")
        coverages: list[Coverage] = []
        from_allowance = min(allowance, minutes) if code in allowance_items else ZERO
        if from_allowance > 0:
            coverages.append(Coverage("allowance", None, from_allowance, from_allowance))
            allowance -= from_allowance
        rest = minutes - from_allowance
        if price.deduction_ratio is not None and rest > 0:
            draw = draw_from_packs(
                balances,
                quantity=rest,
                deduction_ratio=price.deduction_ratio,
                whole_usage_units=True,
            )
            balances = draw.packs_after
            coverages.extend(draw.coverages)
            rest -= draw.covered_quantity
        all_coverages.extend(coverages)
        amount = price.amount_for(rest)
        drafts.append(
            ChargeDraft(
                item_code=code,
                quantity=minutes,
                covered_quantity=minutes - rest,
                billable_quantity=rest,
                unit_price=price.unit_price,
                per_quantity=price.per_quantity,
                amount=amount,
                price_entry_id=price.entry_id,
                explanation=_explain(
                    (item_names or {}).get(code, code),
                    minutes,
                    coverages,
                    packs,
                    price,
                    billable=rest,
                    amount=amount,
                    currency=currency,
                    in_allowance=code in allowance_items,
                ),
                details={
                    "minutes": dec(minutes),
                    "allowance_minutes": dec(from_allowance),
                    "pack_minutes_used": {
                        str(pack_id): dec(units)
                        for pack_id, units in units_used_by_pack(coverages).items()
                    },
                    "deduction_ratio": (
                        dec(price.deduction_ratio) if price.deduction_ratio is not None else None
                    ),
                },
                coverages=tuple(coverages),
            )
        )
    return drafts, allowance_left - allowance, units_used_by_pack(all_coverages)


def _explain(
    name: str,
    minutes: Decimal,
    coverages: list[Coverage],
    packs: Sequence[PackBalance],
    price: Price,
    *,
    billable: Decimal,
    amount: Decimal,
    currency: str,
    in_allowance: bool,
) -> str:
    """'Audio: 40 min. 40 min covered by the free monthly allowance. 0 min billed x 0.99 USD
    per 1,000 min = 0.00 USD.'"""
    parts = [f"{name}: {qty(minutes)} min"]
    for coverage in coverages:
        if coverage.source == "allowance":
            covered = qty(coverage.usage_quantity)
            parts.append(f"{covered} min covered by the free monthly allowance")
    parts.extend(describe_pack_coverages(coverages, packs, "min", "pack min"))
    if not in_allowance and billable > 0 and price.deduction_ratio is None:
        parts.append("Not covered by the free allowance or call-minute packs")
    unit_price = price_text(price.unit_price, price.per_quantity, "min", currency)
    parts.append(f"{qty(billable)} min billed x {unit_price} = {money_text(amount, currency)}")
    return ". ".join(parts) + "."

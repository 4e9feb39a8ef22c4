"""TRTC audio/video minutes, Conversational AI and speech-to-text, rated per day
(SPEC 4.5, 4.6).

A day's minutes per billable item (one per category: audio, each video resolution, AI,
speech-to-text) are covered in this order: the month's free allowance (1:1, only items the
allowance applies to, in the order it applies to them), then call-minute packs at the item's
deduction ratio, earliest-expiring first; the rest is billed at the item's postpaid price.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
        in_allowance = code in allowance_items
        cover = cover_minutes(
            minutes,
            deduction_ratio=price.deduction_ratio,
            allowance_left=allowance if in_allowance else ZERO,
            packs=balances,
        )
        if in_allowance:
            allowance -= cover.allowance_used
        balances = cover.packs_after
        all_coverages.extend(cover.coverages)
        name = (item_names or {}).get(code, code)
        drafts.append(_draft(code, name, minutes, cover, price, packs, currency, in_allowance))
    return drafts, allowance_left - allowance, units_used_by_pack(all_coverages)


@dataclass(frozen=True)
class MinuteCover:
    """How one item's minutes of a day were covered (SPEC 4.6, "Order of coverage")."""

    coverages: tuple[Coverage, ...]  # allowance first, then packs in the order drawn
    allowance_used: Decimal
    covered: Decimal  # minutes covered by the allowance and packs together
    packs_after: tuple[PackBalance, ...]


def cover_minutes(
    minutes: Decimal,
    *,
    deduction_ratio: Decimal | None,
    allowance_left: Decimal,
    packs: Sequence[PackBalance],
) -> MinuteCover:
    """Cover ``minutes`` of one item: the free allowance 1:1 first (pass 0 for an item the
    allowance does not cover), then call-minute packs at ``deduction_ratio`` in whole
    minutes (None: packs do not cover the item)."""
    coverages: list[Coverage] = []
    from_allowance = min(allowance_left, minutes)
    if from_allowance > 0:
        coverages.append(Coverage("allowance", None, from_allowance, from_allowance))
    rest = minutes - from_allowance
    packs_after = tuple(packs)
    if deduction_ratio is not None and rest > 0:
        draw = draw_from_packs(
            packs, quantity=rest, deduction_ratio=deduction_ratio, whole_usage_units=True
        )
        coverages.extend(draw.coverages)
        packs_after = draw.packs_after
        rest -= draw.covered_quantity
    return MinuteCover(tuple(coverages), from_allowance, minutes - rest, packs_after)


def _draft(
    code: str,
    name: str,
    minutes: Decimal,
    cover: MinuteCover,
    price: Price,
    packs: Sequence[PackBalance],
    currency: str,
    in_allowance: bool,
) -> ChargeDraft:
    """The charge for one item's minutes once the allowance and packs have covered them."""
    billable = minutes - cover.covered
    amount = price.amount_for(billable)
    explanation = _explain(
        name,
        minutes,
        cover.coverages,
        packs,
        price,
        billable=billable,
        amount=amount,
        currency=currency,
        in_allowance=in_allowance,
    )
    ratio = price.deduction_ratio
    return ChargeDraft(
        item_code=code,
        quantity=minutes,
        covered_quantity=cover.covered,
        billable_quantity=billable,
        unit_price=price.unit_price,
        per_quantity=price.per_quantity,
        amount=amount,
        price_entry_id=price.entry_id,
        explanation=explanation,
        details={
            "minutes": dec(minutes),
            "allowance_minutes": dec(cover.allowance_used),
            "pack_minutes_used": {
                str(pack_id): dec(units)
                for pack_id, units in units_used_by_pack(cover.coverages).items()
            },
            "deduction_ratio": dec(ratio) if ratio is not None else None,
        },
        coverages=cover.coverages,
    )


def _explain(
    name: str,
    minutes: Decimal,
    coverages: Sequence[Coverage],
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

"""IM cloud content moderation, rated per day (SPEC 4.4).

Each reviewed item becomes deduction units at its type's ratio (per message, per image,
per counted minute of audio or video); packs cover units earliest-expiring first across the
day's types in the order text, image, audio, video; the rest is billed at the price per unit.
Ratios, the unit price and the packs all come from the caller's price book.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from billing.rating.packs import (
    PackDraw,
    describe_pack_coverages,
    draw_from_packs,
    units_used_by_pack,
)
from billing.rating.text import dec, money_text, price_text, qty
from billing.rating.types import ZERO, ChargeDraft, Coverage, PackBalance, Price

# SPEC 4.4 states this as a rule, not a price: per clock hour, under 30 s counts nothing,
# then each full 30 s counts half a minute.
COUNTING_STEP_SECONDS = Decimal(30)
MINUTES_PER_STEP = Decimal("0.5")

LABELS = {"text": "Text", "image": "Image", "audio": "Audio", "video": "Video"}
COUNT_UNITS = {"text": "message", "image": "image"}


def counted_minutes(seconds_in_hour: Decimal) -> Decimal:
    """Minutes counted for the audio or video seconds reviewed in one clock hour (SPEC 4.4):
    under 30 s counts nothing, then each full 30 s counts 0.5 minute (160 s = 2.5 min)."""
    if seconds_in_hour < 0:
        raise ValueError(f"seconds must not be negative, got {seconds_in_hour}")
    steps = (seconds_in_hour / COUNTING_STEP_SECONDS).to_integral_value(rounding=ROUND_FLOOR)
    return steps * MINUTES_PER_STEP


def hour_label(hour: int) -> str:
    """'08:00-08:59' for hour 8 of the billing day."""
    return f"{hour:02d}:00-{hour:02d}:59"


@dataclass(frozen=True)
class ModerationUnits:
    """One type's deduction units for a day and how they were counted."""

    kind: str  # "text", "image", "audio" or "video"
    units: Decimal  # deduction units
    ratio: Price  # the price entry holding the units per message, image or minute
    lines: tuple[str, ...]  # how the units were counted, for the explanation
    measure: dict  # the aggregate behind them, for ``details``


def counted_units(kind: str, count: Decimal, ratios: Mapping[str, Price]) -> ModerationUnits:
    """Units of ``count`` texts or images: count x units per item (SPEC 4.4 table)."""
    if count < 0:
        raise ValueError(f"{kind} count must not be negative, got {count}")
    ratio = _ratio(ratios, kind)
    units = count * ratio.deduction_ratio
    line = f"{qty(count)} {COUNT_UNITS[kind]}s x {qty(ratio.deduction_ratio)} = {qty(units)} units"
    return ModerationUnits(kind, units, ratio, (line,), {"count": dec(count)})


def timed_units(
    kind: str, seconds_by_hour: Mapping[int, Decimal], ratios: Mapping[str, Price]
) -> ModerationUnits:
    """Units of a day of audio or video: the 30 s rule per clock hour of the billing time
    zone, then counted minutes x units per minute (SPEC 4.4)."""
    ratio = _ratio(ratios, kind)
    units = minutes = ZERO
    lines: list[str] = []
    per_hour: dict[str, dict[str, str]] = {}
    for hour in sorted(seconds_by_hour):
        if not 0 <= hour <= 23:
            raise ValueError(f"hour must be 0..23, got {hour}")
        seconds = seconds_by_hour[hour]
        hour_minutes = counted_minutes(seconds)
        hour_units = hour_minutes * ratio.deduction_ratio
        units += hour_units
        minutes += hour_minutes
        lines.append(
            f"{qty(seconds)} s reviewed in {hour_label(hour)} counts {qty(hour_minutes)} min"
            f" x {qty(ratio.deduction_ratio)} = {qty(hour_units)} units"
        )
        per_hour[str(hour)] = {
            "seconds": dec(seconds),
            "counted_minutes": dec(hour_minutes),
            "units": dec(hour_units),
        }
    measure = {"counted_minutes": dec(minutes), "hours": per_hour}
    return ModerationUnits(kind, units, ratio, tuple(lines), measure)


def rate_moderation_day(
    *,
    text_count: Decimal | int,
    image_count: Decimal | int,
    audio_seconds_by_hour: Mapping[int, Decimal],
    video_seconds_by_hour: Mapping[int, Decimal],
    ratios: Mapping[str, Price],
    unit_price: Price,
    packs: Sequence[PackBalance],
    item_codes: Mapping[str, str],
    currency: str = "",
) -> tuple[list[ChargeDraft], dict[int, Decimal]]:
    """Rate one day of cloud moderation for one application (SPEC 4.4).

    ``ratios`` maps "text", "image", "audio", "video" to the price entry whose
    ``deduction_ratio`` is the units per message, image or counted minute (a type without
    usage needs none); ``unit_price`` is the price per deduction unit; ``packs`` are the
    moderation packs valid on the day; ``item_codes`` maps each type to its billable item
    code; ``currency`` only labels the explanation.

    Returns one charge per type with units > 0, in the order text, image, audio, video
    (quantity in deduction units; packs cover them in that order, earliest-expiring pack
    first, and the rest is billed at ``unit_price``), and the pack units used per pack id.
    """
    day_units = []
    for kind, count in (("text", text_count), ("image", image_count)):
        if count != 0:
            day_units.append(counted_units(kind, Decimal(count), ratios))
    for kind, seconds_by_hour in (
        ("audio", audio_seconds_by_hour),
        ("video", video_seconds_by_hour),
    ):
        if any(seconds_by_hour.values()):
            day_units.append(timed_units(kind, seconds_by_hour, ratios))

    drafts: list[ChargeDraft] = []
    all_coverages: list[Coverage] = []
    balances = tuple(packs)
    for counted in day_units:
        if counted.units == 0:
            continue
        draw = draw_from_packs(balances, quantity=counted.units)
        balances = draw.packs_after
        all_coverages.extend(draw.coverages)
        drafts.append(_draft(counted, draw, packs, unit_price, item_codes[counted.kind], currency))
    return drafts, units_used_by_pack(all_coverages)


def _draft(
    counted: ModerationUnits,
    draw: PackDraw,
    packs: Sequence[PackBalance],
    unit_price: Price,
    item_code: str,
    currency: str,
) -> ChargeDraft:
    """The charge for one type's units once packs have covered what they can."""
    billable = counted.units - draw.covered_quantity
    amount = unit_price.amount_for(billable)
    return ChargeDraft(
        item_code=item_code,
        quantity=counted.units,
        covered_quantity=draw.covered_quantity,
        billable_quantity=billable,
        unit_price=unit_price.unit_price,
        per_quantity=unit_price.per_quantity,
        amount=amount,
        price_entry_id=unit_price.entry_id,
        explanation=_explain(counted, draw, packs, unit_price, amount=amount, currency=currency),
        details={
            "type": counted.kind,
            **counted.measure,
            "deduction_ratio": dec(counted.ratio.deduction_ratio),
            "ratio_entry_id": counted.ratio.entry_id,
            "units": dec(counted.units),
        },
        coverages=draw.coverages,
    )


def _ratio(ratios: Mapping[str, Price], kind: str) -> Price:
    price = ratios.get(kind)
    if price is None or price.deduction_ratio is None:
        raise ValueError(f"no deduction ratio in force for moderation type {kind!r}")
    return price


def _explain(
    counted: ModerationUnits,
    draw: PackDraw,
    packs: Sequence[PackBalance],
    unit_price: Price,
    *,
    amount: Decimal,
    currency: str,
) -> str:
    """'Audio: 160 s reviewed in 08:00-08:59 counts 2.5 min x 15 = 37.5 units. 37.5 units
    billed x 0.001 CNY per unit = 0.0375 CNY.'"""
    billable = counted.units - draw.covered_quantity
    parts = [f"{LABELS[counted.kind]}: " + "; ".join(counted.lines)]
    if len(counted.lines) > 1:
        parts.append(f"{qty(counted.units)} units in all")
    parts.extend(describe_pack_coverages(draw.coverages, packs, "units", "units"))
    price = price_text(unit_price.unit_price, unit_price.per_quantity, "unit", currency)
    parts.append(f"{qty(billable)} units billed x {price} = {money_text(amount, currency)}")
    return ". ".join(parts) + "."

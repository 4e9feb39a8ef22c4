"""Consuming resource packs, earliest-expiring first (SPEC 4.4 "Units are taken from the
valid pack that expires first"; SPEC 4.3 and 4.6 for call-minute packs).

Written once, used by moderation (units, fractions allowed) and TRTC (whole minutes at a
deduction ratio). Pure: a draw returns the balances after it instead of changing them.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_FLOOR, Decimal

from billing.rating.text import day_text, qty
from billing.rating.types import ZERO, Coverage, PackBalance

# Quantities are stored with six decimal places (billing.models.QUANTITY); a fractional draw
# at a ratio other than 1 is cut to that precision so that every value stays exact.
QUANTITY_PLACES = Decimal("0.000001")


@dataclass(frozen=True)
class PackDraw:
    """The result of covering one quantity from packs."""

    covered_quantity: Decimal  # usage quantity covered, in the charge's unit
    coverages: tuple[Coverage, ...]  # one per pack drawn from, in the order drawn
    packs_after: tuple[PackBalance, ...]  # every pack with its units left after the draw


def consumption_order(packs: Iterable[PackBalance]) -> tuple[PackBalance, ...]:
    """Packs in the order they are consumed: earliest ``valid_until`` first, then lower id."""
    return tuple(sorted(packs, key=lambda pack: (pack.valid_until, pack.pack_id)))


def draw_from_packs(
    packs: Sequence[PackBalance],
    *,
    quantity: Decimal,
    deduction_ratio: Decimal = Decimal(1),
    whole_usage_units: bool = False,
) -> PackDraw:
    """Cover up to ``quantity`` units of usage from ``packs``, earliest-expiring first.

    Covering ``m`` units of usage uses ``m x deduction_ratio`` pack units (4 pack minutes per
    HD minute). With ``whole_usage_units`` a pack that cannot pay for the whole remainder
    covers only as many whole usage units as its balance allows (10 pack minutes left at 4
    per HD minute cover 2 HD minutes and keep 2 pack minutes) and the next pack goes on from
    there: a usage minute is never split between packs or between a pack and the price.
    Without it (moderation units, ratio 1) a pack covers any fraction it has left, to six
    decimal places.
    """
    if quantity < 0:
        raise ValueError(f"quantity must not be negative, got {quantity}")
    if deduction_ratio <= 0:
        raise ValueError(f"deduction ratio must be positive, got {deduction_ratio}")
    remaining = quantity
    coverages: list[Coverage] = []
    after: list[PackBalance] = []
    for pack in consumption_order(packs):
        covered, units = _coverable(pack.units_left, remaining, deduction_ratio, whole_usage_units)
        if covered > 0:
            coverages.append(Coverage("pack", pack.pack_id, covered, units))
            pack = replace(pack, units_left=pack.units_left - units)
            remaining -= covered
        after.append(pack)
    return PackDraw(quantity - remaining, tuple(coverages), tuple(after))


def _coverable(
    units_left: Decimal, remaining: Decimal, ratio: Decimal, whole_usage_units: bool
) -> tuple[Decimal, Decimal]:
    """How much of ``remaining`` usage one pack with ``units_left`` covers, and the pack
    units that uses."""
    if units_left <= 0 or remaining <= 0:
        return ZERO, ZERO
    if units_left >= remaining * ratio:
        return remaining, remaining * ratio
    if whole_usage_units:
        whole = (units_left / ratio).to_integral_value(rounding=ROUND_FLOOR)
        return whole, whole * ratio
    # The pack runs dry: it covers what its units are worth, to the stored precision of a
    # quantity (rounded down, so a pack never gives more units than it has).
    covered = (units_left / ratio).quantize(QUANTITY_PLACES, rounding=ROUND_FLOOR)
    return covered, covered * ratio


def units_used_by_pack(coverages: Iterable[Coverage]) -> dict[int, Decimal]:
    """Pack units used, per pack id, summed over pack coverages."""
    used: dict[int, Decimal] = {}
    for coverage in coverages:
        if coverage.source == "pack" and coverage.pack_id is not None:
            used[coverage.pack_id] = used.get(coverage.pack_id, ZERO) + coverage.units_used
    return used


def describe_pack_coverages(
    coverages: Iterable[Coverage], packs: Sequence[PackBalance], unit: str, pack_unit: str
) -> list[str]:
    """'5 min covered by pack #7 (valid until 2025-04-30), 20 pack min at 4 per min'."""
    expiry = {pack.pack_id: pack.valid_until for pack in packs}
    parts = []
    for coverage in coverages:
        if coverage.source != "pack" or coverage.pack_id is None:
            continue
        text = (
            f"{qty(coverage.usage_quantity)} {unit} covered by pack #{coverage.pack_id}"
            f" (valid until {day_text(expiry[coverage.pack_id])})"
        )
        if coverage.units_used != coverage.usage_quantity:
            ratio = coverage.units_used / coverage.usage_quantity
            text += f", {qty(coverage.units_used)} {pack_unit} at {qty(ratio)} per {unit}"
        parts.append(text)
    return parts

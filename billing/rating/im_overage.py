"""IM overage: DAU and peak groups above the edition's included quantity, billed monthly in
whole blocks (SPEC 4.2).

Each day is measured against that day's edition: excess(day) = max(0, value - included).
The month's excess is the highest daily excess, billed as ceil(excess / block size) blocks
at the block price. When the edition did not change this is peak minus included. Days on an
edition whose limits are hard (Trial) never produce overage.
"""

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from billing.money import ceil_whole, exact
from billing.rating.text import day_text, dec, money_text, qty
from billing.rating.types import ZERO, ChargeDraft, Price


@dataclass(frozen=True)
class DayMeasure:
    """One billing day of one application: its edition, DAU (distinct users who logged in)
    and the highest group count reported that day."""

    day: date
    edition_code: str
    dau: int
    groups: int


@dataclass(frozen=True)
class DailyExcess:
    """The day that sets a month's excess, and how."""

    day: date
    edition_code: str
    value: int
    included: Decimal
    excess: Decimal


def highest_daily_excess(
    days: Sequence[DayMeasure],
    *,
    measure: str,
    prices: Mapping[str, Price],
    hard_limit_editions: Collection[str],
) -> DailyExcess | None:
    """The day with the highest excess of ``measure`` ("dau" or "groups") over its own
    edition's included quantity; ties go to the earliest day. None when no day counts
    (every day on a hard-limit edition, or no days)."""
    best: DailyExcess | None = None
    for measured in sorted(days, key=lambda m: m.day):
        if measured.edition_code in hard_limit_editions:
            continue
        value = getattr(measured, measure)
        if value < 0:
            raise ValueError(f"{measured.day}: {measure} must not be negative, got {value}")
        included = _price(prices, measured.edition_code, measure).included_quantity
        excess = max(ZERO, Decimal(value) - included)
        if best is None or excess > best.excess:
            best = DailyExcess(measured.day, measured.edition_code, value, included, excess)
    return best


def rate_im_overage_month(
    *,
    days: Sequence[DayMeasure],
    dau_prices: Mapping[str, Price],
    group_prices: Mapping[str, Price],
    hard_limit_editions: Collection[str],
    dau_item_code: str,
    groups_item_code: str,
    currency: str = "",
    edition_names: Mapping[str, str] | None = None,
) -> list[ChargeDraft]:
    """The month's IM overage charges for one application (SPEC 4.2): up to two, DAU then
    groups, only for a measure with at least one block to bill.

    ``dau_prices`` and ``group_prices`` map edition code to its overage price:
    ``included_quantity`` = included DAU or groups, ``per_quantity`` = block size,
    ``unit_price`` = block price. Editions in ``hard_limit_editions`` (Trial) need no price
    and are never billed. A charge's quantity is whole blocks at the block price (so its
    ``per_quantity`` is 1) under the price of the edition on the day that set the excess.
    ``currency`` and ``edition_names`` (code -> name) only label the explanation.
    """
    names = edition_names or {}
    drafts = []
    for measure, prices, code, label in (
        ("dau", dau_prices, dau_item_code, "DAU"),
        ("groups", group_prices, groups_item_code, "groups"),
    ):
        peak = highest_daily_excess(
            days, measure=measure, prices=prices, hard_limit_editions=hard_limit_editions
        )
        if peak is None or peak.excess == 0:
            continue
        price = _price(prices, peak.edition_code, measure)
        blocks = ceil_whole(peak.excess / price.per_quantity)
        amount = exact(blocks * price.unit_price)
        drafts.append(
            ChargeDraft(
                item_code=code,
                quantity=blocks,
                covered_quantity=ZERO,
                billable_quantity=blocks,
                unit_price=price.unit_price,
                per_quantity=Decimal(1),
                amount=amount,
                price_entry_id=price.entry_id,
                explanation=_explain(
                    label,
                    peak,
                    price,
                    blocks,
                    amount,
                    currency=currency,
                    edition=names.get(peak.edition_code, peak.edition_code),
                ),
                details={
                    "measure": measure,
                    "peak_day": peak.day.isoformat(),
                    "edition": peak.edition_code,
                    "value": peak.value,
                    "included": dec(peak.included),
                    "excess": dec(peak.excess),
                    "block_size": dec(price.per_quantity),
                    "blocks": dec(blocks),
                    "days_measured": len(days),
                },
            )
        )
    return drafts


def _price(prices: Mapping[str, Price], edition_code: str, measure: str) -> Price:
    price = prices.get(edition_code)
    if price is None or price.included_quantity is None:
        raise ValueError(
            f"no {measure} overage price with an included quantity for {edition_code!r}"
        )
    return price


def _explain(
    label: str,
    peak: DailyExcess,
    price: Price,
    blocks: Decimal,
    amount: Decimal,
    *,
    currency: str,
    edition: str,
) -> str:
    """'Highest DAU excess on 2025-03-14: 22,000 DAU on Pro, 10,000 included, excess 12,000.
    12,000 / 10,000 per block rounds up to 2 blocks x 1,000.00 CNY = 2,000.00 CNY.'"""
    return (
        f"Highest {label} excess on {day_text(peak.day)}: {qty(peak.value)} {label} on "
        f"{edition}, {qty(peak.included)} included, excess {qty(peak.excess)}. "
        f"{qty(peak.excess)} / {qty(price.per_quantity)} per block rounds up to "
        f"{qty(blocks)} block{'s' if blocks != 1 else ''} x "
        f"{money_text(price.unit_price, currency)} = {money_text(amount, currency)}."
    )

"""IM overage: DAU and groups above the edition's included quantity (SPEC 4.2)."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.rating.im_overage import DayMeasure, rate_im_overage_month
from billing.rating.types import Price

D = Decimal
MARCH = [date(2025, 3, 1) + timedelta(days=n) for n in range(31)]

# SPEC 4.1 / 4.2, region cn: Pro and Ultimate include 10,000 DAU and 100,000 groups;
# 1000 CNY per block of 10,000 DAU or 100,000 groups. Trial's limits are hard.
DAU_PRICES = {
    "pro": Price(1, D(1000), D(10000), included_quantity=D(10000)),
    "ultimate": Price(2, D(1000), D(10000), included_quantity=D(10000)),
}
GROUP_PRICES = {
    "pro": Price(3, D(1000), D(100000), included_quantity=D(100000)),
    "ultimate": Price(4, D(1000), D(100000), included_quantity=D(100000)),
}


def rate(days, *, dau_prices=DAU_PRICES, group_prices=GROUP_PRICES):
    return rate_im_overage_month(
        days=days,
        dau_prices=dau_prices,
        group_prices=group_prices,
        hard_limit_editions={"trial"},
        dau_item_code="im_dau_overage",
        groups_item_code="im_group_overage",
        currency="CNY",
        edition_names={"pro": "Pro", "ultimate": "Ultimate", "trial": "Trial"},
    )


def month(edition, dau_values, groups=0):
    return [
        DayMeasure(day, edition, dau, groups) for day, dau in zip(MARCH, dau_values, strict=False)
    ]


def test_spec_worked_example_peak_dau_22000():
    # SPEC 4.2: Pro, peak DAU 22,000: excess 12,000, 2 blocks, 2000 CNY.
    days = month("pro", [9000, 22000, 15000])
    [charge] = rate(days)
    assert charge.item_code == "im_dau_overage"
    assert charge.quantity == D(2)  # ceil(12,000 / 10,000)
    assert charge.billable_quantity == D(2)
    assert charge.unit_price == D(1000)
    assert charge.per_quantity == D(1)
    assert charge.amount == D(2000)  # 2 x 1000
    assert charge.price_entry_id == 1
    assert charge.details["excess"] == "12000"
    assert charge.details["peak_day"] == "2025-03-02"
    assert "excess 12,000" in charge.explanation
    assert "2 blocks x 1,000.00 CNY = 2,000.00 CNY" in charge.explanation


@pytest.mark.parametrize(
    ("peak", "blocks"),
    [
        (10000, 0),  # exactly the included quantity: no overage
        (10001, 1),  # 1 over: a partial block counts as a whole block
        (20000, 1),  # excess 10,000: exactly one block
        (20001, 2),
    ],
)
def test_dau_blocks(peak, blocks):
    drafts = rate(month("pro", [peak]))
    if blocks == 0:
        assert drafts == []
    else:
        assert [(d.quantity, d.amount) for d in drafts] == [(D(blocks), D(blocks * 1000))]


def test_groups_overage():
    # Ultimate, peak groups 250,000: excess 150,000 -> 2 blocks of 100,000 -> 2000 CNY.
    days = [
        DayMeasure(date(2025, 3, 1), "ultimate", 100, 120000),
        DayMeasure(date(2025, 3, 2), "ultimate", 100, 250000),
    ]
    [charge] = rate(days)
    assert charge.item_code == "im_group_overage"
    assert (charge.quantity, charge.amount, charge.price_entry_id) == (D(2), D(2000), 4)


def test_dau_and_groups_together():
    # DAU 30,500 -> excess 20,500 -> 3 blocks (3000); groups 100,001 -> 1 block (1000).
    drafts = rate([DayMeasure(date(2025, 3, 5), "pro", 30500, 100001)])
    assert [(d.item_code, d.quantity, d.amount) for d in drafts] == [
        ("im_dau_overage", D(3), D(3000)),
        ("im_group_overage", D(1), D(1000)),
    ]


def test_trial_days_are_never_billed_and_need_no_price():
    assert rate(month("trial", [50000, 80000], groups=900000)) == []


def test_edition_change_from_trial_mid_month():
    # Trial 1..10 Mar with DAU 50,000 (hard limit, never billed); Pro from 11 Mar with
    # DAU 12,000: excess 2,000 -> 1 block -> 1000 CNY.
    days = month("trial", [50000] * 10) + [DayMeasure(day, "pro", 12000, 0) for day in MARCH[10:]]
    [charge] = rate(days)
    assert (charge.quantity, charge.amount) == (D(1), D(1000))
    assert charge.details["peak_day"] == "2025-03-11"
    assert charge.details["edition"] == "pro"


def test_each_day_measured_against_its_own_edition():
    # Hypothetical price book (rules, not prices, under test): Ultimate includes 30,000 DAU
    # at 3000 per block. Pro day: 25,000 - 10,000 = 15,000; Ultimate day: 40,000 - 30,000
    # = 10,000. The month's excess is the highest daily excess, 15,000 (not the peak DAU
    # 40,000 minus 30,000): ceil(15,000 / 10,000) = 2 blocks at the Pro price 1000 = 2000.
    dau_prices = {
        "pro": DAU_PRICES["pro"],
        "ultimate": Price(9, D(3000), D(10000), included_quantity=D(30000)),
    }
    days = [
        DayMeasure(date(2025, 3, 10), "pro", 25000, 0),
        DayMeasure(date(2025, 3, 20), "ultimate", 40000, 0),
    ]
    [charge] = rate(days, dau_prices=dau_prices)
    assert (charge.quantity, charge.amount, charge.price_entry_id) == (D(2), D(2000), 1)


def test_intl_block_price_comes_from_the_price_book():
    # SPEC 4.1 intl: 3000 per block of 10,000 DAU; peak 22,000 -> 2 blocks -> 6000.
    dau_prices = {"pro": Price(5, D(3000), D(10000), included_quantity=D(10000))}
    [charge] = rate(month("pro", [22000]), dau_prices=dau_prices)
    assert charge.amount == D(6000)


def test_ties_go_to_the_earliest_day():
    [charge] = rate(month("pro", [15000, 15000]))
    assert charge.details["peak_day"] == "2025-03-01"


def test_no_days_no_charges():
    assert rate([]) == []


def test_missing_price_for_a_billed_edition_is_an_error():
    with pytest.raises(ValueError, match="enterprise"):
        rate([DayMeasure(date(2025, 3, 1), "enterprise", 1, 1)])


@settings(max_examples=200, deadline=None)
@given(
    dau=st.lists(st.integers(min_value=0, max_value=200_000), min_size=1, max_size=31),
    trial_dau=st.lists(st.integers(min_value=0, max_value=200_000), max_size=5),
)
def test_single_edition_is_peak_minus_included_in_blocks(dau, trial_dau):
    days = month("pro", dau) + [
        DayMeasure(date(2025, 3, 31) - timedelta(days=n), "trial", value, 0)
        for n, value in enumerate(trial_dau)
    ]
    drafts = rate(days)
    excess = max(0, max(dau) - 10000)
    blocks = -(-excess // 10000)  # ceiling division on integers
    if blocks == 0:
        assert drafts == []
    else:
        [charge] = drafts
        assert charge.quantity == D(blocks)
        assert charge.amount == D(blocks * 1000)
        assert charge.amount >= 0

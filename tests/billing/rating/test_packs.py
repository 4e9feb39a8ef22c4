"""Consuming packs earliest-expiring first, shared by moderation and TRTC (SPEC 4.4, 4.6)."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.rating.packs import consumption_order, draw_from_packs, units_used_by_pack
from billing.rating.types import PackBalance

D = Decimal
APRIL = date(2025, 4, 30)
MAY = date(2025, 5, 31)


def test_consumption_order_is_expiry_then_id():
    packs = [PackBalance(3, D(1), MAY), PackBalance(2, D(1), MAY), PackBalance(9, D(1), APRIL)]
    assert [pack.pack_id for pack in consumption_order(packs)] == [9, 2, 3]


def test_fractional_draw_runs_one_pack_dry_then_the_next():
    # 12.5 units: pack 1 (April) gives its 4.25, pack 2 (May) the other 8.25.
    draw = draw_from_packs(
        [PackBalance(2, D(100), MAY), PackBalance(1, D("4.25"), APRIL)], quantity=D("12.5")
    )
    assert draw.covered_quantity == D("12.5")
    assert [(c.pack_id, c.usage_quantity, c.units_used) for c in draw.coverages] == [
        (1, D("4.25"), D("4.25")),
        (2, D("8.25"), D("8.25")),
    ]
    assert {p.pack_id: p.units_left for p in draw.packs_after} == {1: D(0), 2: D("91.75")}


def test_whole_usage_units_at_a_ratio():
    # 7 usage minutes at 9 pack minutes each; pack of 50 covers 5 whole minutes (45) and
    # keeps 5; nothing else covers the last 2.
    draw = draw_from_packs(
        [PackBalance(1, D(50), APRIL)],
        quantity=D(7),
        deduction_ratio=D(9),
        whole_usage_units=True,
    )
    assert draw.covered_quantity == D(5)
    assert units_used_by_pack(draw.coverages) == {1: D(45)}
    assert draw.packs_after[0].units_left == D(5)


def test_draw_does_not_change_the_packs_passed_in():
    packs = (PackBalance(1, D(10), APRIL),)
    draw_from_packs(packs, quantity=D(4))
    assert packs[0].units_left == D(10)


def test_invalid_draws():
    with pytest.raises(ValueError):
        draw_from_packs([], quantity=D(-1))
    with pytest.raises(ValueError):
        draw_from_packs([], quantity=D(1), deduction_ratio=D(0))


@settings(max_examples=200, deadline=None)
@given(
    quantity=st.integers(0, 10_000).map(D),
    ratio=st.sampled_from([D(1), D(2), D(4), D(9), D(15), D(16), D(36)]),
    whole=st.booleans(),
    balances=st.lists(st.integers(0, 50_000).map(D), max_size=4),
)
def test_draw_conserves_units(quantity, ratio, whole, balances):
    packs = [PackBalance(n, units, APRIL) for n, units in enumerate(balances)]
    draw = draw_from_packs(packs, quantity=quantity, deduction_ratio=ratio, whole_usage_units=whole)
    assert 0 <= draw.covered_quantity <= quantity
    assert sum(c.usage_quantity for c in draw.coverages) == draw.covered_quantity
    used = units_used_by_pack(draw.coverages)
    for before, after in zip(packs, draw.packs_after, strict=True):
        assert after.units_left >= 0
        assert before.units_left - after.units_left == used.get(before.pack_id, D(0))
    if whole:
        assert draw.covered_quantity == draw.covered_quantity.to_integral_value()
    if draw.covered_quantity < quantity:
        # No pack has enough left to cover one more (whole) usage unit.
        if whole:
            assert all(after.units_left < ratio for after in draw.packs_after)
        else:  # what a fractional draw leaves is less than a millionth of a usage unit
            assert all(after.units_left < ratio * D("0.000001") for after in draw.packs_after)


def test_fractional_draw_at_a_ratio_stays_exact():
    # 1 pack unit at 15 per usage unit is worth 0.0666... usage units: 0.066666 is covered
    # (six places, rounded down) using 0.99999 units; 0.00001 stays in the pack.
    draw = draw_from_packs([PackBalance(1, D(1), APRIL)], quantity=D(1), deduction_ratio=D(15))
    assert draw.covered_quantity == D("0.066666")
    assert units_used_by_pack(draw.coverages) == {1: D("0.99999")}
    assert draw.packs_after[0].units_left == D("0.00001")

"""TRTC audio/video, Conversational AI and speech-to-text (SPEC 4.5, 4.6)."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.money import round_money
from billing.rating.trtc import rate_trtc_day, seconds_to_minutes
from billing.rating.types import PackBalance, Price

D = Decimal

# SPEC 4.5 / 4.6, region intl, USD per 1000 minutes (AI and STT per minute); deduction
# ratios of intl call-minute packs (audio 1, HD 4, Full HD 9, 2K 16, 4K 36).
INTL = {
    "audio": Price(1, D("0.99"), D(1000), deduction_ratio=D(1)),
    "hd": Price(2, D("3.99"), D(1000), deduction_ratio=D(4)),
    "fhd": Price(3, D("8.99"), D(1000), deduction_ratio=D(9)),
    "2k": Price(4, D("15.99"), D(1000), deduction_ratio=D(16)),
    "4k": Price(5, D("35.99"), D(1000), deduction_ratio=D(36)),
    "ai": Price(6, D("0.01")),
    "stt": Price(7, D("0.02")),
}
INTL_ALLOWANCE_ITEMS = ["audio", "hd", "fhd", "2k", "4k", "ai"]
# SPEC 4.5, region cn, CNY per 1000 minutes; cn pack ratios audio 1, SD 2, HD 4, Full HD 15.
CN = {
    "audio": Price(11, D("7"), D(1000), deduction_ratio=D(1)),
    "sd": Price(12, D("14"), D(1000), deduction_ratio=D(2)),
    "hd": Price(13, D("28"), D(1000), deduction_ratio=D(4)),
    "fhd": Price(14, D("105"), D(1000), deduction_ratio=D(15)),
}
CN_ALLOWANCE_ITEMS = ["audio", "sd", "hd", "fhd"]


def rate(minutes, *, allowance_left=0, packs=(), prices=INTL, allowance_items=None):
    if allowance_items is None:
        allowance_items = INTL_ALLOWANCE_ITEMS if prices is INTL else CN_ALLOWANCE_ITEMS
    return rate_trtc_day(
        minutes_by_item={code: D(value) for code, value in minutes.items()},
        prices=prices,
        allowance_left=D(allowance_left),
        allowance_items=allowance_items,
        packs=list(packs),
        currency="USD" if prices is INTL else "CNY",
    )


def by_code(drafts):
    return {draft.item_code: draft for draft in drafts}


@pytest.mark.parametrize(
    ("seconds", "minutes"),
    [("0", "0"), ("1", "1"), ("59.5", "1"), ("60", "1"), ("61", "2"), ("1200", "20")],
)
def test_part_minutes_round_up(seconds, minutes):
    assert seconds_to_minutes(D(seconds)) == D(minutes)


def test_seconds_to_minutes_rejects_negative():
    with pytest.raises(ValueError):
        seconds_to_minutes(D(-1))


def test_spec_worked_example_allowance_used_up():
    # SPEC 4.6: a 20-minute conversation between a person and the AI, 10 min of STT,
    # free allowance used up. Audio: 2 participants x 20 = 40 min.
    drafts, allowance_used, pack_use = rate({"audio": 40, "ai": 20, "stt": 10})
    charges = by_code(drafts)
    assert charges["audio"].amount == D("0.0396")  # 0.99 / 1000 x 20 x 2
    assert charges["ai"].amount == D("0.20")  # 0.01 x 20
    assert charges["stt"].amount == D("0.20")  # 0.02 x 10
    total = sum(draft.amount for draft in drafts)
    assert total == D("0.4396")
    assert round_money(total, "USD") == D("0.44")  # on an invoice
    assert allowance_used == 0
    assert pack_use == {}
    assert [draft.item_code for draft in drafts] == ["audio", "ai", "stt"]
    assert charges["audio"].price_entry_id == 1
    assert "40 min billed x 0.99 USD per 1,000 min = 0.0396 USD" in charges["audio"].explanation


def test_spec_worked_example_with_free_minutes_left():
    # SPEC 4.6: "With free minutes left, only speech-to-text is billed."
    drafts, allowance_used, _ = rate({"audio": 40, "ai": 20, "stt": 10}, allowance_left=10000)
    charges = by_code(drafts)
    assert charges["audio"].amount == 0
    assert charges["audio"].covered_quantity == D(40)
    assert charges["ai"].amount == 0
    assert charges["stt"].amount == D("0.20")  # 0.02 x 10, never in the allowance
    assert charges["stt"].covered_quantity == 0
    assert allowance_used == D(60)  # 40 audio + 20 AI
    audio_cover = charges["audio"].coverages
    assert [(c.source, c.pack_id, c.usage_quantity, c.units_used) for c in audio_cover] == [
        ("allowance", None, D(40), D(40))
    ]


def test_allowance_runs_out_mid_item():
    # 50 free minutes left: audio 40 (10 left), AI 10 of 20; 10 AI min x 0.01 = 0.10.
    drafts, allowance_used, _ = rate({"audio": 40, "ai": 20, "stt": 10}, allowance_left=50)
    charges = by_code(drafts)
    assert charges["audio"].billable_quantity == 0
    assert (charges["ai"].covered_quantity, charges["ai"].billable_quantity) == (D(10), D(10))
    assert charges["ai"].amount == D("0.10")
    assert charges["stt"].amount == D("0.20")
    assert allowance_used == D(50)


def test_allowance_order_audio_then_video_by_resolution_then_ai():
    # Minutes listed out of order; allowance 25 covers audio 10, HD 10, Full HD 5 of 10.
    drafts, allowance_used, _ = rate(
        {"ai": 10, "fhd": 10, "hd": 10, "audio": 10}, allowance_left=25
    )
    assert [draft.item_code for draft in drafts] == ["audio", "hd", "fhd", "ai"]
    charges = by_code(drafts)
    assert [charges[code].covered_quantity for code in ("audio", "hd", "fhd", "ai")] == [
        D(10),
        D(10),
        D(5),
        D(0),
    ]
    assert charges["fhd"].amount == D("0.04495")  # 5 x 8.99 / 1000
    assert charges["ai"].amount == D("0.10")  # 10 x 0.01
    assert allowance_used == D(25)


def test_packs_cover_after_the_allowance_at_the_deduction_ratio():
    # cn: no allowance left, one pack of 100 minutes. Audio 20 -> 20 pack min (80 left);
    # HD 30 needs 120: 80 / 4 = 20 min covered, 10 billed x 28 / 1000 = 0.28 CNY.
    pack = PackBalance(pack_id=9, units_left=D(100), valid_until=date(2025, 6, 30))
    drafts, allowance_used, pack_use = rate({"audio": 20, "hd": 30}, prices=CN, packs=[pack])
    charges = by_code(drafts)
    assert charges["audio"].amount == 0
    assert (charges["hd"].covered_quantity, charges["hd"].billable_quantity) == (D(20), D(10))
    assert charges["hd"].amount == D("0.28")
    assert [(c.pack_id, c.usage_quantity, c.units_used) for c in charges["hd"].coverages] == [
        (9, D(20), D(80))
    ]
    assert pack_use == {9: D(100)}
    assert allowance_used == 0
    assert "20 min covered by pack #9 (valid until 2025-06-30), 80 pack min at 4 per min" in (
        charges["hd"].explanation
    )


def test_allowance_then_pack_then_price_on_one_item():
    # cn audio 20 min: 5 free, 8 from the pack, 7 billed x 7 / 1000 = 0.049 CNY.
    pack = PackBalance(pack_id=1, units_left=D(8), valid_until=date(2025, 6, 30))
    drafts, allowance_used, pack_use = rate(
        {"audio": 20}, prices=CN, allowance_left=5, packs=[pack]
    )
    audio = drafts[0]
    assert [(c.source, c.usage_quantity) for c in audio.coverages] == [
        ("allowance", D(5)),
        ("pack", D(8)),
    ]
    assert audio.billable_quantity == D(7)
    assert audio.amount == D("0.049")
    assert (allowance_used, pack_use) == (D(5), {1: D(8)})


def test_pack_covers_whole_minutes_only_then_the_next_pack_goes_on():
    # HD 5 min at 4 pack min each. Pack 1 (expires first, 10 left) covers 2 whole minutes
    # (8 units) and keeps 2; pack 2 covers the other 3 minutes (12 units).
    packs = [
        PackBalance(pack_id=2, units_left=D(100), valid_until=date(2025, 12, 31)),
        PackBalance(pack_id=1, units_left=D(10), valid_until=date(2025, 4, 30)),
    ]
    drafts, _, pack_use = rate({"hd": 5}, packs=packs)
    assert pack_use == {1: D(8), 2: D(12)}
    assert [(c.pack_id, c.usage_quantity) for c in drafts[0].coverages] == [(1, D(2)), (2, D(3))]
    assert drafts[0].amount == 0


def test_pack_too_small_leaves_whole_minutes_billable():
    # 4K at 36 pack min per minute, pack of 80: 2 minutes (72) of 3; 1 min x 35.99 / 1000.
    pack = PackBalance(pack_id=3, units_left=D(80), valid_until=date(2025, 4, 30))
    drafts, _, pack_use = rate({"4k": 3}, packs=[pack])
    assert pack_use == {3: D(72)}
    assert drafts[0].billable_quantity == D(1)
    assert drafts[0].amount == D("0.03599")


def test_pack_smaller_than_one_minute_covers_nothing():
    pack = PackBalance(pack_id=3, units_left=D(8), valid_until=date(2025, 4, 30))
    drafts, _, pack_use = rate({"fhd": 1}, packs=[pack])  # needs 9
    assert pack_use == {}
    assert drafts[0].amount == D("0.00899")  # 1 x 8.99 / 1000


def test_ai_and_stt_are_never_covered_by_packs():
    # AI has no deduction ratio (packs cover audio/video); STT is outside the allowance too.
    pack = PackBalance(pack_id=1, units_left=D(1000), valid_until=date(2025, 4, 30))
    drafts, allowance_used, pack_use = rate({"ai": 3, "stt": 4}, allowance_left=100, packs=[pack])
    charges = by_code(drafts)
    assert charges["ai"].covered_quantity == D(3)  # by the allowance
    assert charges["stt"].amount == D("0.08")  # 4 x 0.02
    assert allowance_used == D(3)
    assert pack_use == {}
    assert "Not covered by the free allowance or call-minute packs" in charges["stt"].explanation


def test_zero_minutes_produce_no_charge():
    drafts, _, _ = rate({"audio": 0, "stt": 1})
    assert [draft.item_code for draft in drafts] == ["stt"]


def test_missing_price_is_an_error():
    with pytest.raises(ValueError, match="sd"):
        rate({"sd": 1})  # intl sells no SD


minutes = st.integers(min_value=0, max_value=20000)


@settings(max_examples=200, deadline=None)
@given(
    usage=st.fixed_dictionaries({code: minutes for code in INTL}),
    allowance_left=st.integers(min_value=0, max_value=10000),
    packs=st.lists(
        st.builds(
            PackBalance,
            pack_id=st.integers(1, 10_000),
            units_left=st.integers(0, 50_000).map(D),
            valid_until=st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 12, 31)),
        ),
        max_size=4,
        unique_by=lambda pack: pack.pack_id,
    ),
)
def test_allowance_plus_pack_plus_billable_is_the_quantity(usage, allowance_left, packs):
    drafts, allowance_used, pack_use = rate(usage, allowance_left=allowance_left, packs=packs)
    allowance_minutes = sum(usage[code] for code in INTL_ALLOWANCE_ITEMS)
    assert allowance_used == min(allowance_left, allowance_minutes)
    pack_units_in_drafts = D(0)
    for draft in drafts:
        from_allowance = sum(c.usage_quantity for c in draft.coverages if c.source == "allowance")
        from_packs = sum(c.usage_quantity for c in draft.coverages if c.source == "pack")
        pack_units_in_drafts += sum(c.units_used for c in draft.coverages if c.source == "pack")
        assert from_allowance + from_packs + draft.billable_quantity == draft.quantity
        assert draft.quantity == usage[draft.item_code]
        assert draft.billable_quantity == draft.billable_quantity.to_integral_value()
        assert draft.amount >= 0
        price = INTL[draft.item_code]
        assert draft.amount == draft.billable_quantity * price.unit_price / price.per_quantity
        if draft.item_code == "stt":
            assert draft.coverages == ()
    for pack in packs:
        assert 0 <= pack_use.get(pack.pack_id, D(0)) <= pack.units_left
    assert sum(pack_use.values(), D(0)) == pack_units_in_drafts

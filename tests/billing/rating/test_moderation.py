"""IM cloud content moderation (SPEC 4.4)."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.rating.moderation import counted_minutes, rate_moderation_day
from billing.rating.types import PackBalance, Price

D = Decimal

# SPEC 4.4 reference price book: units per message / image / minute, 0.0010 CNY per unit.
RATIOS = {
    "text": Price(11, D(0), deduction_ratio=D("1")),
    "image": Price(12, D(0), deduction_ratio=D("0.65")),
    "audio": Price(13, D(0), deduction_ratio=D("15")),
    "video": Price(14, D(0), deduction_ratio=D("56")),
}
UNIT_PRICE = Price(20, D("0.0010"))
ITEM_CODES = {kind: f"im_moderation_{kind}" for kind in RATIOS}


def rate(
    *,
    text=0,
    image=0,
    audio=None,
    video=None,
    packs=(),
    ratios=RATIOS,
    unit_price=UNIT_PRICE,
):
    return rate_moderation_day(
        text_count=text,
        image_count=image,
        audio_seconds_by_hour=audio or {},
        video_seconds_by_hour=video or {},
        ratios=ratios,
        unit_price=unit_price,
        packs=list(packs),
        item_codes=ITEM_CODES,
        currency="CNY",
    )


@pytest.mark.parametrize(
    ("seconds", "minutes"),
    [
        ("0", "0"),
        ("29", "0"),  # under 30 s counts nothing
        ("29.999", "0"),
        ("30", "0.5"),  # one full 30 s
        ("59", "0.5"),
        ("60", "1"),  # two full 30 s
        ("89", "1"),
        ("90", "1.5"),
        ("160", "2.5"),  # SPEC: 160 s in one hour = 2.5 minutes (5 full 30 s)
        ("3600", "60"),
    ],
)
def test_counted_minutes_30_second_rule(seconds, minutes):
    assert counted_minutes(D(seconds)) == D(minutes)


def test_counted_minutes_rejects_negative_seconds():
    with pytest.raises(ValueError):
        counted_minutes(D(-1))


def test_spec_worked_example_54_units():
    # SPEC 4.4: between 08:10 and 08:20, 10 texts, 10 images, audio clips of 25 s and 135 s
    # (160 s in hour 08 -> 2.5 min): 10 x 1 + 10 x 0.65 + 2.5 x 15 = 10 + 6.5 + 37.5 = 54.
    drafts, pack_use = rate(text=10, image=10, audio={8: D(25) + D(135)})

    by_code = {draft.item_code: draft for draft in drafts}
    assert list(by_code) == ["im_moderation_text", "im_moderation_image", "im_moderation_audio"]
    assert [draft.quantity for draft in drafts] == [D("10"), D("6.5"), D("37.5")]
    # No pack: everything billable at 0.0010 per unit.
    assert [draft.billable_quantity for draft in drafts] == [D("10"), D("6.5"), D("37.5")]
    assert by_code["im_moderation_text"].amount == D("0.01")  # 10 x 0.0010
    assert by_code["im_moderation_image"].amount == D("0.0065")  # 6.5 x 0.0010
    assert by_code["im_moderation_audio"].amount == D("0.0375")  # 37.5 x 0.0010
    assert sum(draft.quantity for draft in drafts) == D("54")
    assert sum(draft.amount for draft in drafts) == D("0.054")  # 54 x 0.0010
    assert pack_use == {}
    audio = by_code["im_moderation_audio"]
    assert "160 s reviewed in 08:00-08:59 counts 2.5 min x 15 = 37.5 units" in audio.explanation
    assert audio.price_entry_id == 20
    assert audio.details["hours"]["8"]["counted_minutes"] == "2.5"


def test_same_seconds_in_two_hours_count_less():
    # 25 s in 08:xx counts 0; 135 s in 09:xx counts 4 x 0.5 = 2 min -> 2 x 15 = 30 units.
    drafts, _ = rate(audio={8: D(25), 9: D(135)})
    assert len(drafts) == 1
    assert drafts[0].quantity == D("30")
    assert drafts[0].amount == D("0.03")  # 30 x 0.0010
    assert "25 s reviewed in 08:00-08:59 counts 0 min" in drafts[0].explanation


@pytest.mark.parametrize(
    ("seconds", "units"),
    [
        (29, "0"),  # nothing counted: no charge at all
        (30, "28"),  # 0.5 min x 56
        (59, "28"),  # still one full 30 s
        (60, "56"),  # 1 min x 56
    ],
)
def test_video_edges(seconds, units):
    drafts, _ = rate(video={14: D(seconds)})
    if units == "0":
        assert drafts == []
    else:
        assert [(d.item_code, d.quantity) for d in drafts] == [("im_moderation_video", D(units))]


def test_types_without_usage_produce_no_charge_and_need_no_ratio():
    drafts, _ = rate(text=3, ratios={"text": RATIOS["text"]})
    assert [(d.item_code, d.quantity, d.amount) for d in drafts] == [
        ("im_moderation_text", D("3"), D("0.003"))  # 3 x 1 x 0.0010
    ]


def test_missing_ratio_for_a_used_type_is_an_error():
    with pytest.raises(ValueError, match="image"):
        rate(image=1, ratios={"text": RATIOS["text"]})


def test_negative_count_is_an_error():
    with pytest.raises(ValueError):
        rate(text=-1)


def test_prices_come_from_the_arguments():
    # A staff price change: 1.5 CNY per 1000 units, images at 0.5 units.
    ratios = {**RATIOS, "image": Price(30, D(0), deduction_ratio=D("0.5"))}
    drafts, _ = rate(text=10, image=10, ratios=ratios, unit_price=Price(31, D("1.5"), D(1000)))
    # text 10 units x 1.5 / 1000 = 0.015; image 10 x 0.5 = 5 units x 1.5 / 1000 = 0.0075
    assert [(d.quantity, d.amount) for d in drafts] == [
        (D("10"), D("0.015")),
        (D("5"), D("0.0075")),
    ]
    assert drafts[0].unit_price == D("1.5")
    assert drafts[0].per_quantity == D("1000")
    assert drafts[1].details["ratio_entry_id"] == 30


def test_two_packs_earliest_expiring_first():
    # Pack 2 expires first (30 Apr) with 20 units; pack 1 (31 Dec) has 1000.
    # Worked example: text 10 from pack 2 (10 left), image 6.5 from pack 2 (3.5 left),
    # audio 37.5: 3.5 from pack 2 (empty), 34 from pack 1.
    packs = [
        PackBalance(pack_id=1, units_left=D(1000), valid_until=date(2025, 12, 31)),
        PackBalance(pack_id=2, units_left=D(20), valid_until=date(2025, 4, 30)),
    ]
    drafts, pack_use = rate(text=10, image=10, audio={8: D(160)}, packs=packs)
    assert pack_use == {2: D("20"), 1: D("34")}  # 10 + 6.5 + 3.5 = 20; 37.5 - 3.5 = 34
    assert all(draft.amount == 0 for draft in drafts)
    assert all(draft.billable_quantity == 0 for draft in drafts)
    audio = drafts[2]
    assert [(c.source, c.pack_id, c.usage_quantity, c.units_used) for c in audio.coverages] == [
        ("pack", 2, D("3.5"), D("3.5")),
        ("pack", 1, D("34"), D("34")),
    ]
    assert "3.5 units covered by pack #2 (valid until 2025-04-30)" in audio.explanation


def test_pack_partially_covers_the_day():
    # 40 units left: text 10 (30 left), image 6.5 (23.5 left), audio 23.5 of 37.5;
    # 37.5 - 23.5 = 14 units billed x 0.0010 = 0.014 CNY.
    packs = [PackBalance(pack_id=5, units_left=D(40), valid_until=date(2025, 5, 31))]
    drafts, pack_use = rate(text=10, image=10, audio={8: D(160)}, packs=packs)
    assert pack_use == {5: D("40")}
    audio = drafts[2]
    assert audio.covered_quantity == D("23.5")
    assert audio.billable_quantity == D("14")
    assert audio.amount == D("0.014")
    assert sum(draft.amount for draft in drafts) == D("0.014")


def test_packs_with_the_same_expiry_go_by_lower_id():
    # Both expire 31 May; 9 texts: pack 3 (5 units) is used up before pack 4.
    packs = [
        PackBalance(pack_id=4, units_left=D(100), valid_until=date(2025, 5, 31)),
        PackBalance(pack_id=3, units_left=D(5), valid_until=date(2025, 5, 31)),
    ]
    _, pack_use = rate(text=9, packs=packs)
    assert pack_use == {3: D("5"), 4: D("4")}


def test_empty_pack_is_skipped():
    packs = [PackBalance(pack_id=1, units_left=D(0), valid_until=date(2025, 1, 1))]
    drafts, pack_use = rate(text=2, packs=packs)
    assert pack_use == {}
    assert drafts[0].amount == D("0.002")  # 2 x 0.0010


seconds = st.decimals(min_value=0, max_value=20000, places=3)


@settings(max_examples=200, deadline=None)
@given(a=seconds, b=seconds)
def test_splitting_seconds_between_hours_never_counts_more(a, b):
    assert counted_minutes(a) + counted_minutes(b) <= counted_minutes(a + b)


@settings(max_examples=200, deadline=None)
@given(s=seconds)
def test_counted_minutes_within_half_a_minute_below_the_real_duration(s):
    minutes = counted_minutes(s)
    assert minutes <= s / 60
    assert minutes > s / 60 - D("0.5")
    assert (minutes * 2) == (minutes * 2).to_integral_value()  # a multiple of 0.5


hours = st.dictionaries(st.integers(0, 23), seconds, max_size=6)
pack_lists = st.lists(
    st.builds(
        PackBalance,
        pack_id=st.integers(1, 10_000),
        units_left=st.decimals(min_value=0, max_value=5000, places=2),
        valid_until=st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 12, 31)),
    ),
    max_size=4,
    unique_by=lambda pack: pack.pack_id,
)


@settings(max_examples=200, deadline=None)
@given(
    text=st.integers(0, 5000),
    image=st.integers(0, 5000),
    audio=hours,
    video=hours,
    packs=pack_lists,
)
def test_day_invariants(text, image, audio, video, packs):
    drafts, pack_use = rate(text=text, image=image, audio=audio, video=video, packs=packs)
    total_units = sum((draft.quantity for draft in drafts), D(0))
    pack_units = sum((pack.units_left for pack in packs), D(0))
    for draft in drafts:
        assert draft.quantity > 0
        assert draft.covered_quantity + draft.billable_quantity == draft.quantity
        assert draft.amount >= 0
        assert draft.amount == draft.billable_quantity * D("0.0010")
        assert sum((c.usage_quantity for c in draft.coverages), D(0)) == draft.covered_quantity
    for pack in packs:
        assert pack_use.get(pack.pack_id, D(0)) <= pack.units_left
    # Packs cover as much as they can: all units, or everything the packs hold.
    assert sum(pack_use.values(), D(0)) == min(total_units, pack_units)

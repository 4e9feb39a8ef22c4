"""The loaded reference price book against SPEC section 4, figure by figure.

Every expected figure below is transcribed by hand from /work/shared/SPEC.md (sections 2 and
4), not from the data migration, so that a typo in the migration fails a test. Only the item
codes were taken from the migration. Each figure is its own test case.

Sources: a figure marked (S) in SPEC must be loaded with source "S", a (P) figure with "P".
Where one entry holds figures of both kinds (an (S) price with a (P) included quantity or
deduction ratio), the entry's source follows its price and the test id says so.
"""

from dataclasses import dataclass
from decimal import Decimal

import pytest

from billing.models import AddOn, BillableItem, Edition, PriceBook, PriceEntry

pytestmark = pytest.mark.django_db

S, P = "S", "P"
IM_CN, IM_INTL = ("im", "cn"), ("im", "intl")
TRTC_CN, TRTC_INTL = ("trtc", "cn"), ("trtc", "intl")

# SPEC 2 and 4: each price book has its own currency.
BOOK_CURRENCIES = {
    IM_CN: "CNY",  # 4.1 "IM editions, region cn, CNY"
    IM_INTL: "CNY",  # 4.1 "Region intl IM price book (P), also in CNY"
    TRTC_CN: "CNY",  # 4.5 table
    TRTC_INTL: "USD",  # 4.5 table, 4.6 "intl, USD"
}


@dataclass(frozen=True)
class Row:
    """One expected price entry. ``None`` for an optional figure: SPEC gives none."""

    book: tuple[str, str]
    item: str
    price: str
    per: str = "1"
    included: str | None = None
    ratio: str | None = None
    months: int | None = None
    source: str = S
    # Set when the entry mixes S and P figures: what is P besides the S price.
    mixed: str = ""
    # A price that SPEC does not give as a separate figure (per-type moderation items are
    # priced by the deduction unit): any of these values is accepted.
    price_any_of: tuple[str, ...] = ()
    # per_quantity is not a SPEC figure for this entry (a price of 0 that is never billed).
    per_unchecked: bool = False


EXPECTED = [
    # ---- 4.1 IM editions, region cn, CNY: monthly fee (S) -----------------------------------
    Row(IM_CN, "im.edition.trial", "0"),
    Row(IM_CN, "im.edition.pro", "999"),
    Row(IM_CN, "im.edition.ultimate", "2999"),
    # 4.1 Trial: DAU 100 (P) and peak groups 100 (P), hard limits, never billed.
    Row(IM_CN, "im.overage.dau.trial", "0", included="100", source=P, per_unchecked=True),
    Row(IM_CN, "im.overage.groups.trial", "0", included="100", source=P, per_unchecked=True),
    # 4.2 (S): 1000 CNY per block of 10,000 DAU / 100,000 groups; 4.1 included (P).
    Row(IM_CN, "im.overage.dau.pro", "1000", per="10000", included="10000", mixed="included P"),
    Row(
        IM_CN, "im.overage.dau.ultimate", "1000", per="10000", included="10000", mixed="included P"
    ),
    Row(
        IM_CN, "im.overage.groups.pro", "1000", per="100000", included="100000", mixed="included P"
    ),
    Row(
        IM_CN,
        "im.overage.groups.ultimate",
        "1000",
        per="100000",
        included="100000",
        mixed="included P",
    ),
    # ---- 4.3 IM value-added services, region cn, CNY per month (S) ---------------------------
    Row(IM_CN, "im.addon.avchatroom.pro", "1000"),
    Row(IM_CN, "im.addon.group_members.pro", "500"),
    Row(IM_CN, "im.addon.group_members.ultimate", "500"),
    Row(IM_CN, "im.addon.groups_per_user.pro", "1100"),
    Row(IM_CN, "im.addon.groups_per_user.ultimate", "900"),
    Row(IM_CN, "im.addon.message_history.pro.30d", "500"),
    Row(IM_CN, "im.addon.message_history.pro.90d", "1000"),
    Row(IM_CN, "im.addon.message_history.pro.180d", "1500"),
    Row(IM_CN, "im.addon.message_history.pro.360d", "2500"),
    Row(IM_CN, "im.addon.message_history.ultimate.90d", "500"),
    Row(IM_CN, "im.addon.message_history.ultimate.180d", "1000"),
    Row(IM_CN, "im.addon.message_history.ultimate.360d", "2000"),
    Row(IM_CN, "im.addon.calls.basic", "500", included="110000"),
    Row(IM_CN, "im.addon.calls.advanced", "1000", included="235000"),
    Row(IM_CN, "im.addon.calls.premium", "1500", included="380000"),
    # ---- 4.4 IM content moderation, CNY (S) ---------------------------------------------------
    Row(IM_CN, "im.addon.local_moderation", "1000"),
    Row(IM_CN, "im.moderation.unit", "0.0010"),
    Row(IM_CN, "im.moderation.text", "0", ratio="1", price_any_of=("0", "0.0010")),
    Row(IM_CN, "im.moderation.image", "0", ratio="0.65", price_any_of=("0", "0.0010")),
    Row(IM_CN, "im.moderation.audio", "0", ratio="15", price_any_of=("0", "0.0010")),
    Row(IM_CN, "im.moderation.video", "0", ratio="56", price_any_of=("0", "0.0010")),
    Row(IM_CN, "im.moderation_pack.monthly", "1050", included="1100000", months=1),
    Row(IM_CN, "im.moderation_pack.yearly_small", "9500", included="10000000", months=12),
    Row(IM_CN, "im.moderation_pack.yearly_medium", "49000", included="70000000", months=12),
    Row(IM_CN, "im.moderation_pack.yearly_large", "72000", included="125000000", months=12),
    # ---- 4.1 Region intl IM price book (P), in CNY --------------------------------------------
    # Trial is free and its limits are those of the 4.1 table; included DAU and groups of Pro
    # and Ultimate are the editions' (4.1), the overage blocks are the same size as in 4.2.
    Row(IM_INTL, "im.edition.trial", "0", source=P),
    Row(IM_INTL, "im.edition.pro", "2999", source=P),
    Row(IM_INTL, "im.edition.ultimate", "5999", source=P),
    Row(IM_INTL, "im.overage.dau.trial", "0", included="100", source=P, per_unchecked=True),
    Row(IM_INTL, "im.overage.groups.trial", "0", included="100", source=P, per_unchecked=True),
    Row(IM_INTL, "im.overage.dau.pro", "3000", per="10000", included="10000", source=P),
    Row(IM_INTL, "im.overage.dau.ultimate", "3000", per="10000", included="10000", source=P),
    Row(IM_INTL, "im.overage.groups.pro", "3000", per="100000", included="100000", source=P),
    Row(IM_INTL, "im.overage.groups.ultimate", "3000", per="100000", included="100000", source=P),
    Row(IM_INTL, "im.addon.avchatroom.pro", "3200", source=P),
    Row(IM_INTL, "im.addon.group_members.pro", "1700", source=P),
    Row(IM_INTL, "im.addon.group_members.ultimate", "1700", source=P),
    Row(IM_INTL, "im.addon.groups_per_user.pro", "3200", source=P),
    Row(IM_INTL, "im.addon.groups_per_user.ultimate", "3200", source=P),
    Row(IM_INTL, "im.addon.message_history.pro.30d", "700", source=P),
    Row(IM_INTL, "im.addon.message_history.pro.90d", "1280", source=P),
    Row(IM_INTL, "im.addon.message_history.pro.180d", "1920", source=P),
    Row(IM_INTL, "im.addon.message_history.pro.360d", "2850", source=P),
    Row(IM_INTL, "im.addon.message_history.ultimate.90d", "700", source=P),
    Row(IM_INTL, "im.addon.message_history.ultimate.180d", "1280", source=P),
    Row(IM_INTL, "im.addon.message_history.ultimate.360d", "2280", source=P),
    # ---- 4.5 TRTC cn (P): CNY per 1000 minutes; pack ratios audio 1, SD 2, HD 4, FHD 15 ------
    Row(TRTC_CN, "trtc.audio", "7", per="1000", ratio="1", source=P),
    Row(TRTC_CN, "trtc.video.sd", "14", per="1000", ratio="2", source=P),
    Row(TRTC_CN, "trtc.video.hd", "28", per="1000", ratio="4", source=P),
    Row(TRTC_CN, "trtc.video.fhd", "105", per="1000", ratio="15", source=P),
    # 4.6 (S): 10,000 free minutes a month in both regions, at no cost (2), deducted 1:1 (4.5).
    Row(TRTC_CN, "trtc.free_minutes", "0", included="10000", ratio="1"),
    # ---- 4.5 TRTC intl (P), USD per 1000 minutes; audio 0.99 (S); ratios 1, 4, 9, 16, 36 -----
    Row(TRTC_INTL, "trtc.audio", "0.99", per="1000", ratio="1", mixed="ratio P"),
    Row(TRTC_INTL, "trtc.video.hd", "3.99", per="1000", ratio="4", source=P),
    Row(TRTC_INTL, "trtc.video.fhd", "8.99", per="1000", ratio="9", source=P),
    Row(TRTC_INTL, "trtc.video.2k", "15.99", per="1000", ratio="16", source=P),
    Row(TRTC_INTL, "trtc.video.4k", "35.99", per="1000", ratio="36", source=P),
    # ---- 4.6 (S), USD per minute ---------------------------------------------------------------
    Row(TRTC_INTL, "trtc.ai", "0.01"),
    Row(TRTC_INTL, "trtc.stt", "0.02"),
    Row(TRTC_INTL, "trtc.free_minutes", "0", included="10000", ratio="1"),
]

EXPECTED_BY_KEY = {(row.book, row.item): row for row in EXPECTED}
assert len(EXPECTED_BY_KEY) == len(EXPECTED), "duplicate row in EXPECTED"


def book_id(book: tuple[str, str]) -> str:
    return "-".join(book)


def same(value, expected: str | None) -> bool:
    """Exact Decimal comparison (numeric, so 0.990000 == 0.99); None only equals None."""
    if expected is None or value is None:
        return value is None and expected is None
    return Decimal(value) == Decimal(expected)


def load_entry(book: tuple[str, str], item: str) -> PriceEntry:
    product, region = book
    return PriceEntry.objects.select_related("price_book", "item").get(
        price_book__product__code=product, price_book__region=region, item__code=item
    )


def figure_cases():
    for row in EXPECTED:
        prefix = f"{book_id(row.book)}/{row.item}"
        if row.price_any_of:
            yield pytest.param(row, "price_any_of", id=f"{prefix}/price in {row.price_any_of}")
        else:
            yield pytest.param(row, "unit_price", id=f"{prefix}/price={row.price}")
        if not row.per_unchecked:
            yield pytest.param(row, "per_quantity", id=f"{prefix}/per={row.per}")
        if row.included is not None:
            yield pytest.param(row, "included_quantity", id=f"{prefix}/included={row.included}")
        if row.ratio is not None:
            yield pytest.param(row, "deduction_ratio", id=f"{prefix}/ratio={row.ratio}")
        if row.months is not None:
            yield pytest.param(row, "validity_months", id=f"{prefix}/valid {row.months} months")
        note = f" (price S; {row.mixed})" if row.mixed else ""
        yield pytest.param(row, "source", id=f"{prefix}/source={row.source}{note}")


@pytest.mark.parametrize(("row", "field"), list(figure_cases()))
def test_figure(row: Row, field: str):
    entry = load_entry(row.book, row.item)
    if field == "price_any_of":
        assert any(same(entry.unit_price, p) for p in row.price_any_of), entry.unit_price
    elif field == "unit_price":
        assert same(entry.unit_price, row.price), f"{entry.unit_price} != {row.price}"
    elif field == "per_quantity":
        assert same(entry.per_quantity, row.per), f"{entry.per_quantity} != {row.per}"
    elif field == "included_quantity":
        assert same(entry.included_quantity, row.included), (
            f"{entry.included_quantity} != {row.included}"
        )
    elif field == "deduction_ratio":
        assert same(entry.deduction_ratio, row.ratio), f"{entry.deduction_ratio} != {row.ratio}"
    elif field == "validity_months":
        assert entry.validity_months == row.months
    elif field == "source":
        assert entry.source == row.source
    else:  # pragma: no cover
        raise AssertionError(field)


# ---- the set of entries: nothing extra, nothing missing ------------------------------------


def loaded_keys() -> list[tuple[tuple[str, str], str]]:
    return [
        ((product, region), item)
        for product, region, item in PriceEntry.objects.values_list(
            "price_book__product__code", "price_book__region", "item__code"
        )
    ]


def test_no_entry_missing():
    missing = set(EXPECTED_BY_KEY) - set(loaded_keys())
    assert not missing, sorted(missing)


def test_no_extra_entry():
    extra = set(loaded_keys()) - set(EXPECTED_BY_KEY)
    assert not extra, sorted(extra)


def test_one_version_per_book_and_item():
    keys = loaded_keys()
    assert len(keys) == len(set(keys))


def test_every_entry_source_is_s_or_p():
    sources = set(PriceEntry.objects.values_list("source", flat=True))
    assert sources <= {S, P}, sources


# ---- price books --------------------------------------------------------------------------


def test_exactly_the_four_price_books():
    books = set(PriceBook.objects.values_list("product__code", "region"))
    assert books == set(BOOK_CURRENCIES)


@pytest.mark.parametrize(
    ("book", "currency"),
    [pytest.param(b, c, id=f"{book_id(b)}={c}") for b, c in BOOK_CURRENCIES.items()],
)
def test_book_currency(book, currency):
    product, region = book
    assert PriceBook.objects.get(product__code=product, region=region).currency == currency


# ---- "-" in SPEC tables: not sold ----------------------------------------------------------

# (book, addon, edition) -> item codes of the options sold. SPEC 4.3 for cn; the intl IM book
# (4.1) lists only live groups, member limit, groups per user and message history.
_CALLS = {"im.addon.calls.basic", "im.addon.calls.advanced", "im.addon.calls.premium"}
_MH = "im.addon.message_history"
OPTIONS_SOLD = {}
for _book in (IM_CN, IM_INTL):
    OPTIONS_SOLD |= {
        (_book, "avchatroom", "pro"): {"im.addon.avchatroom.pro"},
        (_book, "avchatroom", "ultimate"): set(),  # "- (included)"
        (_book, "group_member_limit", "pro"): {"im.addon.group_members.pro"},
        (_book, "group_member_limit", "ultimate"): {"im.addon.group_members.ultimate"},
        (_book, "groups_per_user", "pro"): {"im.addon.groups_per_user.pro"},
        (_book, "groups_per_user", "ultimate"): {"im.addon.groups_per_user.ultimate"},
        (_book, "message_history", "pro"): {f"{_MH}.pro.{d}d" for d in (30, 90, 180, 360)},
        (_book, "message_history", "ultimate"): {f"{_MH}.ultimate.{d}d" for d in (90, 180, 360)},
        (_book, "calls", "pro"): _CALLS if _book == IM_CN else set(),
        (_book, "calls", "ultimate"): _CALLS if _book == IM_CN else set(),
    }


@pytest.mark.parametrize(
    ("book", "addon", "edition", "expected"),
    [
        pytest.param(
            *key, codes, id=f"{book_id(key[0])}/{key[1]}/{key[2]}: {len(codes) or 'not'} sold"
        )
        for key, codes in OPTIONS_SOLD.items()
    ],
)
def test_options_sold_per_edition(book, addon, edition, expected):
    product, region = book
    sold = PriceEntry.objects.filter(
        price_book__product__code=product,
        price_book__region=region,
        item__addon__code=addon,
    ).values_list("item__code", "item__edition__code")
    # An option bound to no edition is sold on every edition the add-on allows.
    codes = {code for code, on in sold if on in (None, edition)}
    assert codes == expected


@pytest.mark.parametrize(
    ("book", "item"),
    [
        pytest.param(TRTC_CN, "trtc.video.2k", id="trtc-cn/2K: not sold"),
        pytest.param(TRTC_CN, "trtc.video.4k", id="trtc-cn/4K: not sold"),
        pytest.param(TRTC_INTL, "trtc.video.sd", id="trtc-intl/SD: not sold"),
        pytest.param(IM_CN, "im.addon.message_history.ultimate.30d", id="im-cn/MH 30d Ultimate"),
        pytest.param(IM_INTL, "im.addon.message_history.ultimate.30d", id="im-intl/MH 30d Ult"),
    ],
)
def test_not_sold(book, item):
    product, region = book
    assert not PriceEntry.objects.filter(
        price_book__product__code=product, price_book__region=region, item__code=item
    ).exists()


# ---- 4.1 editions -------------------------------------------------------------------------

# code: (rank, may buy value-added services (S), hard limits (P), message history days (P))
EDITIONS = {
    "trial": (0, False, True, 7),
    "pro": (1, True, False, 7),
    "ultimate": (2, True, False, 30),
}


def test_exactly_three_editions():
    assert list(Edition.objects.values_list("code", flat=True)) == ["trial", "pro", "ultimate"]


def edition_cases():
    for code, (rank, may_buy, hard, days) in EDITIONS.items():
        yield pytest.param(code, "rank", rank, id=f"{code}/rank={rank}")
        yield pytest.param(code, "may_buy_addons", may_buy, id=f"{code}/may buy VAS={may_buy}")
        yield pytest.param(code, "limits_are_hard", hard, id=f"{code}/hard limits={hard}")
        yield pytest.param(code, "message_history_days", days, id=f"{code}/history {days} days")


@pytest.mark.parametrize(("code", "field", "expected"), list(edition_cases()))
def test_edition(code, field, expected):
    assert getattr(Edition.objects.get(code=code), field) == expected


@pytest.mark.parametrize("code", list(EDITIONS))
def test_edition_source_is_s_or_p(code):
    assert Edition.objects.get(code=code).source in {S, P}


# ---- 4.3 / 4.4 add-ons --------------------------------------------------------------------

# code: (billing, only editions that may buy value-added services)
ADDONS = {
    "avchatroom": ("prepaid", True),
    "group_member_limit": ("prepaid", True),
    "groups_per_user": ("prepaid", True),
    "message_history": ("postpaid", True),
    "calls": ("prepaid", True),
    "local_moderation": ("prepaid", False),  # 4.4: every edition, Trial included
}


def test_exactly_these_addons():
    assert set(AddOn.objects.values_list("code", flat=True)) == set(ADDONS)


def addon_cases():
    for code, (billing, requires) in ADDONS.items():
        yield pytest.param(code, "billing", billing, id=f"{code}/{billing}")
        yield pytest.param(
            code, "requires_addon_edition", requires, id=f"{code}/Pro+Ultimate only={requires}"
        )


@pytest.mark.parametrize(("code", "field", "expected"), list(addon_cases()))
def test_addon(code, field, expected):
    assert getattr(AddOn.objects.get(code=code), field) == expected


@pytest.mark.parametrize(
    ("item", "kind"),
    [
        pytest.param(code, kind, id=f"{code}={kind}")
        for code, kind in [
            *((f"{_MH}.pro.{d}d", "addon_accrual") for d in (30, 90, 180, 360)),
            *((f"{_MH}.ultimate.{d}d", "addon_accrual") for d in (90, 180, 360)),
            ("im.addon.avchatroom.pro", "addon_fee"),
            ("im.addon.group_members.pro", "addon_fee"),
            ("im.addon.group_members.ultimate", "addon_fee"),
            ("im.addon.groups_per_user.pro", "addon_fee"),
            ("im.addon.groups_per_user.ultimate", "addon_fee"),
            *((code, "addon_fee") for code in sorted(_CALLS)),
            ("im.addon.local_moderation", "addon_fee"),
            ("im.moderation_pack.monthly", "resource_pack"),
            ("im.moderation_pack.yearly_small", "resource_pack"),
            ("im.moderation_pack.yearly_medium", "resource_pack"),
            ("im.moderation_pack.yearly_large", "resource_pack"),
            ("trtc.free_minutes", "allowance"),
        ]
    ],
)
def test_item_kind_prepaid_or_postpaid(item, kind):
    assert BillableItem.objects.get(code=item).kind == kind


@pytest.mark.parametrize(
    ("item", "text"),
    [
        pytest.param("im.addon.group_members.pro", "2000", id="member limit Pro 2000"),
        pytest.param("im.addon.group_members.ultimate", "6000", id="member limit Ultimate 6000"),
        pytest.param("im.addon.groups_per_user.pro", "1000", id="groups per user Pro 1000"),
        pytest.param("im.addon.groups_per_user.ultimate", "3000", id="groups per user Ult 3000"),
        *(
            pytest.param(f"{_MH}.{ed}.{d}d", f"{d} days", id=f"history {ed} {d} days")
            for ed, days in (("pro", (30, 90, 180, 360)), ("ultimate", (90, 180, 360)))
            for d in days
        ),
    ],
)
def test_addon_option_named_after_its_limit(item, text):
    assert text in BillableItem.objects.get(code=item).name


@pytest.mark.parametrize(
    ("item", "covers"),
    [
        *(pytest.param(code, "call_minutes", id=f"{code}=call minutes") for code in _CALLS),
        *(
            pytest.param(f"im.moderation_pack.{size}", "moderation_units", id=f"{size}=mod units")
            for size in ("monthly", "yearly_small", "yearly_medium", "yearly_large")
        ),
    ],
)
def test_what_a_pack_covers(item, covers):
    assert BillableItem.objects.get(code=item).covers == covers


# ---- 4.6 free allowance and order of coverage ---------------------------------------------

FREE_ALLOWANCE_USERS = {
    "trtc.audio": True,
    "trtc.video.sd": True,
    "trtc.video.hd": True,
    "trtc.video.fhd": True,
    "trtc.video.2k": True,
    "trtc.video.4k": True,
    "trtc.ai": True,
    "trtc.stt": False,  # "never for speech-to-text"
}


@pytest.mark.parametrize(
    ("item", "uses"),
    [pytest.param(c, u, id=f"{c} uses allowance={u}") for c, u in FREE_ALLOWANCE_USERS.items()],
)
def test_uses_free_allowance(item, uses):
    assert BillableItem.objects.get(code=item).uses_free_allowance is uses


def test_allowance_order_audio_then_video_by_resolution_then_ai():
    order = ["trtc.audio", "trtc.video.sd", "trtc.video.hd", "trtc.video.fhd"]
    order += ["trtc.video.2k", "trtc.video.4k", "trtc.ai"]
    sort_orders = dict(
        BillableItem.objects.filter(code__in=order).values_list("code", "sort_order")
    )
    assert sorted(order, key=sort_orders.__getitem__) == order
    assert len(set(sort_orders.values())) == len(order)

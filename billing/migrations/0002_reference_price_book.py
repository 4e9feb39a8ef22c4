"""The reference price book of SPEC section 4, as data.

Every figure carries its source: "S" for the provider's source documents (fixed by them),
"P" for the provider's public pages (the reference until staff change them). Where one entry
mixes both (an S price with a P included quantity) the note says which part is which.
The data is frozen here on purpose: a migration must not import code that changes later.
"""

from decimal import Decimal as D

from django.db import migrations

# Far enough back for customers migrated from another system with backdated editions.
EFFECTIVE_FROM = "2020-01-01"

PRODUCTS = [("im", "Instant Messaging"), ("trtc", "Real-Time Communication (TRTC)")]

PRICE_BOOKS = [
    # (product, region, currency, name)
    ("im", "cn", "CNY", "IM - China"),
    ("im", "intl", "CNY", "IM - International"),
    ("trtc", "cn", "CNY", "TRTC - China"),
    ("trtc", "intl", "USD", "TRTC - International"),
]

EDITIONS = [
    # (code, name, rank, may_buy_addons, limits_are_hard, message_history_days, source)
    ("trial", "Trial", 0, False, True, 7, "P"),
    ("pro", "Pro", 1, True, False, 7, "P"),
    ("ultimate", "Ultimate", 2, True, False, 30, "P"),
]

ADDONS = [
    # (code, product, name, billing, requires_addon_edition)
    ("avchatroom", "im", "Unlimited live groups (AVChatRoom)", "prepaid", True),
    ("group_member_limit", "im", "Group member limit", "prepaid", True),
    ("groups_per_user", "im", "Groups per user limit", "prepaid", True),
    ("message_history", "im", "Message history", "postpaid", True),
    ("calls", "im", "Audio/video calls", "prepaid", True),
    ("local_moderation", "im", "Local content moderation", "prepaid", False),
]

# (code, product, kind, name, unit, edition, addon, covers, uses_free_allowance, sort_order)
ITEMS = [
    ("im.edition.trial", "im", "edition_fee", "IM Trial edition", "month", "trial", None, "", False, 1),
    ("im.edition.pro", "im", "edition_fee", "IM Pro edition", "month", "pro", None, "", False, 2),
    ("im.edition.ultimate", "im", "edition_fee", "IM Ultimate edition", "month", "ultimate", None, "", False, 3),
    ("im.overage.dau.trial", "im", "overage", "IM DAU above the Trial limit", "DAU", "trial", None, "", False, 10),
    ("im.overage.dau.pro", "im", "overage", "IM DAU overage (Pro)", "block of DAU", "pro", None, "", False, 11),
    ("im.overage.dau.ultimate", "im", "overage", "IM DAU overage (Ultimate)", "block of DAU", "ultimate", None, "", False, 12),
    ("im.overage.groups.trial", "im", "overage", "IM groups above the Trial limit", "group", "trial", None, "", False, 13),
    ("im.overage.groups.pro", "im", "overage", "IM peak groups overage (Pro)", "block of groups", "pro", None, "", False, 14),
    ("im.overage.groups.ultimate", "im", "overage", "IM peak groups overage (Ultimate)", "block of groups", "ultimate", None, "", False, 15),
    ("im.addon.avchatroom.pro", "im", "addon_fee", "Unlimited live groups (AVChatRoom)", "month", "pro", "avchatroom", "", False, 20),
    ("im.addon.group_members.pro", "im", "addon_fee", "Group member limit: 2000 per group", "month", "pro", "group_member_limit", "", False, 21),
    ("im.addon.group_members.ultimate", "im", "addon_fee", "Group member limit: 6000 per group", "month", "ultimate", "group_member_limit", "", False, 22),
    ("im.addon.groups_per_user.pro", "im", "addon_fee", "Groups per user: 1000 per user", "month", "pro", "groups_per_user", "", False, 23),
    ("im.addon.groups_per_user.ultimate", "im", "addon_fee", "Groups per user: 3000 per user", "month", "ultimate", "groups_per_user", "", False, 24),
    ("im.addon.message_history.pro.30d", "im", "addon_accrual", "Message history 30 days", "month", "pro", "message_history", "", False, 30),
    ("im.addon.message_history.pro.90d", "im", "addon_accrual", "Message history 90 days", "month", "pro", "message_history", "", False, 31),
    ("im.addon.message_history.pro.180d", "im", "addon_accrual", "Message history 180 days", "month", "pro", "message_history", "", False, 32),
    ("im.addon.message_history.pro.360d", "im", "addon_accrual", "Message history 360 days", "month", "pro", "message_history", "", False, 33),
    ("im.addon.message_history.ultimate.90d", "im", "addon_accrual", "Message history 90 days", "month", "ultimate", "message_history", "", False, 34),
    ("im.addon.message_history.ultimate.180d", "im", "addon_accrual", "Message history 180 days", "month", "ultimate", "message_history", "", False, 35),
    ("im.addon.message_history.ultimate.360d", "im", "addon_accrual", "Message history 360 days", "month", "ultimate", "message_history", "", False, 36),
    ("im.addon.calls.basic", "im", "addon_fee", "Audio/video calls: Basic", "month", None, "calls", "call_minutes", False, 40),
    ("im.addon.calls.advanced", "im", "addon_fee", "Audio/video calls: Advanced", "month", None, "calls", "call_minutes", False, 41),
    ("im.addon.calls.premium", "im", "addon_fee", "Audio/video calls: Premium", "month", None, "calls", "call_minutes", False, 42),
    ("im.addon.local_moderation", "im", "addon_fee", "Local content moderation", "month", None, "local_moderation", "", False, 50),
    ("im.moderation.unit", "im", "usage", "Cloud moderation", "deduction unit", None, None, "", False, 60),
    ("im.moderation.text", "im", "usage", "Cloud moderation: text", "deduction unit", None, None, "", False, 61),
    ("im.moderation.image", "im", "usage", "Cloud moderation: images", "deduction unit", None, None, "", False, 62),
    ("im.moderation.audio", "im", "usage", "Cloud moderation: audio", "deduction unit", None, None, "", False, 63),
    ("im.moderation.video", "im", "usage", "Cloud moderation: video", "deduction unit", None, None, "", False, 64),
    ("im.moderation_pack.monthly", "im", "resource_pack", "Moderation pack, monthly (1,100,000 units)", "pack", None, None, "moderation_units", False, 70),
    ("im.moderation_pack.yearly_small", "im", "resource_pack", "Moderation pack, yearly small (10,000,000 units)", "pack", None, None, "moderation_units", False, 71),
    ("im.moderation_pack.yearly_medium", "im", "resource_pack", "Moderation pack, yearly medium (70,000,000 units)", "pack", None, None, "moderation_units", False, 72),
    ("im.moderation_pack.yearly_large", "im", "resource_pack", "Moderation pack, yearly large (125,000,000 units)", "pack", None, None, "moderation_units", False, 73),
    ("trtc.audio", "trtc", "usage", "TRTC audio", "minute", None, None, "", True, 1),
    ("trtc.video.sd", "trtc", "usage", "TRTC video SD", "minute", None, None, "", True, 2),
    ("trtc.video.hd", "trtc", "usage", "TRTC video HD", "minute", None, None, "", True, 3),
    ("trtc.video.fhd", "trtc", "usage", "TRTC video Full HD", "minute", None, None, "", True, 4),
    ("trtc.video.2k", "trtc", "usage", "TRTC video 2K", "minute", None, None, "", True, 5),
    ("trtc.video.4k", "trtc", "usage", "TRTC video 4K", "minute", None, None, "", True, 6),
    ("trtc.ai", "trtc", "usage", "Conversational AI", "minute", None, None, "", True, 7),
    ("trtc.stt", "trtc", "usage", "Speech-to-text", "minute", None, None, "", False, 8),
    ("trtc.free_minutes", "trtc", "allowance", "Free TRTC minutes", "minute", None, None, "", False, 9),
]


def entry(item, price, *, per=1, included=None, ratio=None, months=None, source, note=""):
    return {
        "item": item,
        "unit_price": D(price),
        "per_quantity": D(per),
        "included_quantity": None if included is None else D(included),
        "deduction_ratio": None if ratio is None else D(ratio),
        "validity_months": months,
        "source": source,
        "note": note,
    }


ENTRIES = {
    ("im", "cn"): [
        # SPEC 4.1: monthly fees (S).
        entry("im.edition.trial", "0", source="S"),
        entry("im.edition.pro", "999", source="S"),
        entry("im.edition.ultimate", "2999", source="S"),
        # SPEC 4.1/4.2: included DAU and groups (P); overage 1000 per block (S).
        entry("im.overage.dau.trial", "0", included=100, source="P",
              note="hard limit, never billed"),
        entry("im.overage.dau.pro", "1000", per=10000, included=10000, source="S",
              note="block price and size S; 10,000 DAU included P"),
        entry("im.overage.dau.ultimate", "1000", per=10000, included=10000, source="S",
              note="block price and size S; 10,000 DAU included P"),
        entry("im.overage.groups.trial", "0", included=100, source="P",
              note="hard limit, never billed"),
        entry("im.overage.groups.pro", "1000", per=100000, included=100000, source="S",
              note="block price and size S; 100,000 groups included P"),
        entry("im.overage.groups.ultimate", "1000", per=100000, included=100000, source="S",
              note="block price and size S; 100,000 groups included P"),
        # SPEC 4.3: value-added services, CNY per month (S).
        entry("im.addon.avchatroom.pro", "1000", source="S"),
        entry("im.addon.group_members.pro", "500", source="S"),
        entry("im.addon.group_members.ultimate", "500", source="S"),
        entry("im.addon.groups_per_user.pro", "1100", source="S"),
        entry("im.addon.groups_per_user.ultimate", "900", source="S"),
        entry("im.addon.message_history.pro.30d", "500", source="S"),
        entry("im.addon.message_history.pro.90d", "1000", source="S"),
        entry("im.addon.message_history.pro.180d", "1500", source="S"),
        entry("im.addon.message_history.pro.360d", "2500", source="S"),
        entry("im.addon.message_history.ultimate.90d", "500", source="S"),
        entry("im.addon.message_history.ultimate.180d", "1000", source="S"),
        entry("im.addon.message_history.ultimate.360d", "2000", source="S"),
        entry("im.addon.calls.basic", "500", included=110000, source="S",
              note="110,000 call minutes a month"),
        entry("im.addon.calls.advanced", "1000", included=235000, source="S",
              note="235,000 call minutes a month"),
        entry("im.addon.calls.premium", "1500", included=380000, source="S",
              note="380,000 call minutes a month"),
        # SPEC 4.4: content moderation (S).
        entry("im.addon.local_moderation", "1000", source="S"),
        entry("im.moderation.unit", "0.0010", source="S", note="per deduction unit"),
        entry("im.moderation.text", "0", ratio="1", source="S",
              note="1 unit per message; priced by im.moderation.unit"),
        entry("im.moderation.image", "0", ratio="0.65", source="S",
              note="0.65 unit per image; priced by im.moderation.unit"),
        entry("im.moderation.audio", "0", ratio="15", source="S",
              note="15 units per minute; priced by im.moderation.unit"),
        entry("im.moderation.video", "0", ratio="56", source="S",
              note="56 units per minute; priced by im.moderation.unit"),
        entry("im.moderation_pack.monthly", "1050", included=1100000, months=1, source="S"),
        entry("im.moderation_pack.yearly_small", "9500", included=10000000, months=12,
              source="S"),
        entry("im.moderation_pack.yearly_medium", "49000", included=70000000, months=12,
              source="S"),
        entry("im.moderation_pack.yearly_large", "72000", included=125000000, months=12,
              source="S"),
    ],
    ("im", "intl"): [
        # SPEC 4.1: region intl IM price book (P), in CNY.
        entry("im.edition.trial", "0", source="P"),
        entry("im.edition.pro", "2999", source="P"),
        entry("im.edition.ultimate", "5999", source="P"),
        entry("im.overage.dau.trial", "0", included=100, source="P",
              note="hard limit, never billed"),
        entry("im.overage.dau.pro", "3000", per=10000, included=10000, source="P"),
        entry("im.overage.dau.ultimate", "3000", per=10000, included=10000, source="P"),
        entry("im.overage.groups.trial", "0", included=100, source="P",
              note="hard limit, never billed"),
        entry("im.overage.groups.pro", "3000", per=100000, included=100000, source="P"),
        entry("im.overage.groups.ultimate", "3000", per=100000, included=100000, source="P"),
        entry("im.addon.avchatroom.pro", "3200", source="P"),
        entry("im.addon.group_members.pro", "1700", source="P"),
        entry("im.addon.group_members.ultimate", "1700", source="P"),
        entry("im.addon.groups_per_user.pro", "3200", source="P"),
        entry("im.addon.groups_per_user.ultimate", "3200", source="P"),
        entry("im.addon.message_history.pro.30d", "700", source="P"),
        entry("im.addon.message_history.pro.90d", "1280", source="P"),
        entry("im.addon.message_history.pro.180d", "1920", source="P"),
        entry("im.addon.message_history.pro.360d", "2850", source="P"),
        entry("im.addon.message_history.ultimate.90d", "700", source="P"),
        entry("im.addon.message_history.ultimate.180d", "1280", source="P"),
        entry("im.addon.message_history.ultimate.360d", "2280", source="P"),
    ],
    ("trtc", "cn"): [
        # SPEC 4.5 (P): CNY per 1000 minutes; ratio = pack minutes per minute of usage.
        entry("trtc.audio", "7", per=1000, ratio="1", source="P"),
        entry("trtc.video.sd", "14", per=1000, ratio="2", source="P"),
        entry("trtc.video.hd", "28", per=1000, ratio="4", source="P"),
        entry("trtc.video.fhd", "105", per=1000, ratio="15", source="P"),
        # SPEC 4.6 (S): 10,000 free minutes per application per month, both regions, 1:1.
        entry("trtc.free_minutes", "0", included=10000, ratio="1", source="S"),
    ],
    ("trtc", "intl"): [
        entry("trtc.audio", "0.99", per=1000, ratio="1", source="S",
              note="price S; pack ratio P"),
        entry("trtc.video.hd", "3.99", per=1000, ratio="4", source="P"),
        entry("trtc.video.fhd", "8.99", per=1000, ratio="9", source="P"),
        entry("trtc.video.2k", "15.99", per=1000, ratio="16", source="P"),
        entry("trtc.video.4k", "35.99", per=1000, ratio="36", source="P"),
        # SPEC 4.6 (S): USD per minute.
        entry("trtc.ai", "0.01", source="S"),
        entry("trtc.stt", "0.02", source="S"),
        entry("trtc.free_minutes", "0", included=10000, ratio="1", source="S"),
    ],
}


def load(apps, schema_editor):
    Product = apps.get_model("billing", "Product")
    PriceBook = apps.get_model("billing", "PriceBook")
    Edition = apps.get_model("billing", "Edition")
    AddOn = apps.get_model("billing", "AddOn")
    BillableItem = apps.get_model("billing", "BillableItem")
    PriceEntry = apps.get_model("billing", "PriceEntry")

    products = {code: Product.objects.create(code=code, name=name) for code, name in PRODUCTS}
    books = {
        (product, region): PriceBook.objects.create(
            product=products[product], region=region, currency=currency, name=name
        )
        for product, region, currency, name in PRICE_BOOKS
    }
    editions = {}
    for code, name, rank, may_buy, hard, history, source in EDITIONS:
        editions[code] = Edition.objects.create(
            code=code,
            name=name,
            rank=rank,
            may_buy_addons=may_buy,
            limits_are_hard=hard,
            message_history_days=history,
            source=source,
        )
    addons = {
        code: AddOn.objects.create(
            code=code,
            product=products[product],
            name=name,
            billing=billing,
            requires_addon_edition=requires,
        )
        for code, product, name, billing, requires in ADDONS
    }
    items = {}
    for code, product, kind, name, unit, edition, addon, covers, allowance, order in ITEMS:
        items[code] = BillableItem.objects.create(
            code=code,
            product=products[product],
            kind=kind,
            name=name,
            unit=unit,
            edition=editions[edition] if edition else None,
            addon=addons[addon] if addon else None,
            covers=covers,
            uses_free_allowance=allowance,
            sort_order=order,
        )
    rows = []
    for book_key, entries in ENTRIES.items():
        for spec in entries:
            rows.append(
                PriceEntry(
                    price_book=books[book_key],
                    effective_from=EFFECTIVE_FROM,
                    **{**spec, "item": items[spec["item"]]},
                )
            )
    PriceEntry.objects.bulk_create(rows)


def unload(apps, schema_editor):
    for model in ["PriceEntry", "BillableItem", "AddOn", "Edition", "PriceBook", "Product"]:
        apps.get_model("billing", model).objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [migrations.RunPython(load, unload)]

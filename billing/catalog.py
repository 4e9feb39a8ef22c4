"""Price-book look-ups: which entry of an item is in force for a region on a day."""

import datetime as dt
from collections.abc import Iterable

from billing.errors import BillingError
from billing.models import BillableItem, Edition, PriceEntry


def price_entry_in_force(*, item: BillableItem, region: str, day: dt.date) -> PriceEntry:
    """The newest entry of ``item`` in the region's price book effective on ``day``.

    Raises BillingError(code="not_sold") when the region's price book has no such entry."""
    entry = (
        PriceEntry.objects.select_related("price_book", "item")
        .filter(
            item=item,
            price_book__product_id=item.product_id,
            price_book__region=region,
            effective_from__lte=day,
        )
        .order_by("-effective_from")
        .first()
    )
    if entry is None:
        raise BillingError(
            f"{item.name} is not sold in region {region}.", code="not_sold", field="item"
        )
    return entry


def price_entries_in_force(
    *, item_codes: Iterable[str], region: str, day: dt.date
) -> dict[str, PriceEntry]:
    """Every listed item's entry in force (items not sold in the region are left out), in one
    query: the newest version per item with effective_from <= day."""
    entries = (
        PriceEntry.objects.select_related("price_book", "item")
        .filter(item__code__in=list(item_codes), price_book__region=region, effective_from__lte=day)
        .order_by("item__code", "-effective_from")
    )
    found: dict[str, PriceEntry] = {}
    for entry in entries:
        found.setdefault(entry.item.code, entry)
    return found


def item_by_code(code: str) -> BillableItem:
    try:
        return BillableItem.objects.select_related("addon", "edition", "product").get(code=code)
    except BillableItem.DoesNotExist:
        raise BillingError(f"Unknown item {code!r}.", code="unknown_item", field="item") from None


def edition_by_code(code: str) -> Edition:
    try:
        return Edition.objects.get(code=code)
    except Edition.DoesNotExist:
        names = ", ".join(Edition.objects.values_list("code", flat=True))
        raise BillingError(
            f"Unknown edition {code!r}; choose one of {names}.", code="invalid", field="edition"
        ) from None

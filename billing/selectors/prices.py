"""Catalog and price look-ups for the jobs and estimates: the price entries in force and
the billable items, cached for one run, as the pure rules take them."""

import datetime as dt

from billing.catalog import price_entries_in_force
from billing.models import (
    BillableItem,
    Edition,
    PriceEntry,
)
from billing.rating.types import ChargeDraft, Price


def price_of(entry: PriceEntry) -> Price:
    return Price(
        entry_id=entry.pk,
        unit_price=entry.unit_price,
        per_quantity=entry.per_quantity,
        included_quantity=entry.included_quantity,
        deduction_ratio=entry.deduction_ratio,
    )


class PriceCatalog:
    """Price entries in force and items, cached for one job run."""

    def __init__(self):
        self._entries: dict[tuple[str, dt.date], dict[str, PriceEntry]] = {}
        self._prices: dict[tuple[str, dt.date], dict[str, Price]] = {}
        self._currencies: dict[tuple[str, dt.date], dict[str, str]] = {}
        self.items = {item.code: item for item in BillableItem.objects.all()}
        self.editions = {edition.pk: edition for edition in Edition.objects.all()}

    def entries(self, region: str, day: dt.date) -> dict[str, PriceEntry]:
        key = (region, day)
        if key not in self._entries:
            self._entries[key] = price_entries_in_force(
                item_codes=self.items.keys(), region=region, day=day
            )
            entries = self._entries[key]
            self._prices[key] = {code: price_of(entry) for code, entry in entries.items()}
            self._currencies[key] = {
                code: entry.price_book.currency for code, entry in entries.items()
            }
        return self._entries[key]

    def prices(self, region: str, day: dt.date) -> dict[str, Price]:
        """The entries in force as the pure rules take them, built once per region and day."""
        self.entries(region, day)
        return self._prices[(region, day)]

    def currencies(self, region: str, day: dt.date) -> dict[str, str]:
        self.entries(region, day)
        return self._currencies[(region, day)]


def price_entries_by_id(drafts: list[ChargeDraft]) -> dict[int, PriceEntry]:
    """The price entries (with their price book) the drafts were rated under."""
    ids = {draft.price_entry_id for draft in drafts}
    return {e.pk: e for e in PriceEntry.objects.filter(pk__any=ids).select_related("price_book")}


ALLOWANCE_ITEM = "trtc.free_minutes"

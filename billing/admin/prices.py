"""The price book in the finance admin: entries are revised, never edited in place."""

from django.contrib import admin

from billing.admin.actions import ActionViewsMixin
from billing.admin.base import ReadOnlyAdmin
from billing.admin.forms import PriceRevisionForm
from billing.models import (
    PriceEntry,
)
from billing.services import finance

# --------------------------------------------------------------------------------------------
# The price book
# --------------------------------------------------------------------------------------------


@admin.register(PriceEntry)
class PriceEntryAdmin(ActionViewsMixin, ReadOnlyAdmin):
    """A price is never edited: "New version" creates a row effective from a chosen date."""

    list_display = (
        "item",
        "price_book",
        "effective_from",
        "unit_price",
        "per_quantity",
        "included_quantity",
        "deduction_ratio",
        "source",
    )
    list_filter = ("price_book", "source")
    search_fields = ("item__code", "item__name")
    list_select_related = ("item", "price_book")
    object_actions = {
        "revise": {
            "label": "New version of this price",
            "perm": "billing.add_priceentry",
            "when": lambda entry: True,
            "help": "Creates a new version from the date given; this one is kept as it is. "
            "Draft months already rated keep their charges until re-rated.",
            "initial": lambda entry: {
                "unit_price": entry.unit_price,
                "per_quantity": entry.per_quantity,
                "included_quantity": entry.included_quantity,
                "deduction_ratio": entry.deduction_ratio,
                "validity_months": entry.validity_months,
            },
        }
    }

    def action_summary(self, entry):
        return [
            ("Item", f"{entry.item.name} ({entry.item.code})"),
            ("Price book", entry.price_book),
            ("Effective from", entry.effective_from),
            ("Price", f"{entry.unit_price} {entry.currency} per {entry.per_quantity}"),
        ]

    def revise_view(self, request, object_id):
        def perform(request, entry, data):
            values = {name: data[name] for name in finance.PRICE_FIELDS}
            created = finance.price_entry_revise(
                entry=entry,
                effective_from=data["effective_from"],
                note=data["note"],
                actor=request.user,
                **values,
            )
            return f"New price version from {created.effective_from}: {created.unit_price}."

        return self._action_view(
            request,
            object_id,
            action="revise",
            perm="billing.add_priceentry",
            form_class=PriceRevisionForm,
            perform=perform,
        )

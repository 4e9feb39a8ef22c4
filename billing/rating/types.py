"""Values shared by the rating rules: prices in force, pack balances, coverages and the
charge a rule produces (SPEC 2, "Charge")."""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from billing.money import exact

ZERO = Decimal(0)


@dataclass(frozen=True)
class Price:
    """One price-book entry in force (``billing.models.PriceEntry`` without the ORM).

    ``unit_price`` is money per ``per_quantity`` units: 0.99 USD per 1000 minutes is
    ``unit_price=0.99, per_quantity=1000``. ``included_quantity`` is what an edition includes
    (DAU, groups) and ``deduction_ratio`` how many covering units one unit of usage uses
    (moderation units per image, pack minutes per HD minute)."""

    entry_id: int | None
    unit_price: Decimal
    per_quantity: Decimal = Decimal(1)
    included_quantity: Decimal | None = None
    deduction_ratio: Decimal | None = None

    def __post_init__(self) -> None:
        if self.unit_price < 0:
            raise ValueError(f"unit price must not be negative, got {self.unit_price}")
        if self.per_quantity <= 0:
            raise ValueError(f"per_quantity must be positive, got {self.per_quantity}")
        if self.deduction_ratio is not None and self.deduction_ratio <= 0:
            raise ValueError(f"deduction ratio must be positive, got {self.deduction_ratio}")

    def amount_for(self, quantity: Decimal) -> Decimal:
        """Exact money for ``quantity`` units: quantity x unit_price / per_quantity."""
        return exact(quantity * self.unit_price / self.per_quantity)


@dataclass(frozen=True)
class PackBalance:
    """A resource pack valid on the day being rated and the units it has left.

    Packs are consumed earliest-expiring first; ties go to the lower ``pack_id``."""

    pack_id: int
    units_left: Decimal
    valid_until: date


@dataclass(frozen=True)
class Coverage:
    """What covered part of a charge: ``source`` is "allowance" or "pack"."""

    source: str
    pack_id: int | None
    usage_quantity: Decimal  # quantity of the charge's unit covered
    units_used: Decimal  # covering units consumed (after the deduction ratio)


@dataclass(frozen=True)
class ChargeDraft:
    """A rated charge before it is stored: quantity = covered + billable, and the exact
    amount is what the billable quantity costs."""

    item_code: str
    quantity: Decimal
    covered_quantity: Decimal
    billable_quantity: Decimal
    unit_price: Decimal
    per_quantity: Decimal
    amount: Decimal  # exact (billing.money.exact), >= 0
    price_entry_id: int | None
    explanation: str
    details: dict = field(hash=False)  # the aggregate behind it, JSON-serialisable
    coverages: tuple[Coverage, ...] = ()

    def __post_init__(self) -> None:
        if self.amount < 0:
            raise ValueError(f"{self.item_code}: amount must not be negative ({self.amount})")
        if not ZERO <= self.covered_quantity <= self.quantity:
            raise ValueError(f"{self.item_code}: covered quantity outside 0..quantity")
        if self.covered_quantity + self.billable_quantity != self.quantity:
            raise ValueError(f"{self.item_code}: covered + billable must equal quantity")

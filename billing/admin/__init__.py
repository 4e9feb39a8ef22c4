"""Finance staff's view of the bills (SPEC 6, issue 4).

Money is never deleted from here; totals, charges, usage and the audit trail are read-only;
issued invoices are read-only in every form. What finance staff may do to a bill is a set of
actions, each a form that calls one service of ``billing.services.finance`` (which writes the
audit record in the same transaction). Finance staff hold the model permissions of the finance
group; support staff only ``view_*`` and see no action.

The admin is a package, one module per area: ``base`` (read-only classes), ``forms`` (one form
per action), ``actions`` (the action framework), then ``invoices``, ``applications``,
``prices``, ``documents`` and ``restatements``. Importing this package registers every admin
class."""

from billing.admin import (  # noqa: F401 (registers)
    applications,
    documents,
    invoices,
    prices,
    restatements,
)
from billing.admin.base import ReadOnlyAdmin, ReadOnlyInline

__all__ = ["ReadOnlyAdmin", "ReadOnlyInline"]

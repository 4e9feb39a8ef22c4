"""Who may call what. Authentication comes first (no credentials: 401); then these classes
answer 403 for a caller of the wrong kind, before any object is looked up, so a 403 never
says whether an object exists. Objects of another account are simply not in the caller's
querysets: they answer 404."""

from rest_framework.permissions import BasePermission

from accounts import permissions as policy
from billing.api.authentication import is_account_key, is_key, is_staff_session


class AccountKey(BasePermission):
    """Endpoints that act for one account: an account key only."""

    message = "This endpoint needs an account key; service keys may only report usage."

    def has_permission(self, request, view) -> bool:
        return is_account_key(request)


class UsageReporter(BasePermission):
    """POST /usage-events: an account key (its own applications) or a service key (any)."""

    message = "Usage is reported with an account key or a service key."

    def has_permission(self, request, view) -> bool:
        return is_key(request)


class InvoiceReader(BasePermission):
    """Invoices: an account key (its account's) or staff allowed to view invoices (all)."""

    message = "Invoices are read with an account key, or by staff allowed to view invoices."

    def has_permission(self, request, view) -> bool:
        if is_account_key(request):
            return True
        return is_staff_session(request) and request.user.has_perm("billing.view_invoice")


class FinanceStaff(BasePermission):
    """Money-changing endpoints: staff holding the model permission the view names
    (``finance_permission``, e.g. "billing.add_adjustment"; the finance group has them all).

    It is an object permission, checked after the invoice is found in the caller's scope, so
    an account key gets 404 for another account's invoice and 403 for its own."""

    message = "Only finance staff may do this."

    def has_permission(self, request, view) -> bool:
        return InvoiceReader().has_permission(request, view)

    def has_object_permission(self, request, view, obj) -> bool:
        return is_staff_session(request) and request.user.has_perm(view.finance_permission)


class Policy(BasePermission):
    """The key's scopes against the policy of accounts/permissions.py: the view names the
    action of each method (``policy_actions = {"GET": "applications.read", ...}``). Checked
    on the key alone, before any lookup; a refusal names the scope needed. Staff sessions pass
    to the view's other permission classes (list this one after them)."""

    message = "This key may not do this."

    def has_permission(self, request, view) -> bool:
        if not is_key(request):
            return True
        action = getattr(view, "policy_actions", {}).get(request.method)
        if action is None:
            return True  # e.g. a method the view does not have: 405 follows
        if policy.key_allows(request.auth, action):
            return True
        self.message = policy.key_refusal(request.auth, action)
        return False

"""Who may do what: the one policy of the portal and the API (issue 19).

Every action a person or a key can take on an account is registered here with the membership
roles that may take it in the portal and the API key scope that allows it over the API. Portal
views call ``role_check`` (or ``accounts_allowing``); the API's permission class
``billing.api.permissions.Policy`` calls ``key_check``. A refusal is a 403 whose message names
the role or the scope needed.

To add an action (alerts, webhooks, statements, billing profile, ...): ``register(...)`` it
below, call ``role_check(user=..., account_id=..., action=...)`` in the view, set
``policy_actions = {"GET": "...", "POST": "..."}`` on the API view with
``permission_classes = [Policy]``, and give its URL a row in the isolation matrix.

Keys: an account key created without scopes has its account's full rights (every key created
before scopes existed works as before). A scoped key may do what its scopes allow. Service keys
belong to no account and may only do the actions marked ``service_key`` (usage reporting).
"""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied

from accounts.models import ApiKey, Membership, Role

# --------------------------------------------------------------------------------------------
# Scopes of API keys
# --------------------------------------------------------------------------------------------

SCOPES: dict[str, str] = {
    "usage:write": "report usage events",
    "applications:read": "read applications, their usage, charges and month to date",
    "applications:write": "create applications",
    "billing:read": "read invoices, balances, statements and the billing profile",
    "billing:write": "purchases (editions, add-ons, packs) and billing settings",
}
# The scopes a developer may give the keys they create ("API keys of the developer scope").
DEVELOPER_SCOPES = frozenset({"usage:write", "applications:read", "applications:write"})
# The scopes each role may put on a key it creates; an empty key (full rights) is the owner's.
ROLE_KEY_SCOPES: dict[str, frozenset[str]] = {
    Role.OWNER: frozenset(SCOPES),
    Role.DEVELOPER: DEVELOPER_SCOPES,
}

ALL_ROLES = frozenset(Role.values)
OWNER = frozenset({Role.OWNER})
MONEY_READERS = frozenset({Role.OWNER, Role.BILLING, Role.VIEWER})
BILLING_WRITERS = frozenset({Role.OWNER, Role.BILLING})
DEVELOPERS = frozenset({Role.OWNER, Role.DEVELOPER})


@dataclass(frozen=True)
class Action:
    name: str
    roles: frozenset[str]  # membership roles that may take it in the portal
    # The key scope that allows it over the API; None: keys with full rights only.
    scope: str | None
    description: str
    keys: bool = True  # False: no API key may take it, full rights or not
    service_key: bool = False  # service keys may take it too


ACTIONS: dict[str, Action] = {}


def register(
    name: str,
    *,
    roles,
    scope: str | None,
    description: str,
    keys: bool = True,
    service_key: bool = False,
) -> Action:
    """Add an action to the policy (at import time of this module or of the app adding it)."""
    if scope is not None and scope not in SCOPES:
        raise ValueError(f"{name}: unknown scope {scope!r}")
    unknown = set(roles) - ALL_ROLES
    if unknown:
        raise ValueError(f"{name}: unknown roles {sorted(unknown)}")
    action = Action(
        name=name,
        roles=frozenset(roles),
        scope=scope,
        description=description,
        keys=keys,
        service_key=service_key,
    )
    ACTIONS[name] = action
    return action


# fmt: off
register("applications.read", roles=ALL_ROLES, scope="applications:read",
         description="see applications, their usage, charges and month to date")
register("applications.create", roles=DEVELOPERS, scope="applications:write",
         description="create an application")
register("applications.purchase", roles=OWNER, scope="billing:write",
         description="buying (edition changes, add-ons and resource packs, or cancelling them)")
register("usage.report", roles=DEVELOPERS, scope="usage:write", service_key=True,
         description="report usage events")
register("entitlements.read", roles=ALL_ROLES, scope="applications:read", service_key=True,
         description="read what an application may use")
register("invoices.read", roles=MONEY_READERS, scope="billing:read",
         description="see invoices, credit notes, payments and balances")
register("account.read", roles=MONEY_READERS, scope="billing:read",
         description="see the account's balances and overdue state")
register("billing_profile.read", roles=MONEY_READERS, scope="billing:read",
         description="see the billing profile")
register("billing_profile.write", roles=BILLING_WRITERS, scope="billing:write",
         description="change the billing profile")
register("statements.read", roles=MONEY_READERS, scope="billing:read",
         description="see and download statements")
register("alerts.read", roles=BILLING_WRITERS, scope="billing:read",
         description="see spending alerts and webhooks")
register("alerts.manage", roles=BILLING_WRITERS, scope="billing:write",
         description="create, change and delete spending alerts and webhooks")
# Webhook endpoints: service keys manage the platform's (application.entitlements_changed).
register("webhooks.read", roles=BILLING_WRITERS, scope="billing:read", service_key=True,
         description="see webhook endpoints and their deliveries")
register("webhooks.manage", roles=BILLING_WRITERS, scope="billing:write", service_key=True,
         description="create, test and delete webhook endpoints")
register("api_keys.read", roles=DEVELOPERS, scope=None,
         description="see the account's API keys")
register("api_keys.create", roles=DEVELOPERS, scope=None,
         description="create API keys")
register("api_keys.revoke", roles=DEVELOPERS, scope=None,
         description="revoke API keys")
register("members.read", roles=ALL_ROLES, scope=None, keys=False,
         description="see the account's members")
register("members.manage", roles=OWNER, scope=None, keys=False,
         description="invite, remove and change the role of members; require two-factor sign-in")
register("audit.read", roles=OWNER, scope=None, keys=False,
         description="see the account's audit trail")
# fmt: on


def action_get(name: str) -> Action:
    try:
        return ACTIONS[name]
    except KeyError:
        raise LookupError(f"no action {name!r} in accounts/permissions.py") from None


# --------------------------------------------------------------------------------------------
# Roles (portal)
# --------------------------------------------------------------------------------------------


def _role_names(roles) -> str:
    order = [role for role in Role.values if role in roles]
    names = [Role(role).label.lower() for role in order]
    if len(names) == 1:
        return f"the {names[0]} role"
    return "the " + ", ".join(names[:-1]) + f" or {names[-1]} role"


def role_allows(role: str | None, action: str) -> bool:
    return role is not None and role in action_get(action).roles


def role_refusal(action: str, role: str | None) -> str:
    rule = action_get(action)
    what = rule.description[0].upper() + rule.description[1:]
    held = f"you are {Role(role).label.lower()}" if role else "you are not a member"
    return f"{what} needs {_role_names(rule.roles)} on this account ({held})."


def membership_role(*, user, account_id: int) -> str | None:
    """The user's role on the account, or None."""
    if not getattr(user, "is_authenticated", False):
        return None
    return (
        Membership.objects.filter(user=user, account_id=account_id)
        .values_list("role", flat=True)
        .first()
    )


def role_check(*, user, account_id: int, action: str, role: str | None = None) -> str:
    """The user's role, or PermissionDenied naming the role needed. Pass ``role`` when the
    caller already has it (no query)."""
    role = role if role is not None else membership_role(user=user, account_id=account_id)
    if not role_allows(role, action):
        raise PermissionDenied(role_refusal(action, role))
    return role


def accounts_allowing(*, user, action: str) -> list[int]:
    """Ids of the user's accounts on which their role allows the action."""
    return list(
        Membership.objects.filter(user=user, role__in=action_get(action).roles).values_list(
            "account_id", flat=True
        )
    )


def roles_by_account(*, user) -> dict[int, str]:
    return dict(Membership.objects.filter(user=user).values_list("account_id", "role"))


# --------------------------------------------------------------------------------------------
# Keys (API)
# --------------------------------------------------------------------------------------------


def key_allows(key: ApiKey, action: str) -> bool:
    rule = action_get(action)
    if key.is_service:
        return rule.service_key
    if not rule.keys:
        return False
    if key.has_full_rights:
        return True
    return rule.scope is not None and rule.scope in key.scopes


def key_refusal(key: ApiKey, action: str) -> str:
    rule = action_get(action)
    what = rule.description[0].upper() + rule.description[1:]
    if key.is_service:
        return f"{what} is not for service keys: they may only report usage."
    if not rule.keys:
        return f"{what} is done in the portal, not with an API key."
    held = ", ".join(key.scopes)
    if rule.scope is None:
        return (
            f"{what} needs a key with the account's full rights (created without scopes); "
            f"this key has the scopes {held}."
        )
    return f"{what} needs the scope {rule.scope}; this key has the scopes {held}."


def key_check(key: ApiKey, action: str) -> None:
    if not key_allows(key, action):
        raise PermissionDenied(key_refusal(key, action))


def scopes_clean(scopes) -> list[str]:
    """Scopes as given (a list, or a comma-separated string): known, unique, in SCOPES order.
    ValueError naming the unknown ones."""
    if isinstance(scopes, str):
        scopes = [part.strip() for part in scopes.split(",") if part.strip()]
    if not isinstance(scopes, list | tuple | set | frozenset) or not all(
        isinstance(scope, str) for scope in scopes
    ):
        raise ValueError("scopes must be a list of scope names.")
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scope {', '.join(unknown)}: choose from {', '.join(SCOPES)}.")
    return [scope for scope in SCOPES if scope in set(scopes)]


def scopes_allowed_for_role(role: str | None) -> frozenset[str]:
    return ROLE_KEY_SCOPES.get(role, frozenset())


def key_creation_refusal(*, role: str | None, scopes: list[str]) -> str | None:
    """Why a member of this role may not create a key with these scopes, or None."""
    if not role_allows(role, "api_keys.create"):
        return role_refusal("api_keys.create", role)
    allowed = scopes_allowed_for_role(role)
    if not scopes and role != Role.OWNER:
        return (
            "A key with the account's full rights (no scopes) needs the owner role; "
            f"choose scopes from {', '.join(s for s in SCOPES if s in allowed)}."
        )
    beyond = [scope for scope in scopes if scope not in allowed]
    if beyond:
        may = ", ".join(s for s in SCOPES if s in allowed)
        return (
            f"The scope {', '.join(beyond)} needs the owner role; as "
            f"{Role(role).label.lower()} you may give {may}."
        )
    return None

"""A user sees only the accounts they belong to: every portal URL that names an object of
another account answers 404, to every method, and changes nothing (issue 5, item 6).

The URL patterns come from the resolver, so a new portal URL without an expectation below
makes ``test_every_portal_url_has_an_expectation`` fail."""

import pytest
from django.urls import URLResolver, get_resolver, reverse

from accounts import permissions
from accounts.models import ApiKey, Invitation, Membership
from accounts.services import api_key_create, invitation_create, user_get_or_create
from billing.models import AddOnSubscription, Application, EditionPeriod

pytestmark = pytest.mark.django_db

# Patterns served elsewhere with their own tests: the staff admin and the REST API (issue 6).
OTHER_SURFACES = ("admin/", "api/")

PUBLIC = "public"  # no account data: log-in, password reset
OWN = "own"  # the user's own data only: lists, forms, their password


def _notifications_of(tenant):
    """A webhook endpoint of the tenant with one delivery, and an alert (made once)."""
    if not hasattr(tenant, "endpoint"):
        from notifications.alerts import alert_create
        from notifications.models import Event, WebhookDelivery
        from notifications.webhooks import endpoint_create

        tenant.endpoint = endpoint_create(
            account_id=tenant.account.pk,
            url="https://93.184.215.14/hook",
            event_types=["invoice.paid"],
        )
        tenant.delivery = WebhookDelivery.objects.create(
            event=Event.objects.filter(account=tenant.account).first(), endpoint=tenant.endpoint
        )
        tenant.alert = alert_create(
            account_id=tenant.account.pk, kind="spend", currency="CNY", amount="10"
        )
    return tenant


# Patterns naming objects: kwarg -> which object of a tenant fills it.
OBJECT_KWARGS = {
    "endpoint_id": lambda t: _notifications_of(t).endpoint.pk,
    "delivery_id": lambda t: _notifications_of(t).delivery.pk,
    "alert_id": lambda t: _notifications_of(t).alert.pk,
    "action": lambda t: "test",
    "sdkappid": lambda t: t.app.sdkappid,
    "subscription_id": lambda t: t.subscription.pk,
    "invoice_id": lambda t: t.invoice.pk,
    "key_id": lambda t: t.key.pk,
    "invitation_id": lambda t: _invitation(t).pk,
    "membership_id": lambda t: t.account.memberships.get(user=t.user).pk,
    "account_id": lambda t: t.account.pk,
}
EXPECTATIONS = {
    "login": PUBLIC,
    "logout": PUBLIC,
    "password_reset": PUBLIC,
    "password_reset_done": PUBLIC,
    "password_reset_confirm": PUBLIC,
    "password_reset_complete": PUBLIC,
    "password_change": OWN,
    "password_change_done": OWN,
    "dashboard": OWN,
    "application_create": OWN,
    "invoices": OWN,
    "statement": OWN,
    "api_keys": OWN,
    "application": {"sdkappid"},
    "application_charges": {"sdkappid"},
    "edition_change": {"sdkappid"},
    "addon_buy": {"sdkappid"},
    "pack_buy": {"sdkappid"},
    "addon_cancel": {"sdkappid", "subscription_id"},
    "invoice": {"invoice_id"},
    "invoice_pdf": {"invoice_id"},
    "api_key_revoke": {"key_id"},
    # Teams and access (issue 19)
    "team": OWN,
    "audit_trail": OWN,
    "two_factor": OWN,
    "two_factor_verify": OWN,
    "invitation_accept": PUBLIC,  # the signed link is the credential
    "invitation_revoke": {"invitation_id"},
    "member_role": {"membership_id"},
    "member_remove": {"membership_id"},
    "account_two_factor": {"account_id"},
    "billing_profile": {"account_id"},
    "webhooks": OWN,
    "alerts": OWN,
    "webhook": {"endpoint_id"},
    "webhook_action": {"endpoint_id", "action"},
    "webhook_replay": {"endpoint_id", "delivery_id"},
    "alert_delete": {"alert_id"},
}
# Issue 19: what each portal URL asks of the member's role, per method (accounts/permissions.py
# actions; None: every member). test_every_portal_url_has_a_role_rule keeps it complete.
ROLE_RULES = {
    "dashboard": {"GET": None},
    "application_create": {"GET": "applications.create", "POST": "applications.create"},
    "application": {"GET": "applications.read"},
    "application_charges": {"GET": "applications.read"},
    "edition_change": {"GET": "applications.read", "POST": "applications.purchase"},
    "addon_buy": {"POST": "applications.purchase"},
    "pack_buy": {"POST": "applications.purchase"},
    "addon_cancel": {"POST": "applications.purchase"},
    "invoices": {"GET": "invoices.read"},
    "invoice": {"GET": "invoices.read"},
    "invoice_pdf": {"GET": "invoices.read"},
    "api_keys": {"GET": "api_keys.read", "POST": "api_keys.create"},
    "api_key_revoke": {"POST": "api_keys.revoke"},
    "team": {"GET": "members.read", "POST": "members.manage"},
    "audit_trail": {"GET": "audit.read"},
    "invitation_revoke": {"POST": "members.manage"},
    "member_role": {"POST": "members.manage"},
    "member_remove": {"POST": "members.manage"},
    "account_two_factor": {"POST": "members.manage"},
    "billing_profile": {"GET": "billing_profile.write", "POST": "billing_profile.write"},
    "statement": {"GET": "statements.read"},
    # Issue 16: webhooks and alerts are managed by the owner and billing roles.
    "webhooks": {"GET": "alerts.manage", "POST": "alerts.manage"},
    "alerts": {"GET": "alerts.manage", "POST": "alerts.manage"},
    "webhook": {"GET": "alerts.manage"},
    "webhook_action": {"POST": "alerts.manage"},
    "webhook_replay": {"POST": "alerts.manage"},
    "alert_delete": {"POST": "alerts.manage"},
}
# No role asked: public pages and the user's own login.
NO_ROLE = {
    "login",
    "logout",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
    "password_change",
    "password_change_done",
    "invitation_accept",
    "two_factor",
    "two_factor_verify",
}
# What a POST to any of them carries, so that only the object lookup can refuse it.
POST_DATA = {"edition": "ultimate", "item": "im.addon.group_members.pro", "name": "x"}


def _invitation(tenant) -> Invitation:
    found = Invitation.objects.filter(account=tenant.account).first()
    if found is None:
        found, _ = invitation_create(
            account=tenant.account,
            email=f"invited-{tenant.account.pk}@example.com",
            role="viewer",
            actor=tenant.user,
            site_url="http://testserver/",
        )
    return found


def portal_patterns() -> dict:
    """Every named URL pattern of the site outside the admin and the API, by name."""
    found = {}

    def walk(patterns, prefix):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                if not route.startswith(OTHER_SURFACES):
                    walk(pattern.url_patterns, route)
            elif not route.startswith(OTHER_SURFACES):
                assert pattern.name, f"portal URL {route!r} has no name"
                found[pattern.name] = pattern

    walk(get_resolver().url_patterns, "")
    return found


def object_patterns():
    return [name for name, kind in EXPECTATIONS.items() if isinstance(kind, set)]


def test_every_portal_url_has_an_expectation():
    patterns = portal_patterns()
    assert set(patterns) == set(EXPECTATIONS), (
        "a portal URL was added or removed: give it an expectation in EXPECTATIONS"
    )
    for name, kind in EXPECTATIONS.items():
        kwargs = set(patterns[name].pattern.converters)
        if isinstance(kind, set):
            assert kwargs == kind, f"{name} names {kwargs}, expected {kind}"
            assert kwargs <= set(OBJECT_KWARGS)
        elif kind == OWN:
            assert not kwargs, f"{name} names objects: list them as a set of kwargs"


def _url(name, tenant):
    kind = EXPECTATIONS[name]
    kwargs = (
        {kwarg: OBJECT_KWARGS[kwarg](tenant) for kwarg in kind} if isinstance(kind, set) else {}
    )
    return reverse(name, kwargs=kwargs)


def _state(tenant):
    """What any of the POSTs could change for a tenant."""
    _invitation(tenant)
    return (
        list(EditionPeriod.objects.filter(application=tenant.app).values_list("edition__code")),
        list(
            AddOnSubscription.objects.filter(application=tenant.app).values_list(
                "item__code", "ends_on"
            )
        ),
        tenant.app.resource_packs.count(),
        ApiKey.objects.get(pk=tenant.key.pk).revoked_at,
        Application.objects.filter(account=tenant.account).count(),
        list(Membership.objects.filter(account=tenant.account).values_list("user", "role")),
        list(Invitation.objects.filter(account=tenant.account).values_list("pk", "revoked_at")),
        type(tenant.account).objects.get(pk=tenant.account.pk).require_two_factor,
        _notification_state(tenant),
    )


def _notification_state(tenant):
    from notifications.models import Alert, DeliveryAttempt, WebhookEndpoint

    _notifications_of(tenant)  # made before the "before" snapshot, never by the requests

    return (
        list(
            WebhookEndpoint.objects.filter(account=tenant.account).values_list(
                "pk", "disabled_at", "deleted_at"
            )
        ),
        Alert.objects.filter(account=tenant.account).count(),
        DeliveryAttempt.objects.filter(delivery__endpoint__account=tenant.account).count(),
    )


@pytest.mark.parametrize("name", object_patterns())
def test_another_accounts_object_answers_404_to_every_method(client, owner, stranger, name):
    client.force_login(owner.user)
    before = _state(stranger)
    url = _url(name, stranger)

    assert client.get(url).status_code == 404
    assert client.post(url, POST_DATA).status_code == 404
    assert client.head(url).status_code == 404
    assert client.delete(url).status_code == 404

    assert _state(stranger) == before
    # Control: the owner's own object is found (200; 400 for the edition page without an
    # edition; 405 for POST-only URLs).
    assert client.get(_url(name, owner)).status_code in (200, 400, 405)


def test_a_subscription_of_another_account_under_ones_own_application_is_404(
    client, owner, stranger
):
    client.force_login(owner.user)
    mixed = [
        (owner.app.sdkappid, stranger.subscription.pk),
        (stranger.app.sdkappid, owner.subscription.pk),
    ]
    for sdkappid, subscription_id in mixed:
        url = reverse("addon_cancel", args=[sdkappid, subscription_id])
        assert client.post(url).status_code == 404
    assert AddOnSubscription.objects.filter(ends_on__isnull=False).count() == 0


@pytest.mark.parametrize("name", [n for n, kind in EXPECTATIONS.items() if kind == OWN])
def test_own_pages_show_nothing_of_another_account(client, owner, stranger, name):
    client.force_login(owner.user)
    page = client.get(reverse(name)).content.decode()
    for secret in (
        stranger.account.name,
        str(stranger.app.sdkappid),
        stranger.invoice.number,
        stranger.key.prefix,
        stranger.user.email,
    ):
        assert secret not in page, f"{name} shows {secret!r} of another account"


def test_forms_refuse_another_accounts_id(client, owner, stranger):
    client.force_login(owner.user)
    response = client.post(
        reverse("application_create"),
        {"account": stranger.account.pk, "name": "sneaky", "region": "cn"},
    )
    assert response.status_code == 400
    assert not Application.objects.filter(name="sneaky").exists()
    response = client.post(reverse("api_keys"), {"account": stranger.account.pk, "name": "s"})
    assert response.status_code == 400
    assert stranger.account.api_keys.count() == 1


# --------------------------------------------------------------------------------------------
# Roles (issue 19): every portal URL, each member role of the account, every method it has
# --------------------------------------------------------------------------------------------

MEMBER_ROLES = ("owner", "billing", "developer", "viewer")


def test_every_portal_url_has_a_role_rule():
    names = set(portal_patterns())
    assert names == set(ROLE_RULES) | NO_ROLE, (
        "a portal URL was added: say which policy action it needs in ROLE_RULES (or NO_ROLE)"
    )
    for rules in ROLE_RULES.values():
        for action in rules.values():
            assert action is None or action in permissions.ACTIONS, action


def _member(owner, role):
    if role == "owner":
        return owner.user
    user, _ = user_get_or_create(email=f"{role}@example.com", password="member-pw-1234")
    Membership.objects.create(user=user, account=owner.account, role=role)
    return user


@pytest.mark.parametrize("role", MEMBER_ROLES)
def test_each_role_gets_what_the_policy_gives_it_on_every_portal_url(client, owner, role):
    """A refused role gets 403 with the role needed in the message, and nothing is written;
    an allowed one never gets 403. Writes come last, the owner's after the others'."""
    from billing.models import AuditRecord

    user = _member(owner, role)
    client.force_login(user)
    _state(owner)
    # A developer creates and revokes keys of the developer scopes only.
    scoped_key, _ = api_key_create(account=owner.account, scopes=["usage:write"], name="dev")
    failures = []
    for method in ("GET", "POST"):
        for name, rules in sorted(ROLE_RULES.items()):
            if method not in rules:
                continue
            action = rules[method]
            allowed = action is None or permissions.role_allows(role, action)
            url = _url(name, owner)
            if name in ("member_role", "member_remove"):
                url = reverse(name, args=[_spare(owner).pk])
            if name == "api_key_revoke":
                url = reverse(name, args=[scoped_key.pk])
            before = AuditRecord.objects.count(), _state(owner)
            if method == "GET":
                response = client.get(url)
            else:
                data = POST_DATA | {"role": "viewer", "required": "0", "scopes": "usage:write"}
                response = client.post(url, data)
            body = response.content.decode(errors="replace")
            if allowed and response.status_code == 403:
                failures.append(f"{role} {method} {name}: 403 but {action} allows it")
            if not allowed:
                rule = permissions.ACTIONS[action]
                needed = [r for r in rule.roles]
                if response.status_code != 403:
                    failures.append(f"{role} {method} {name}: {response.status_code}, not 403")
                elif not all(r in body for r in needed) or "role" not in body:
                    failures.append(f"{role} {method} {name}: 403 without the role {needed}")
                elif (AuditRecord.objects.count(), _state(owner)) != before:
                    failures.append(f"{role} {method} {name}: refused but something changed")
    assert not failures, "\n".join(failures)


def _spare(owner):
    spare, _ = user_get_or_create(email="spare@example.com", password="member-pw-1234")
    membership, _ = Membership.objects.get_or_create(
        user=spare, account=owner.account, defaults={"role": "viewer"}
    )
    return membership

"""The isolation matrix (issue 8, item 6): every URL pattern of the site, portal, API and
admin, read from the URL configuration, requested by each role for objects of account A:

    owner     A's owner: portal session, A's account key for the API (full rights)
    billing   A's member with the billing role; for the API a key of A with billing:read and
              billing:write
    developer A's member with the developer role; for the API a key of A with the developer
              scopes (usage:write, applications:read, applications:write)
    viewer    A's member with the viewer role; for the API a key of A with applications:read
              and billing:read
    other     a member of account B: portal session, B's account key
    service   a service key (usage reporting only), no session
    finance   finance staff (admin / API session)
    support   support staff (view only)
    anonymous nobody

Each pattern belongs to exactly one family below, and each family says what every role
gets. A new URL pattern that no family names makes ``test_every_url_has_an_expectation``
fail, so no page or endpoint ships without its row in this matrix.

The roles of issue 19 (billing, developer, viewer) are written out by hand for each family:
the policy (accounts/permissions.py) is what is tested, not what the test reads.
``test_writes_per_role`` does the same for every write (POST, DELETE) of the portal and the
API: refused roles get 403 with a message naming the role or scope needed, and nothing is
written."""

import datetime as dt
import re

import pytest
from django.apps import apps
from django.urls import URLResolver, get_resolver
from django.utils import timezone
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    SolarSchedule,
)
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from accounts.models import Membership
from accounts.services import (
    account_create,
    api_key_create,
    invitation_create,
    invitation_token,
    staff_create,
    user_get_or_create,
)
from billing.models import Invoice, Restatement
from billing.services.applications import addon_subscribe, application_create, edition_change
from billing.services.closing import invoice_finalize
from billing.services.finance import adjustment_add, credit_note_issue, payment_record
from billing.services.ingestion import SYSTEM, usage_events_ingest
from billing.services.jobs import bill_day
from tests.factories import InvoiceFactory, UserFactory

pytestmark = pytest.mark.django_db

ROLES = (
    "owner",
    "billing",
    "developer",
    "viewer",
    "other",
    "service",
    "finance",
    "support",
    "anonymous",
)
MEMBERS = ("billing", "developer", "viewer")  # A's members besides its owner
FORBIDDEN = {403}
# The API keys standing for A's member roles.
ROLE_KEY_SCOPES = {
    "billing": ["billing:read", "billing:write"],
    "developer": ["usage:write", "applications:read", "applications:write"],
    "viewer": ["applications:read", "billing:read"],
}


def members(expect, **overrides) -> dict:
    """The three member roles get ``expect`` unless overridden."""
    return dict.fromkeys(MEMBERS, expect) | overrides


OK = {200}
LOGIN = "login"  # redirected to the portal's log-in page
ADMIN_LOGIN = "admin-login"  # redirected to the admin's log-in page

# --------------------------------------------------------------------------------------------
# Families: which URL names, and what each role gets on GET
# --------------------------------------------------------------------------------------------

SIGNED_IN = ("owner", *MEMBERS, "other", "finance", "support")
PORTAL_LOGIN = {  # a signed-in user is sent on to the dashboard
    "names": {"login"},
    "expect": dict.fromkeys(ROLES, OK) | dict.fromkeys(SIGNED_IN, {302}),
}
PORTAL_PUBLIC = {
    "names": {
        "password_reset",
        "password_reset_done",
        "password_reset_confirm",
        "password_reset_complete",
    },
    "expect": dict.fromkeys(ROLES, OK),
}
PORTAL_LOGOUT = {"names": {"logout"}, "expect": dict.fromkeys(ROLES, {405})}  # POST only
PORTAL_OWN = {  # the signed-in user's own data: nothing of account A reaches another user
    "names": {
        "dashboard",
        "password_change",
        "password_change_done",
        "team",
        "two_factor",
    },
    "expect": {
        "owner": OK,
        **members(OK),
        "other": OK,
        "finance": OK,
        "support": OK,
        "service": LOGIN,
        "anonymous": LOGIN,
    },
    "hidden_from_others": True,
}
PORTAL_OWN_INVOICES = {  # invoices.read: owner, billing, viewer
    "names": {"invoices", "statement"},  # statements.read: the same roles
    "expect": PORTAL_OWN["expect"] | {"developer": FORBIDDEN},
}
PORTAL_OWN_NOTIFY = {  # issue 16, alerts.manage: owner, billing
    "names": {"webhooks", "alerts"},
    "expect": PORTAL_OWN["expect"] | {"developer": FORBIDDEN, "viewer": FORBIDDEN},
}
PORTAL_OWN_KEYS = {  # api_keys.read: owner, developer
    "names": {"api_keys"},
    "expect": PORTAL_OWN["expect"] | {"billing": FORBIDDEN, "viewer": FORBIDDEN},
}
PORTAL_AUDIT = {  # audit.read: owners only; staff belong to no account (an empty page)
    "names": {"audit_trail"},
    "expect": PORTAL_OWN["expect"] | members(FORBIDDEN),
}
PORTAL_VERIFY = {  # no second factor set up: nothing to verify, on to the next page
    "names": {"two_factor_verify"},
    "expect": PORTAL_OWN["expect"] | dict.fromkeys(SIGNED_IN, {302}),
}
PORTAL_INVITATION = {  # the signed link is the credential (an invitation to account B)
    "names": {"invitation_accept"},
    "expect": dict.fromkeys(ROLES, OK),
}
PORTAL_NEW_APPLICATION = {  # staff belong to no account: nothing to create it in
    "names": {"application_create"},
    "expect": PORTAL_OWN["expect"]
    | {"finance": {302}, "support": {302}, "billing": FORBIDDEN, "viewer": FORBIDDEN},
}
PORTAL_OBJECT = {  # names an object of account A
    "names": {
        "application",
        "application_charges",
        "edition_change",
        "addon_buy",
        "pack_buy",
        "addon_cancel",
        "api_key_revoke",
        "invitation_revoke",
        "member_role",
        "member_remove",
        "account_two_factor",
        "billing_profile",
        "webhook",
        "webhook_action",
        "webhook_replay",
        "alert_delete",
    },
    "expect": {
        "owner": {200, 302, 400, 405},
        # reads are every member's; the writes are POST only (405 before the role is asked);
        # a purchase's or profile's confirmation page refuses a role that may not act (403)
        **members({200, 403, 405}),
        "other": {404},
        "finance": {404},  # staff are not members of the account
        "support": {404},
        "service": LOGIN,
        "anonymous": LOGIN,
    },
}
PORTAL_INVOICE_OBJECT = {
    "names": {"invoice", "invoice_pdf"},
    "expect": PORTAL_OBJECT["expect"] | {"billing": OK, "viewer": OK, "developer": FORBIDDEN},
}
API_DOCS = {
    "names": {"api-schema", "api-docs", "api-redoc"},
    "expect": dict.fromkeys(ROLES, OK),
}
API_UNKNOWN = {"names": {"api-unknown"}, "expect": dict.fromkeys(ROLES, {404})}
API_USAGE = {  # POST only; any key may report usage
    "names": {"api-usage-events"},
    "expect": {
        "owner": {405},
        **members({405}),
        "other": {405},
        "service": {405},
        "finance": {403},
        "support": {403},
        "anonymous": {401},
    },
}
API_ACCOUNT_OBJECT = {  # an application of A, for A's account key only
    "names": {
        "api-app",
        "api-addons",
        "api-usage",
        "api-charges",
        "api-month-to-date",
        "api-resource-packs",
    },
    "expect": {
        "owner": {200, 405},
        # applications:read: the developer's and the viewer's keys; not the billing key's
        **members(OK, billing=FORBIDDEN),
        "other": {404},
        "service": {403},
        "finance": {403},
        "support": {403},
        "anonymous": {401},
    },
}
API_ACCOUNT_POST_ONLY = {  # GET is refused before any lookup: 405 whoever's the object
    "names": {"api-edition"},
    "expect": API_ACCOUNT_OBJECT["expect"] | {"owner": {405}, "other": {405}} | members({405}),
}
API_ALERT_POST_ONLY = {  # issue 16: GET is not an alert operation (405) once the key's scope
    # allows reading alerts (billing:read: the billing and viewer keys; not the developer's)
    "names": {"api-alert"},
    "expect": API_ACCOUNT_OBJECT["expect"]
    | {"owner": {405}, "other": {405}}
    | members({405}, developer={403}),
}
API_ACCOUNT_LIST = {
    "names": {"api-applications"},
    "expect": {
        "owner": OK,
        **members(OK, billing=FORBIDDEN),  # applications:read
        "other": OK,
        "service": {403},
        "finance": {403},
        "support": {403},
        "anonymous": {401},
    },
    "hidden_from_others": True,
}
API_ALERT_LIST = {  # issue 16: alerts.read needs billing:read (not the developer's key)
    "names": {"api-alerts"},
    "expect": API_ACCOUNT_LIST["expect"] | members(OK, developer=FORBIDDEN),
    "hidden_from_others": True,
}
API_ACCOUNT = {
    "names": {"api-account"},
    "expect": API_ACCOUNT_LIST["expect"] | members(OK, developer=FORBIDDEN),  # billing:read
    "hidden_from_others": True,
}
API_KEYS = {  # keys with the account's full rights only
    "names": {"api-api-keys"},
    "expect": API_ACCOUNT_LIST["expect"] | members(FORBIDDEN),
    "hidden_from_others": True,
}
API_KEY_OBJECT = {
    "names": {"api-api-key"},
    "expect": API_ACCOUNT_OBJECT["expect"] | {"owner": OK} | members(FORBIDDEN),
}
API_INVOICES = {
    "names": {"api-invoices"},
    "expect": {
        "owner": OK,
        **members(OK, developer=FORBIDDEN),  # billing:read
        "other": OK,
        "service": {403},
        "finance": OK,
        "support": OK,
        "anonymous": {401},
    },
    "hidden_from_others": True,
}
API_INVOICE_OBJECT = {
    "names": {"api-invoice", "api-pdf"},
    "expect": {
        "owner": OK,
        **members(OK, developer=FORBIDDEN),
        "other": {404},
        "service": {403},
        "finance": OK,
        "support": OK,
        "anonymous": {401},
    },
}
API_FINANCE = {  # POST only, finance staff
    "names": {"api-adjustments", "api-credit-notes", "api-payments"},
    "expect": {
        "owner": {405},
        **members({405}),
        "other": {405},
        "service": {403},
        "finance": {405},
        "support": {405},
        "anonymous": {401},
    },
}
API_WEBHOOK_LIST = {  # account keys: their endpoints; service keys: the platform's
    "names": {"api-webhook-endpoints"},
    "expect": API_ACCOUNT_LIST["expect"] | {"service": OK} | members(OK, developer=FORBIDDEN),
    "hidden_from_others": True,
}
API_WEBHOOK_NOT_GET = {  # DELETE / POST only: GET is refused before any lookup
    "names": {"api-webhook-endpoint", "api-webhook-test"},
    "expect": API_ACCOUNT_LIST["expect"]
    | {"owner": {405}, "other": {405}, "service": {405}}
    | members({405}, developer=FORBIDDEN),  # webhooks.read: billing:read
}
API_WEBHOOK_OBJECT = {  # an endpoint of A: the platform's keys do not see it either
    "names": {"api-webhook-deliveries"},
    "expect": API_ACCOUNT_OBJECT["expect"]
    | {"owner": OK, "service": {404}}
    | members(OK, developer=FORBIDDEN),
}
API_ENTITLEMENTS = {  # the owner's keys and service keys
    "names": {"api-entitlements"},
    "expect": API_ACCOUNT_OBJECT["expect"]
    | {"owner": OK, "service": OK}
    | members(OK, billing=FORBIDDEN),  # entitlements.read: applications:read
}
API_RESTATEMENTS = {  # finance staff review late usage; support may read
    "names": {"api-restatements", "api-restatement"},
    "expect": {
        "owner": {403},
        **members(FORBIDDEN),
        "other": {403},
        "service": {403},
        "finance": OK,
        "support": OK,
        "anonymous": {401},
    },
}
API_RESTATEMENT_DECISIONS = {  # POST only; GET passes the read permission, then 405
    "names": {"api-restatement-approve", "api-restatement-reject"},
    "expect": API_RESTATEMENTS["expect"] | {"finance": {405}, "support": {405}},
}
ADMIN_NOT_STAFF = dict.fromkeys(("owner", *MEMBERS, "other", "service"), ADMIN_LOGIN)
ADMIN_PUBLIC = {
    "names": {"admin:login", "admin:password_reset"},
    "expect": dict.fromkeys(ROLES, OK) | {"finance": {302}, "support": {302}},
}
ADMIN_LOGOUT = {  # POST only, for staff; anyone else is sent to the admin index (then login)
    "names": {"admin:logout"},
    "expect": dict.fromkeys(ROLES, {302}) | {"finance": {405}, "support": {405}},
}
ADMIN_STAFF_PAGES = {  # the index, app lists, password change: any staff member
    "names": {
        "admin:index",
        "admin:app_list",
        "admin:password_change",
        "admin:password_change_done",
        "admin:jsi18n",
    },
    "expect": ADMIN_NOT_STAFF | {"finance": OK, "support": OK, "anonymous": ADMIN_LOGIN},
}
ADMIN_FINANCE_REPORTS = {  # the finance home's search, statements and journal: any staff
    "names": {"admin:finance_search", "admin:finance_statement", "admin:finance_journal"},
    "expect": ADMIN_NOT_STAFF | {"finance": OK, "support": OK, "anonymous": ADMIN_LOGIN},
}
ADMIN_AUTOCOMPLETE = {  # without its query parameters: refused to staff too
    "names": {"admin:autocomplete"},
    "expect": ADMIN_NOT_STAFF | {"finance": {403}, "support": {403}, "anonymous": ADMIN_LOGIN},
}
ADMIN_VIEW_ON_SITE = {
    "names": {"admin:view_on_site"},
    "expect": ADMIN_NOT_STAFF | {"finance": {404}, "support": {404}, "anonymous": ADMIN_LOGIN},
}
# Model pages, by the last part of their name. View: every staff member. Change, add and
# delete of money: nobody. Finance actions: finance only.
MODELS = r"^admin:(accounts|auth|billing|django_celery_beat|notifications)_\w+_"
ADMIN_MODEL_VIEW = re.compile(MODELS + r"(changelist|change|history)$")
ADMIN_MODEL_WRITE = re.compile(MODELS + r"(add|delete)$")
ADMIN_FINANCE_ACTION = re.compile(
    r"^admin:billing_(invoice_(adjust|credit_note|payment|finalize|void|rerate)"
    r"|priceentry_revise|restatement_(approve|reject))$"
)
# Users, groups, the beat schedule and the two-factor devices (django-otp: a superuser resets
# a lost one): superusers only; staff groups hold no permission.
ADMIN_SUPERUSER_ONLY = re.compile(r"^admin:(auth|django_celery_beat|otp_totp|otp_static)_\w+$")
# What finance staff may add through the admin: an account (its billing details).
ADMIN_FINANCE_MAY_ADD = {"admin:accounts_account_add"}

FAMILIES = [
    PORTAL_LOGIN,
    PORTAL_PUBLIC,
    PORTAL_NEW_APPLICATION,
    PORTAL_LOGOUT,
    PORTAL_OWN,
    PORTAL_OWN_INVOICES,
    PORTAL_OWN_NOTIFY,
    PORTAL_OWN_KEYS,
    PORTAL_AUDIT,
    PORTAL_VERIFY,
    PORTAL_INVITATION,
    PORTAL_OBJECT,
    PORTAL_INVOICE_OBJECT,
    API_DOCS,
    API_UNKNOWN,
    API_USAGE,
    API_ACCOUNT_OBJECT,
    API_ACCOUNT_POST_ONLY,
    API_ALERT_POST_ONLY,
    API_ALERT_LIST,
    API_ACCOUNT_LIST,
    API_ACCOUNT,
    API_KEYS,
    API_KEY_OBJECT,
    API_INVOICES,
    API_INVOICE_OBJECT,
    API_FINANCE,
    API_WEBHOOK_LIST,
    API_WEBHOOK_NOT_GET,
    API_WEBHOOK_OBJECT,
    API_ENTITLEMENTS,
    API_RESTATEMENTS,
    API_RESTATEMENT_DECISIONS,
    ADMIN_PUBLIC,
    ADMIN_LOGOUT,
    ADMIN_STAFF_PAGES,
    ADMIN_FINANCE_REPORTS,
    ADMIN_AUTOCOMPLETE,
    ADMIN_VIEW_ON_SITE,
]


def expectation(name: str) -> dict:
    """What each role gets on GET of the pattern ``name``; KeyError if no family has it."""
    matches = [family["expect"] for family in FAMILIES if name in family["names"]]
    staff_refused = ADMIN_NOT_STAFF | {"finance": {403}, "support": {403}, "anonymous": ADMIN_LOGIN}
    if ADMIN_SUPERUSER_ONLY.match(name):
        matches.append(staff_refused)
    elif name == "admin:billing_invoice_rerate":
        # On an issued invoice the re-rate is refused: back to the invoice with the reason.
        matches.append(staff_refused | {"finance": {302}})
    elif ADMIN_FINANCE_ACTION.match(name):
        matches.append(staff_refused | {"finance": OK})
    elif ADMIN_MODEL_VIEW.match(name):
        matches.append(staff_refused | {"finance": OK, "support": OK})
    elif ADMIN_MODEL_WRITE.match(name):
        matches.append(staff_refused | {"finance": OK if name in ADMIN_FINANCE_MAY_ADD else {403}})
    if len(matches) != 1:
        raise KeyError(name)
    return matches[0]


# --------------------------------------------------------------------------------------------
# The URL configuration
# --------------------------------------------------------------------------------------------


def url_patterns() -> dict[str, str]:
    """Every named pattern of the site: full name -> route with <converters>."""
    found: dict[str, str] = {}

    def walk(patterns, prefix, namespace):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                ns = pattern.namespace or namespace
                walk(pattern.url_patterns, route, ns)
            elif pattern.name is None and route.startswith("/admin/"):
                continue  # Django's own redirects to the named admin pages
            else:
                assert pattern.name, f"URL {route!r} has no name"
                name = f"{namespace}:{pattern.name}" if namespace else pattern.name
                found.setdefault(name, route)

    walk(get_resolver().url_patterns, "/", None)
    return found


def test_every_url_has_an_expectation():
    missing = []
    for name in url_patterns():
        try:
            expectation(name)
        except KeyError:
            missing.append(name)
    assert not missing, f"URL patterns without a row in the isolation matrix: {missing}"


# --------------------------------------------------------------------------------------------
# The world: account A with everything, account B, a service key, staff
# --------------------------------------------------------------------------------------------


class World:
    pass


@pytest.fixture
def world():
    w = World()
    w.finance, _ = staff_create(email="fin@example.com", password="pw-f-123456", finance=True)
    w.support, _ = staff_create(email="sup@example.com", password="pw-s-123456", support=True)
    w.account = account_create(name="Tenant A", email="owner-a@example.com", password="pw-a-123456")
    w.app = application_create(
        account=w.account, name="a-app", region="cn", created_on=dt.date(2026, 10, 1)
    )
    edition_change(application=w.app, edition_code="pro", effective=dt.date(2026, 10, 5))
    w.subscription = addon_subscribe(
        application=w.app, item_code="im.addon.group_members.pro", day=dt.date(2026, 10, 6)
    )
    w.key, w.raw_key = api_key_create(account=w.account)
    w.other = account_create(name="Tenant B", email="member-b@example.com", password="pw-b-123456")
    _, w.raw_other_key = api_key_create(account=w.other)
    _, w.raw_service_key = api_key_create(account=None, is_service=True)
    # One row of every model the admin shows, so that each of its object pages is reached.
    usage_events_ingest(
        events=[
            {
                "id": "matrix-1",
                "application": w.app.sdkappid,
                "metric": "trtc.audio_seconds",
                "timestamp": "2026-10-10T10:00:00+08:00",
                "value": 600,
            }
        ],
        caller=SYSTEM,
    )
    bill_day(day=dt.date(2026, 10, 10))
    w.invoice = invoice_finalize(invoice=Invoice.objects.get(account=w.account))
    credit_note_issue(invoice=w.invoice, amount="1.00", reason="matrix", actor=w.finance)
    payment_record(
        account=w.account, currency="CNY", amount="1.00", actor=w.finance, invoice=w.invoice
    )
    september = InvoiceFactory(account=w.account, month=dt.date(2026, 9, 1))
    adjustment_add(invoice=september, amount="1.00", reason="matrix", actor=w.finance)
    # A pending restatement of the closed month (late usage), for its review pages.
    w.restatement = Restatement.objects.create(
        account=w.account,
        currency="CNY",
        month=w.invoice.month,
        closed_invoice=w.invoice,
        digest="matrix",
        computed_at=timezone.now(),
    )
    interval = IntervalSchedule.objects.create(every=1, period="days")
    CrontabSchedule.objects.create()
    ClockedSchedule.objects.create(clocked_time=timezone.now())
    SolarSchedule.objects.create(event="sunrise", latitude=0, longitude=0)
    PeriodicTask.objects.create(name="matrix", task="billing.tasks.bill_day", interval=interval)
    # Notifications (issue 16): an endpoint of A with a delivery, an alert, an e-mail row.
    from notifications.alerts import alert_create
    from notifications.models import EmailNotice, Event, WebhookDelivery
    from notifications.webhooks import endpoint_create

    w.endpoint = endpoint_create(
        account_id=w.account.pk, url="https://93.184.215.14/hook", event_types=["invoice.paid"]
    )
    w.delivery = WebhookDelivery.objects.create(
        event=Event.objects.filter(account=w.account).first(), endpoint=w.endpoint
    )
    w.alert = alert_create(account_id=w.account.pk, kind="spend", currency="CNY", amount="10")
    EmailNotice.objects.create(key="matrix", kind="invoice_finalized", account=w.account)
    w.other_user = w.other.memberships.get().user
    w.owner_user = w.account.memberships.get().user
    # Issue 19: A's members of each role, and keys of A scoped like those roles.
    w.members = {}
    for role in MEMBERS:
        user, _ = user_get_or_create(email=f"{role}-a@example.com", password="pw-m-123456")
        w.members[role] = Membership.objects.create(user=user, account=w.account, role=role)
    w.role_keys = {
        role: api_key_create(account=w.account, scopes=scopes, name=role)[1]
        for role, scopes in ROLE_KEY_SCOPES.items()
    }
    # What the team URLs name: a spare member of each kind of change, a pending invitation,
    # a key within the developer scopes (so that developers may revoke it too).
    w.spare = {
        name: Membership.objects.create(
            user=user_get_or_create(email=f"{name}@example.com", password="pw-s-123456")[0],
            account=w.account,
            role="viewer",
        )
        for name in ("member_role", "member_remove")
    }
    w.spare_key, _ = api_key_create(account=w.account, scopes=["usage:write"], name="spare")
    w.invitation, _ = invitation_create(
        account=w.account,
        email="invited-a@example.com",
        role="viewer",
        actor=w.owner_user,
        site_url="http://testserver/",
    )
    invitation_b, _ = invitation_create(
        account=w.other,
        email="invited-b@example.com",
        role="viewer",
        actor=w.other_user,
        site_url="http://testserver/",
    )
    w.invitation_token = invitation_token(invitation_b)
    # django-otp's device pages in the admin need a device (of a user outside the matrix).
    device_user = UserFactory()
    TOTPDevice.objects.create(user=device_user, name="matrix", confirmed=False)
    StaticDevice.objects.create(user=device_user, name="matrix", confirmed=False)
    return w


def admin_object(route: str, w: World):
    """An object of the model an admin route is about (/admin/<app>/<model>/...), account
    A's where it has one."""
    _, _, app_label, model_name, *_ = route.split("/")
    model = apps.get_model(app_label, model_name)
    preferred = {"account": w.account, "application": w.app, "invoice": w.invoice}
    obj = preferred.get(model._meta.model_name) or model.objects.order_by("pk").first()
    if obj is None and model_name == "user":
        obj = UserFactory()
    return obj


def fill(name: str, route: str, w: World) -> str:
    values = {
        "sdkappid": w.app.sdkappid,
        "subscription_id": w.subscription.pk,
        "invoice_id": w.invoice.pk,
        "key_id": w.spare_key.pk,
        "number": w.invoice.number,
        "invitation_id": w.invitation.pk,
        "account_id": w.account.pk,
        "prefix": w.spare_key.prefix,
        "uidb64": "MQ",
        "token": "set-password",
        "app_label": "billing",
        "content_type_id": 1,
        "id": w.owner_user.pk,
        "endpoint_id": w.endpoint.pk,
        "delivery_id": w.delivery.pk,
        "alert_id": w.alert.pk,
        "action": "test",
    }

    def replace(match):
        key = match.group(1).split(":")[-1]
        if key == "token" and route.startswith("/invitations/"):
            return w.invitation_token
        if key == "id" and route.startswith("/api/v1/webhook-endpoints"):
            return str(w.endpoint.pk)
        if key == "id" and route.startswith("/api/v1/alerts"):
            return str(w.alert.pk)
        if key in ("object_id", "pk"):  # pk: django-otp's device pages
            obj = admin_object(route, w)
            return str(obj.pk if obj is not None else 1)
        return str(values[key])

    special = {
        "member_role": f"/team/members/{w.spare['member_role'].pk}/role/",
        "member_remove": f"/team/members/{w.spare['member_remove'].pk}/remove/",
        "api-unknown": "/api/v1/no-such-endpoint",
        "admin:app_list": "/admin/billing/",
        "admin:view_on_site": "/admin/r/1/1/",
        "api-restatement": f"/api/v1/restatements/{w.restatement.pk}",
        "api-restatement-approve": f"/api/v1/restatements/{w.restatement.pk}/approve",
        "api-restatement-reject": f"/api/v1/restatements/{w.restatement.pk}/reject",
        "edition_change": f"/applications/{w.app.sdkappid}/edition/?edition=ultimate",
    }
    if name in special:
        return special[name]
    return re.sub(r"<([^>]+)>", replace, route).replace("^", "").replace("$", "")


def client_for(role: str, w: World, *, api: bool) -> APIClient:
    client = APIClient()
    keys = {"owner": w.raw_key, "other": w.raw_other_key, "service": w.raw_service_key}
    keys |= w.role_keys
    users = {
        **{role: membership.user for role, membership in w.members.items()},
        "owner": w.owner_user,
        "other": w.other_user,
        "finance": w.finance,
        "support": w.support,
    }
    if api and role in keys:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {keys[role]}")
    elif not api and role == "service":
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {keys[role]}")  # means nothing here
    elif role in users:
        client.force_login(users[role])
    return client


def test_isolation_matrix(world):
    w = world
    failures, checked = [], 0
    for name, route in sorted(url_patterns().items()):
        expect = expectation(name)
        url = fill(name, route, w)
        api = url.startswith("/api/")
        for role in ROLES:
            response = client_for(role, w, api=api).get(url)
            want = expect[role]
            got = response.status_code
            if want == LOGIN:
                ok = got == 302 and response["Location"].startswith("/login/")
            elif want == ADMIN_LOGIN:
                ok = got == 302 and response["Location"].startswith("/admin/login/")
            else:
                ok = got in want
            if ok and got == 200 and role == "other":
                body = response.content.decode(errors="replace")
                leaked = [
                    marker
                    for marker in (str(w.app.sdkappid), w.invoice.number, "Tenant A")
                    if marker in body
                ]
                ok = not leaked
            checked += 1
            if not ok:
                failures.append(f"{role:9} GET {url} ({name}): {got}, expected {want}")
    print(f"\n[isolation] {len(url_patterns())} URL patterns x {len(ROLES)} roles = {checked}")
    assert not failures, "\n".join(failures)


def test_writes_to_another_accounts_objects_answer_404(world):
    """POST to every API endpoint that names an application or invoice of account A, with
    account B's key: 404 whatever the body, and nothing written."""
    from billing.models import AuditRecord

    w = world
    before = AuditRecord.objects.count()
    client = client_for("other", w, api=True)
    posts = [
        f"/api/v1/applications/{w.app.sdkappid}/edition",
        f"/api/v1/applications/{w.app.sdkappid}/addons",
        f"/api/v1/applications/{w.app.sdkappid}/resource-packs",
        f"/api/v1/invoices/{w.invoice.number}/adjustments",
        f"/api/v1/invoices/{w.invoice.number}/credit-notes",
        f"/api/v1/invoices/{w.invoice.number}/payments",
    ]
    body = {"edition": "ultimate", "item": "im.moderation_pack.monthly", "amount": "1.00"}
    for url in posts:
        assert client.post(url, body, format="json").status_code == 404, url
    addons = f"/api/v1/applications/{w.app.sdkappid}/addons?addon=im.addon.group_members"
    assert client.delete(addons).status_code == 404
    assert AuditRecord.objects.count() == before


# --------------------------------------------------------------------------------------------
# Writes per role over the API (issue 19): keys scoped like A's member roles
# --------------------------------------------------------------------------------------------

# Every API write: (method, url name, the scope it needs, who may). Hand-written from the
# issue: purchases and edition changes need billing:write, creating applications
# applications:write, usage usage:write, managing keys a key with full rights.
API_WRITES = [
    ("POST", "api-applications", "applications:write", {"owner", "developer"}),
    ("POST", "api-usage-events", "usage:write", {"owner", "developer"}),
    ("POST", "api-edition", "billing:write", {"owner", "billing"}),
    ("POST", "api-addons", "billing:write", {"owner", "billing"}),
    ("DELETE", "api-addons", "billing:write", {"owner", "billing"}),
    ("POST", "api-resource-packs", "billing:write", {"owner", "billing"}),
    ("POST", "api-api-keys", "full rights", {"owner"}),
    ("DELETE", "api-api-key", "full rights", {"owner"}),
    # issue 16: webhooks and alerts (accounts/permissions.py webhooks.manage, alerts.manage)
    ("POST", "api-webhook-endpoints", "billing:write", {"owner", "billing"}),
    ("POST", "api-webhook-test", "billing:write", {"owner", "billing"}),
    ("DELETE", "api-webhook-endpoint", "billing:write", {"owner", "billing"}),
    ("POST", "api-alerts", "billing:write", {"owner", "billing"}),
    ("DELETE", "api-alert", "billing:write", {"owner", "billing"}),
]
# Finance staff's writes: a key of any kind is refused (tested in tests/api/test_finance.py).
STAFF_WRITES = {
    "api-adjustments",
    "api-credit-notes",
    "api-payments",
    "api-restatement-approve",
    "api-restatement-reject",
}
WRITE_BODY = {
    "name": "matrix",
    "region": "cn",
    "edition": "ultimate",
    "item": "im.moderation_pack.monthly",
    "scopes": ["usage:write"],
    "events": [
        {
            "id": "matrix-w",
            "application": None,  # filled with A's application
            "metric": "trtc.audio_seconds",
            "timestamp": "2026-10-11T10:00:00+08:00",
            "value": 60,
        }
    ],
}


def test_every_api_write_has_a_role_rule():
    """Every API view that has a POST or DELETE handler is in API_WRITES (or staff-only)."""
    from billing.api import urls as api_urls

    written = {name for _, name, _, _ in API_WRITES} | STAFF_WRITES
    found = set()

    def flat(patterns):  # included URL configurations (notifications.api.urls) too
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                yield from flat(pattern.url_patterns)
            else:
                yield pattern

    for pattern in flat(api_urls.urlpatterns):
        view_class = getattr(pattern.callback, "view_class", None)
        writes = hasattr(view_class, "post") or hasattr(view_class, "delete")
        if pattern.name != "api-unknown" and view_class is not None and writes:
            found.add(pattern.name)
    assert found == written, f"API writes without a row in API_WRITES: {found - written}"


def test_writes_per_role(world):
    from billing.models import AuditRecord, UsageEvent

    w = world
    body = WRITE_BODY | {"events": [WRITE_BODY["events"][0] | {"application": w.app.sdkappid}]}
    urls = {
        "api-applications": "/api/v1/applications",
        "api-usage-events": "/api/v1/usage-events",
        "api-edition": f"/api/v1/applications/{w.app.sdkappid}/edition",
        "api-addons": f"/api/v1/applications/{w.app.sdkappid}/addons",
        "api-resource-packs": f"/api/v1/applications/{w.app.sdkappid}/resource-packs",
        "api-api-keys": "/api/v1/api-keys",
        "api-api-key": f"/api/v1/api-keys/{w.spare_key.prefix}",
        "api-webhook-endpoints": "/api/v1/webhook-endpoints",
        "api-webhook-test": f"/api/v1/webhook-endpoints/{w.endpoint.pk}/test",
        "api-webhook-endpoint": f"/api/v1/webhook-endpoints/{w.endpoint.pk}",
        "api-alerts": "/api/v1/alerts",
        "api-alert": f"/api/v1/alerts/{w.alert.pk}",
    }
    failures = []
    for method, name, scope, allowed in API_WRITES:
        # refused roles first, so that an allowed write cannot hide a refused one
        for role in sorted(("owner", *MEMBERS), key=lambda r: r in allowed):
            client = client_for(role, w, api=True)
            url = urls[name]
            if method == "DELETE" and name == "api-addons":
                url += "?addon=group_members"
            before = (AuditRecord.objects.count(), UsageEvent.objects.count(), len(w.role_keys))
            if method == "POST":
                response = client.post(url, body, format="json")
            else:
                response = client.delete(url)
            got = response.status_code
            if role in allowed:
                if got == 403:
                    failures.append(f"{role} {method} {name}: 403, but {scope} allows it")
                continue
            message = response.json()["errors"][0]["message"] if got == 403 else ""
            after = (AuditRecord.objects.count(), UsageEvent.objects.count(), len(w.role_keys))
            if got != 403 or scope not in message:
                failures.append(f"{role} {method} {name}: {got} {message!r}, want 403 ({scope})")
            elif after != before:
                failures.append(f"{role} {method} {name}: refused, but something was written")
    assert not failures, "\n".join(failures)

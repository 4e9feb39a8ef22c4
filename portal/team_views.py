"""The portal's team pages (issue 19): members and roles, invitations, the account's audit
trail, two-factor sign-in. Thin like portal/views.py: objects are looked up within the user's
accounts first (another account's: 404), the services in accounts/ check the role (403 naming
the role needed) and write with an audit record."""

import base64

import django_otp
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache

from accounts import permissions, two_factor
from accounts import services as account_services
from accounts.models import Invitation, Membership, Role
from accounts.services import AccessDenied, AccountError
from billing import selectors
from billing.models import AuditRecord
from portal.forms import AcceptWithPasswordForm, InviteForm, RoleForm, TokenForm

AUDIT_PAGE_SIZE = 200


def _post_only(request):
    """After the object lookup (so a stranger's object is a 404 to every method)."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    return None


def _denied(refused: AccessDenied):
    raise PermissionDenied(str(refused)) from None


def _membership(request, membership_id: int) -> Membership:
    return get_object_or_404(
        Membership.objects.filter(account__memberships__user=request.user).select_related(
            "account", "user"
        ),
        pk=membership_id,
    )


@never_cache
@login_required
def team(request):
    """GET: each account's members, and for owners its invitations. POST: invite."""
    roles = permissions.roles_by_account(user=request.user)
    owned = selectors.accounts_for_user(user=request.user).filter(
        pk__in=permissions.accounts_allowing(user=request.user, action="members.manage")
    )
    form = InviteForm(request.POST or None, accounts=owned)
    status = 200
    if request.method == "POST":
        if not owned.exists():
            role = sorted(roles.values())[0] if roles else None
            raise PermissionDenied(permissions.role_refusal("members.manage", role))
        if form.is_valid():
            try:
                invitation, _ = account_services.invitation_create(
                    account=form.cleaned_data["account"],
                    email=form.cleaned_data["email"],
                    role=form.cleaned_data["role"],
                    actor=request.user,
                    site_url=request.build_absolute_uri("/"),
                )
            except AccessDenied as refused:
                _denied(refused)
            except AccountError as error:
                form.add_error(error.field if error.field in form.fields else None, str(error))
                status = 400
            else:
                messages.success(
                    request,
                    f"Invitation sent to {invitation.email} as "
                    f"{Role(invitation.role).label.lower()}; the link works until "
                    f"{timezone.localtime(invitation.expires_at):%d %b %Y %H:%M}.",
                )
                return redirect("team")
        else:
            status = 400
    now = timezone.now()
    accounts = []
    for account in selectors.accounts_for_user(user=request.user):
        role = roles.get(account.pk)
        is_owner = permissions.role_allows(role, "members.manage")
        members = list(account.memberships.select_related("user").order_by("user__username", "pk"))
        with_device = set(
            two_factor.TOTPDevice.objects.filter(
                user__in=[m.user_id for m in members], confirmed=True
            ).values_list("user_id", flat=True)
        )
        for member in members:
            member.two_factor = member.user_id in with_device
        invitations = []
        if is_owner:
            invitations = list(account.invitations.select_related("invited_by")[:50])
            for invitation in invitations:
                invitation.current_state = invitation.state(now)
        accounts.append(
            {
                "account": account,
                "role": role,
                "is_owner": is_owner,
                "members": members,
                "invitations": invitations,
            }
        )
    return render(
        request,
        "portal/team.html",
        {
            "accounts": accounts,
            "form": form,
            "may_invite": owned.exists(),
            "roles": Role.choices,
        },
        status=status,
    )


@login_required
def invitation_revoke(request, invitation_id: int):
    invitation = get_object_or_404(
        Invitation.objects.filter(account__memberships__user=request.user).select_related(
            "account"
        ),
        pk=invitation_id,
    )
    if (refused := _post_only(request)) is not None:
        return refused
    try:
        account_services.invitation_revoke(invitation=invitation, actor=request.user)
    except AccessDenied as refused:
        _denied(refused)
    except AccountError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Invitation of {invitation.email} revoked.")
    return redirect("team")


@login_required
def member_role(request, membership_id: int):
    membership = _membership(request, membership_id)
    if (refused := _post_only(request)) is not None:
        return refused
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"role: choose one of {', '.join(Role.values)}.")
        return redirect("team")
    try:
        changed = account_services.membership_role_change(
            membership=membership, role=form.cleaned_data["role"], actor=request.user
        )
    except AccessDenied as refused:
        _denied(refused)
    except AccountError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request, f"{membership.user.email} is now {Role(changed.role).label.lower()}."
        )
    return redirect("team")


@login_required
def member_remove(request, membership_id: int):
    membership = _membership(request, membership_id)
    if (refused := _post_only(request)) is not None:
        return refused
    try:
        account_services.membership_remove(membership=membership, actor=request.user)
    except AccessDenied as refused:
        _denied(refused)
    except AccountError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request, f"{membership.user.email} removed from {membership.account.name}."
        )
        if membership.user_id == request.user.pk:
            return redirect("dashboard")
    return redirect("team")


@login_required
def account_two_factor(request, account_id: int):
    """POST: the owner requires (``required=1``) or stops requiring two-factor sign-in."""
    account = get_object_or_404(selectors.accounts_for_user(user=request.user), pk=account_id)
    if (refused := _post_only(request)) is not None:
        return refused
    required = request.POST.get("required") == "1"
    try:
        account_services.account_two_factor_require(
            account=account, required=required, actor=request.user
        )
    except AccessDenied as refused:
        _denied(refused)
    messages.success(
        request,
        f"{account.name} {'now requires' if required else 'no longer requires'} "
        "two-factor sign-in of every member.",
    )
    return redirect("team")


@login_required
def audit_trail(request):
    """The audit trail of the accounts the user owns: members, roles, keys, two-factor
    sign-in, purchases and every money change."""
    owned = permissions.accounts_allowing(user=request.user, action="audit.read")
    roles = permissions.roles_by_account(user=request.user)
    if roles and not owned:
        raise PermissionDenied(permissions.role_refusal("audit.read", sorted(roles.values())[0]))
    records = (
        AuditRecord.objects.filter(account_id__in=owned)
        .select_related("actor", "account")
        .order_by("-at", "-id")[:AUDIT_PAGE_SIZE]
    )
    return render(request, "portal/audit.html", {"records": records})


# --------------------------------------------------------------------------------------------
# Accepting an invitation (public: the signed link is the credential)
# --------------------------------------------------------------------------------------------


@never_cache
def invitation_accept(request, token: str):
    try:
        invitation = account_services.invitation_from_token(token)
    except AccountError as error:
        return render(request, "portal/invitation.html", {"error": str(error)}, status=400)
    user = request.user
    User = type(invitation.invited_by)
    has_login = User.objects.filter(username=invitation.email).exists()
    form = AcceptWithPasswordForm(request.POST or None) if not has_login else None
    status = 200
    if request.method == "POST":
        try:
            if user.is_authenticated:
                account_services.invitation_accept(invitation=invitation, user=user)
            elif has_login:
                return redirect(f"{reverse('login')}?next={request.path}")
            elif form.is_valid():
                user = account_services.invitation_accept_new_user(
                    invitation=invitation, password=form.cleaned_data["password1"]
                )
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            else:
                raise AccountError("Choose a password and repeat it.", field=None)
        except AccountError as error:
            if form is not None and error.field == "password":
                form.add_error("password1", str(error))
            else:
                messages.error(request, str(error))
            status = 400
        else:
            messages.success(
                request,
                f"Welcome to {invitation.account.name}: you are "
                f"{Role(invitation.role).label.lower()}.",
            )
            return redirect("dashboard")
    return render(
        request,
        "portal/invitation.html",
        {"invitation": invitation, "form": form, "has_login": has_login},
        status=status,
    )


# --------------------------------------------------------------------------------------------
# Two-factor sign-in
# --------------------------------------------------------------------------------------------


@never_cache
@login_required
def two_factor_page(request):
    """Set up (start, confirm), new recovery codes, turn off. Recovery codes are shown once,
    in the response that creates them."""
    user = request.user
    recovery_codes = None
    form = TokenForm(request.POST or None)
    status = 200
    action = request.POST.get("action") if request.method == "POST" else None
    try:
        if action == "start":
            two_factor.totp_setup_start(user=user)
        elif action == "confirm":
            recovery_codes = two_factor.totp_setup_confirm(
                user=user, token=request.POST.get("token")
            )
            device = two_factor.totp_device(user)
            django_otp.login(request, device)
            messages.success(request, "Two-factor sign-in is on.")
        elif action == "recovery":
            recovery_codes = two_factor.recovery_codes_regenerate(user=user)
        elif action == "disable":
            two_factor.two_factor_disable(user=user, token=request.POST.get("token"))
            messages.success(request, "Two-factor sign-in is off.")
            return redirect("two_factor")
        elif action is not None:
            status = 400
            messages.error(request, "action: choose start, confirm, recovery or disable.")
    except two_factor.TwoFactorError as error:
        status = 400
        if error.field == "token":
            form.add_error("token", str(error))
        else:
            messages.error(request, str(error))
    confirmed = two_factor.totp_device(user)
    pending = None if confirmed else two_factor.totp_device(user, confirmed=False)
    return render(
        request,
        "portal/two_factor.html",
        {
            "enabled": confirmed is not None,
            "pending": pending,
            "secret": base64.b32encode(pending.bin_key).decode() if pending else "",
            "recovery_codes": recovery_codes,
            "recovery_left": two_factor.recovery_codes_left(user),
            "required": two_factor.required_reason(user),
            "form": form,
            "next": two_factor.safe_next(request, request.GET.get("next")),
            "has_next": bool(request.GET.get("next")),
        },
        status=status,
    )


@never_cache
@login_required
def two_factor_verify(request):
    """The second step of signing in: a code from the authenticator or a recovery code."""
    next_url = two_factor.safe_next(request, request.POST.get("next") or request.GET.get("next"))
    if not two_factor.has_second_factor(request.user):
        return redirect(next_url)
    form = TokenForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            device = two_factor.second_factor_verify(
                user=request.user, token=form.cleaned_data["token"]
            )
        except two_factor.TwoFactorError as error:
            form.add_error("token", str(error))
            status = 400
        else:
            request.session.cycle_key()
            django_otp.login(request, device)
            return redirect(next_url)
    elif request.method == "POST":
        status = 400
    return render(
        request, "portal/two_factor_verify.html", {"form": form, "next": next_url}, status=status
    )

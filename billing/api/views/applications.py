"""Applications of the caller's account and what they bought, their usage and charges.
Account keys only; another account's application is a 404."""

from decimal import Decimal

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from billing import selectors as billing_selectors
from billing.api import selectors
from billing.api.filters import ChargeFilter, UsageFilter
from billing.api.parsers import ApiViewMixin
from billing.api.permissions import AccountKey, Policy
from billing.api.schema import DETAIL, LIST, READ, WRITE, errors
from billing.api.serializers import (
    AddOnSubscriptionSerializer,
    ApplicationCreateSerializer,
    ApplicationSerializer,
    ChargeSerializer,
    EditionChangeSerializer,
    ItemInputSerializer,
    MonthToDateSerializer,
    ResourcePackSerializer,
    UsageDaySerializer,
)
from billing.api.views.base import not_found
from billing.calendar import billing_today
from billing.models import Application, BillableItem, Charge, UsageEvent
from billing.services import applications as services

SDKAPPID = OpenApiParameter("sdkappid", int, OpenApiParameter.PATH, description="The SDKAppID.")
TAGS = ["applications"]


def actor_of(request):
    """Who a write is recorded against: the user who created the key (may be None)."""
    return request.auth.created_by


# An endpoint acting for the account of the caller's account key. (A comment, not a
# docstring: drf-spectacular would show a docstring as every subclass's description.)
class AccountScopedView(ApiViewMixin, GenericAPIView):
    permission_classes = [AccountKey, Policy]
    # accounts/permissions.py: what each method does, for the key's scopes.
    policy_actions = {"GET": "applications.read"}
    queryset = Application.objects.none()  # for the schema: the path's sdkappid is theirs

    @property
    def account_id(self) -> int:
        return self.request.user.account_id

    def applications(self):
        return selectors.applications_of_account(account_id=self.account_id, today=billing_today())

    def application(self, sdkappid: int, *, annotated: bool = False) -> Application:
        """The account's application, or 404 (another account's too). ``annotated`` adds
        the edition today and a scheduled change, for the application's representation."""
        if annotated:
            queryset = self.applications()
        else:
            queryset = Application.objects.filter(account_id=self.account_id)
        found = queryset.filter(sdkappid=sdkappid).first()
        if found is None:
            raise not_found(f"application {sdkappid}")
        return found


class ApplicationListView(AccountScopedView):
    policy_actions = {"GET": "applications.read", "POST": "applications.create"}
    serializer_class = ApplicationSerializer
    cursor_ordering = ("sdkappid",)
    filter_backends = []

    def get_queryset(self):
        return self.applications()

    @extend_schema(
        operation_id="applications_list",
        description="The account's applications, each with its region, status, the edition it "
        "is on today and a change scheduled for later.",
        tags=TAGS,
        summary="List the account's applications",
        responses={200: ApplicationSerializer(many=True), **errors(*LIST)},
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ApplicationSerializer(page, many=True).data)

    @extend_schema(
        operation_id="applications_create",
        description="A new application on Trial in the region given (`cn` or `intl`). The "
        "SDKAppID is assigned here and returned; usage may be reported for it at "
        "once.",
        tags=TAGS,
        summary="Create an application (it starts on Trial)",
        request=ApplicationCreateSerializer,
        responses={201: ApplicationSerializer, **errors(*WRITE)},
    )
    def post(self, request):
        data = ApplicationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        created = services.application_create(
            account=request.auth.account, actor=actor_of(request), **data.validated_data
        )
        application = self.application(created.sdkappid, annotated=True)
        return Response(ApplicationSerializer(application).data, status=status.HTTP_201_CREATED)


class ApplicationDetailView(AccountScopedView):
    @extend_schema(
        operation_id="applications_retrieve",
        description="One application of the account: region, status, today's edition and a "
        "scheduled change. Another account's application answers 404.",
        tags=TAGS,
        summary="One application",
        parameters=[SDKAPPID],
        responses={200: ApplicationSerializer, **errors(*DETAIL)},
    )
    def get(self, request, sdkappid: int):
        return Response(ApplicationSerializer(self.application(sdkappid, annotated=True)).data)


class EditionView(AccountScopedView):
    policy_actions = {"POST": "applications.purchase"}

    @extend_schema(
        operation_id="applications_edition_change",
        tags=TAGS,
        summary="Change the IM edition",
        description="Trial to Pro or Ultimate and Pro to Ultimate take effect today (a new "
        "prepaid term starts; Pro's unused days come back as a credit). Ultimate to Pro is "
        "scheduled for the end of the Ultimate term (see `scheduled_edition`). Never back to "
        "Trial.",
        parameters=[SDKAPPID],
        request=EditionChangeSerializer,
        responses={200: ApplicationSerializer, **errors(*WRITE)},
    )
    def post(self, request, sdkappid: int):
        application = self.application(sdkappid)
        data = EditionChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.edition_change(
            application=application,
            edition_code=data.validated_data["edition"],
            actor=actor_of(request),
        )
        return Response(ApplicationSerializer(self.application(sdkappid, annotated=True)).data)


ADDON = OpenApiParameter(
    "addon",
    str,
    OpenApiParameter.QUERY,
    required=True,
    description="The add-on to cancel, e.g. avchatroom, message_history, calls.",
)


class AddOnsView(AccountScopedView):
    policy_actions = {
        "GET": "applications.read",
        "POST": "applications.purchase",
        "DELETE": "applications.purchase",
    }
    serializer_class = AddOnSubscriptionSerializer
    cursor_ordering = ("id",)
    filter_backends = []

    @extend_schema(
        operation_id="applications_addons_list",
        description="The add-on subscriptions of the application, running and ended, with the "
        "option bought, when it started and, for a cancelled one, the last day it "
        "runs.",
        tags=TAGS,
        summary="Add-on subscriptions, running and ended",
        parameters=[SDKAPPID],
        responses={200: AddOnSubscriptionSerializer(many=True), **errors(*LIST, 404)},
    )
    def get(self, request, sdkappid: int):
        queryset = selectors.addon_subscriptions_of(application=self.application(sdkappid))
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(AddOnSubscriptionSerializer(page, many=True).data)

    @extend_schema(
        operation_id="applications_addons_subscribe",
        description="Buy one option of an add-on. Value-added services need Pro or Ultimate "
        "(local moderation is sold on every edition); one option of each add-on "
        "runs at a time. A prepaid option starts a monthly term today, billed on "
        "this month's invoice; a postpaid one accrues by day.",
        tags=TAGS,
        summary="Buy an add-on option (Pro and Ultimate; local moderation on any edition)",
        parameters=[SDKAPPID],
        request=ItemInputSerializer,
        responses={201: AddOnSubscriptionSerializer, **errors(*WRITE)},
    )
    def post(self, request, sdkappid: int):
        application = self.application(sdkappid)
        data = ItemInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        subscription = services.addon_subscribe(
            application=application,
            item_code=data.validated_data["item"],
            actor=actor_of(request),
        )
        return Response(
            AddOnSubscriptionSerializer(subscription).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        operation_id="applications_addons_cancel",
        tags=TAGS,
        summary="Cancel a running add-on",
        description="A prepaid option runs to the end of the term already paid and is not "
        "renewed; a postpaid option accrues up to and including today.",
        parameters=[SDKAPPID, ADDON],
        responses={200: AddOnSubscriptionSerializer, **errors(*WRITE)},
    )
    def delete(self, request, sdkappid: int):
        application = self.application(sdkappid)
        code = request.query_params.get("addon", "").strip()
        if not code:
            raise ValidationError({"addon": ["addon is required: the add-on to cancel."]})
        subscription = (
            selectors.addon_subscriptions_of(application=application)
            .filter(addon__code=code, ends_on__isnull=True)
            .first()
        )
        if subscription is None:
            raise not_found(f"running add-on {code!r} on application {sdkappid}")
        subscription = services.addon_cancel(subscription=subscription, actor=actor_of(request))
        return Response(AddOnSubscriptionSerializer(subscription).data)


class ResourcePacksView(AccountScopedView):
    policy_actions = {"GET": "applications.read", "POST": "applications.purchase"}
    serializer_class = ResourcePackSerializer
    cursor_ordering = ("id",)
    filter_backends = []

    @extend_schema(
        operation_id="applications_resource_packs_list",
        description="The resource packs of the application: units, validity and price, bought "
        "packs and the monthly minutes of call add-ons alike.",
        tags=TAGS,
        summary="Resource packs bought, and call-minute grants of add-on terms",
        parameters=[SDKAPPID],
        responses={200: ResourcePackSerializer(many=True), **errors(*LIST, 404)},
    )
    def get(self, request, sdkappid: int):
        queryset = selectors.resource_packs_of(application=self.application(sdkappid))
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(ResourcePackSerializer(page, many=True).data)

    @extend_schema(
        operation_id="applications_resource_packs_purchase",
        description="Buy a prepaid resource pack, valid from today for its validity months and "
        "billed once on this month's invoice.",
        tags=TAGS,
        summary="Buy a resource pack, valid from today",
        parameters=[SDKAPPID],
        request=ItemInputSerializer,
        responses={201: ResourcePackSerializer, **errors(*WRITE)},
    )
    def post(self, request, sdkappid: int):
        application = self.application(sdkappid)
        data = ItemInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        pack = services.resource_pack_purchase(
            application=application,
            item_code=data.validated_data["item"],
            actor=actor_of(request),
        )
        return Response(ResourcePackSerializer(pack).data, status=status.HTTP_201_CREATED)


class UsageView(AccountScopedView):
    serializer_class = UsageDaySerializer
    queryset = UsageEvent.objects.none()  # for the schema
    filterset_class = UsageFilter
    cursor_ordering = ("billing_day", "metric", "resolution")

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return UsageEvent.objects.none()
        self.usage_application = self.application(self.kwargs["sdkappid"])
        return selectors.usage_events_of(application=self.usage_application)

    @extend_schema(
        operation_id="applications_usage",
        tags=TAGS,
        summary="Usage per billing day and metric",
        description="Aggregated from the accepted events as the rating rules read them, "
        "including today's: usage is visible as soon as it is accepted. `rated` is false for "
        "a day not rated yet (today, until the next day's job; a day a late event made "
        "stale): its charges are not computed yet.",
        parameters=[SDKAPPID],
        responses={200: UsageDaySerializer(many=True), **errors(*LIST, 404)},
    )
    def get(self, request, sdkappid: int):
        events = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(selectors.usage_by_day(events))
        rated = selectors.rated_days(
            application_id=self.usage_application.pk, days={row["billing_day"] for row in page}
        )
        for row in page:
            row["quantity"] = selectors.usage_quantity(row)
            row["rated"] = row["billing_day"] in rated
        return self.get_paginated_response(UsageDaySerializer(page, many=True).data)


class ChargesView(AccountScopedView):
    serializer_class = ChargeSerializer
    queryset = Charge.objects.none()  # for the schema
    filterset_class = ChargeFilter
    cursor_ordering = ("day", "id")

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Charge.objects.none()
        return selectors.charges_of(application=self.application(self.kwargs["sdkappid"]))

    @extend_schema(
        operation_id="applications_charges",
        description="The rated charges of the application, one per item and billing day, with "
        "the quantity, what the free allowance or packs covered, the price and how "
        "it was computed. Monthly items (IM overage, message history) are dated "
        "the first day of their month.",
        tags=TAGS,
        summary="Rated charges per day (monthly items on the first day of their month)",
        parameters=[SDKAPPID],
        responses={200: ChargeSerializer(many=True), **errors(*LIST, 404)},
    )
    def get(self, request, sdkappid: int):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(ChargeSerializer(page, many=True).data)


class MonthToDateView(AccountScopedView):
    pagination_class = None  # one entry per currency

    @extend_schema(
        operation_id="applications_month_to_date",
        tags=TAGS,
        summary="What the running month would bill for this application if it closed now",
        description="Per currency: usage rated so far, prepaid purchases and credits of the "
        "month, and the monthly items (IM overage, message history) computed now. Account-wide "
        "adjustments are on the invoices, not here.",
        parameters=[SDKAPPID],
        responses={200: MonthToDateSerializer(many=True), **errors(*READ, 404)},
    )
    def get(self, request, sdkappid: int):
        application = self.application(sdkappid)
        months = billing_selectors.month_to_date(account_id=self.account_id)
        item_ids = {line.get("item_id") for m in months for line in m.lines} - {None}
        codes = dict(BillableItem.objects.filter(pk__in=item_ids).values_list("pk", "code"))
        result = []
        for month in months:
            lines = [
                {
                    "kind": str(line["kind"]),
                    "item": line.get("item_code") or codes.get(line.get("item_id")),
                    "description": line["description"],
                    "quantity": line.get("quantity"),
                    "unit_price": line.get("unit_price"),
                    "amount": line["amount"],
                }
                for line in month.lines
                if line.get("application_id") == application.pk
            ]
            if lines:
                total = sum((line["amount"] for line in lines), Decimal(0))
                result.append(
                    {
                        "currency": month.currency,
                        "month": month.month,
                        "total": total,
                        "lines": lines,
                    }
                )
        return Response(MonthToDateSerializer(result, many=True).data)

"""/api/v1/webhook-endpoints, /api/v1/alerts and /api/v1/applications/{sdkappid}/entitlements.

Account keys manage their account's endpoints and alerts; service keys manage the platform's
endpoints (entitlements changes of every application) and read any application's
entitlements. Another account's objects answer 404."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from billing.api.authentication import is_service_key
from billing.api.parsers import ApiViewMixin
from billing.api.permissions import Policy
from billing.api.schema import DETAIL, LIST, WRITE, errors
from billing.api.views.base import not_found
from billing.errors import BillingError
from billing.models import Application
from notifications import alerts as alert_services
from notifications import webhooks
from notifications.api.serializers import (
    AlertCreateSerializer,
    AlertSerializer,
    DeliverySerializer,
    EndpointCreatedSerializer,
    EndpointCreateSerializer,
    EndpointSerializer,
    EntitlementsSerializer,
    TestResultSerializer,
)
from notifications.entitlements import entitlements
from notifications.models import Alert, WebhookDelivery, WebhookEndpoint
from notifications.permissions import AlertManager, EntitlementsReader, WebhookManager

ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The endpoint's id.")
ALERT_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The alert's id.")
SDKAPPID = OpenApiParameter("sdkappid", int, OpenApiParameter.PATH, description="The SDKAppID.")


class _EndpointsBase(ApiViewMixin, GenericAPIView):
    permission_classes = [WebhookManager, Policy]
    policy_actions = {
        "GET": "webhooks.read",
        **dict.fromkeys(("POST", "PUT", "PATCH", "DELETE"), "webhooks.manage"),
    }
    queryset = WebhookEndpoint.objects.none()
    filter_backends = []

    def owner_account_id(self):
        """None for a service key: the platform's endpoints."""
        return None if is_service_key(self.request) else self.request.user.account_id

    def endpoints(self):
        return webhooks.endpoints_for(account_id=self.owner_account_id())

    def endpoint(self, pk: int) -> WebhookEndpoint:
        found = self.endpoints().filter(pk=pk).first()
        if found is None:
            raise not_found(f"webhook endpoint {pk}")
        return found


class EndpointListView(_EndpointsBase):
    serializer_class = EndpointSerializer
    cursor_ordering = ("id",)

    @extend_schema(
        operation_id="webhook_endpoints_list",
        tags=["webhooks"],
        summary="List the webhook endpoints",
        description="The account's endpoints (a service key: the platform's), with the event "
        "types each receives and whether it is disabled. Secrets are never shown again.",
        responses={200: EndpointSerializer(many=True), **errors(*LIST)},
    )
    def get(self, request):
        page = self.paginate_queryset(self.endpoints())
        return self.get_paginated_response(EndpointSerializer(page, many=True).data)

    @extend_schema(
        operation_id="webhook_endpoints_create",
        tags=["webhooks"],
        summary="Register a webhook endpoint (the secret is shown once)",
        description="https URLs to public addresses only (http and loopback when "
        "`WEBHOOKS_ALLOW_HTTP` or debug is on). Service keys may subscribe only to "
        "`application.entitlements_changed`, for every application.",
        request=EndpointCreateSerializer,
        responses={201: EndpointCreatedSerializer, **errors(*WRITE)},
    )
    def post(self, request):
        data = EndpointCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = webhooks.endpoint_create(
            account_id=self.owner_account_id(), **data.validated_data
        )
        return Response(EndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class EndpointDetailView(_EndpointsBase):
    @extend_schema(
        operation_id="webhook_endpoints_delete",
        tags=["webhooks"],
        summary="Delete a webhook endpoint",
        description="The endpoint stops receiving events at once; its delivery log is kept "
        "for the record. Another account's endpoint answers 404.",
        parameters=[ID],
        responses={204: None, **errors(*DETAIL)},
    )
    def delete(self, request, id: int):
        webhooks.endpoint_delete(endpoint=self.endpoint(id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class EndpointDeliveriesView(_EndpointsBase):
    serializer_class = DeliverySerializer
    cursor_ordering = ("-id",)

    @extend_schema(
        operation_id="webhook_endpoints_deliveries",
        tags=["webhooks"],
        summary="The endpoint's deliveries, newest first, with every attempt",
        description="Each delivery with its event, state and every attempt: time, HTTP "
        "status, duration and error. Cursor-paginated.",
        parameters=[ID],
        responses={200: DeliverySerializer(many=True), **errors(*DETAIL)},
    )
    def get(self, request, id: int):
        endpoint = self.endpoint(id)
        queryset = (
            WebhookDelivery.objects.filter(endpoint=endpoint)
            .select_related("event")
            .prefetch_related("log")
        )
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)


class EndpointTestView(_EndpointsBase):
    @extend_schema(
        operation_id="webhook_endpoints_test",
        tags=["webhooks"],
        summary="Send a signed webhook.test event now",
        description="Records a webhook.test event for this endpoint alone and delivers it "
        "like any other (signed, retried, logged), so a receiver can check its signature code.",
        parameters=[ID],
        request=None,
        responses={200: TestResultSerializer, **errors(*WRITE)},
    )
    def post(self, request, id: int):
        return Response(webhooks.endpoint_test(endpoint=self.endpoint(id)))


class _AlertsBase(ApiViewMixin, GenericAPIView):
    permission_classes = [AlertManager, Policy]
    policy_actions = {
        "GET": "alerts.read",
        **dict.fromkeys(("POST", "PUT", "PATCH", "DELETE"), "alerts.manage"),
    }
    queryset = Alert.objects.none()
    serializer_class = AlertSerializer
    cursor_ordering = ("id",)
    filter_backends = []

    def alerts(self):
        return Alert.objects.filter(account_id=self.request.user.account_id).select_related(
            "application"
        )


class AlertListView(_AlertsBase):
    @extend_schema(
        operation_id="alerts_list",
        tags=["alerts"],
        summary="List the alerts",
        description="The account's alerts: spend over an amount, free TRTC minutes or pack "
        "units left below a share, with the month each last fired in.",
        responses={200: AlertSerializer(many=True), **errors(*LIST)},
    )
    def get(self, request):
        page = self.paginate_queryset(self.alerts())
        return self.get_paginated_response(AlertSerializer(page, many=True).data)

    @extend_schema(
        operation_id="alerts_create",
        tags=["alerts"],
        summary="Set an alert",
        description="`spend`: month-to-date spend of the account (or of `application`) over "
        "`amount` in `currency`. `free_minutes` / `pack_units`: what is left of the "
        "application's free TRTC minutes / resource pack units below `share` (0.2 = 20 %). "
        "Each fires once per month, as an `alert.triggered` event (webhook and e-mail).",
        request=AlertCreateSerializer,
        responses={201: AlertSerializer, **errors(*WRITE)},
    )
    def post(self, request):
        data = AlertCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        application = None
        if values.get("application") is not None:
            application = Application.objects.filter(
                account_id=request.user.account_id, sdkappid=values["application"]
            ).first()
            if application is None:
                raise BillingError(
                    f"No application {values['application']} in this account.",
                    code="not_found",
                    field="application",
                )
        alert = alert_services.alert_create(
            account_id=request.user.account_id,
            kind=values["kind"],
            application=application,
            currency=values.get("currency") or "",
            amount=values.get("amount"),
            share=values.get("share"),
            actor=request.auth.created_by,
        )
        return Response(AlertSerializer(alert).data, status=status.HTTP_201_CREATED)


class AlertDetailView(_AlertsBase):
    @extend_schema(
        operation_id="alerts_delete",
        tags=["alerts"],
        summary="Delete an alert",
        description="The alert is checked no more; the events it already fired stay in the "
        "outbox. Another account's alert answers 404.",
        parameters=[ALERT_ID],
        responses={204: None, **errors(*DETAIL)},
    )
    def delete(self, request, id: int):
        alert = self.alerts().filter(pk=id).first()
        if alert is None:
            raise not_found(f"alert {id}")
        alert_services.alert_delete(alert=alert)
        return Response(status=status.HTTP_204_NO_CONTENT)


class EntitlementsView(ApiViewMixin, GenericAPIView):
    permission_classes = [EntitlementsReader, Policy]
    policy_actions = {"GET": "entitlements.read"}
    queryset = Application.objects.none()

    @extend_schema(
        operation_id="applications_entitlements",
        tags=["applications"],
        summary="What the application may do now (for the IM and TRTC back ends)",
        description="Status, edition and its limits (Trial's are hard), add-ons in force with "
        "their limits, call minutes left, paid features suspended because a prepaid term "
        "lapsed. `version` changes whenever any of it changes. Service keys: any "
        "application; account keys: their own.",
        parameters=[SDKAPPID],
        responses={200: EntitlementsSerializer, **errors(*DETAIL)},
    )
    def get(self, request, sdkappid: int):
        applications = Application.objects.all()
        if not is_service_key(request):
            applications = applications.filter(account_id=request.user.account_id)
        application = applications.filter(sdkappid=sdkappid).first()
        if application is None:
            raise not_found(f"application {sdkappid}")
        return Response(entitlements(application=application))

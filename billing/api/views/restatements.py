"""Finance staff review restatements: late usage of closed months (SPEC 6, 7).

``GET /restatements`` (pending first is ``?state=pending``), ``GET /restatements/{id}``,
``POST /restatements/{id}/approve`` with the ``digest`` that was reviewed, and
``POST /restatements/{id}/reject`` with a ``reason``. Staff use their Django session, like
the other finance endpoints: reading needs ``billing.view_restatement``, deciding
``billing.change_restatement`` (the finance group has both; support may only read). The
services recompute, bill and write the audit record in one transaction."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.api.authentication import is_staff_session
from billing.api.parsers import ApiViewMixin
from billing.api.schema import DETAIL, LIST, WRITE, errors
from billing.api.serializers import Money, Quantity
from billing.api.views.base import not_found
from billing.models import Restatement, RestatementLine, RestatementState
from billing.selectors.restatements import restatement_lines, restatements_list
from billing.services import restatements

TAGS = ["finance staff"]
ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The restatement's id.")


class RestatementReviewer(BasePermission):
    """Staff with the model permission: view to read, change to approve or reject."""

    message = "Only finance staff may review restatements."

    def has_permission(self, request, view) -> bool:
        perm = "view" if request.method in ("GET", "HEAD", "OPTIONS") else "change"
        return is_staff_session(request) and request.user.has_perm(f"billing.{perm}_restatement")


class RestatementLineSerializer(serializers.ModelSerializer):
    application = serializers.IntegerField(source="application.sdkappid", help_text="SDKAppID.")
    application_name = serializers.CharField(source="application.name")
    item = serializers.CharField(source="item.code")
    item_name = serializers.CharField(source="item.name")
    days = serializers.ListField(child=serializers.DateField(), help_text="Days with late usage.")
    quantity_before = Quantity(help_text="Used in the month as billed so far, item's unit.")
    quantity_after = Quantity(help_text="With the late events.")
    amount_before = Money(help_text="Billed so far: the closed invoice and approved changes.")
    amount_after = Money()
    difference = Money()
    explanation = serializers.CharField(help_text="Why, in the words of the charges.")

    class Meta:
        model = RestatementLine
        fields = [
            "application",
            "application_name",
            "item",
            "item_name",
            "days",
            "quantity_before",
            "quantity_after",
            "amount_before",
            "amount_after",
            "difference",
            "explanation",
        ]
        read_only_fields = fields


class RestatementSummarySerializer(serializers.ModelSerializer):
    account = serializers.IntegerField(source="account_id")
    account_name = serializers.CharField(source="account.name")
    month = serializers.DateField(help_text="First day of the closed month.")
    closed_invoice = serializers.CharField(
        source="closed_invoice.number", allow_null=True, default=None
    )
    amount_before = Money()
    amount_after = Money()
    difference = Money(help_text="What approval bills (negative: a credit note).")
    digest = serializers.CharField(help_text="Send it back to approve this version.")
    decided_by = serializers.CharField(source="decided_by.email", allow_null=True, default=None)
    billed_on_invoice = serializers.IntegerField(
        source="invoice_id", allow_null=True, help_text="The draft the lines went to (its id)."
    )
    credit_note = serializers.CharField(source="credit_note.number", allow_null=True, default=None)

    class Meta:
        model = Restatement
        fields = [
            "id",
            "account",
            "account_name",
            "currency",
            "month",
            "state",
            "closed_invoice",
            "late_events",
            "amount_before",
            "amount_after",
            "difference",
            "digest",
            "computed_at",
            "auto_approved",
            "decided_by",
            "decided_at",
            "reason",
            "billed_on_invoice",
            "credit_note",
        ]
        read_only_fields = fields


class RestatementSerializer(RestatementSummarySerializer):
    lines = serializers.SerializerMethodField()

    class Meta(RestatementSummarySerializer.Meta):
        fields = [*RestatementSummarySerializer.Meta.fields, "lines"]
        read_only_fields = fields

    @extend_schema_field(RestatementLineSerializer(many=True))
    def get_lines(self, restatement):
        return RestatementLineSerializer(restatement_lines(restatement), many=True).data


class ApproveInputSerializer(serializers.Serializer):
    digest = serializers.CharField(help_text="The digest of the version reviewed.")


class RejectInputSerializer(serializers.Serializer):
    reason = serializers.CharField(help_text="Kept in the audit trail.")


def restatement_for(pk: int) -> Restatement:
    found = (
        Restatement.objects.select_related("account", "closed_invoice", "decided_by", "credit_note")
        .filter(pk=pk)
        .first()
    )
    if found is None:
        raise not_found(f"restatement {pk}")
    return found


class RestatementListView(ApiViewMixin, ListAPIView):
    permission_classes = [RestatementReviewer]
    serializer_class = RestatementSummarySerializer
    cursor_ordering = ("-id",)

    def get_queryset(self):
        state = self.request.query_params.get("state")
        if state is not None and state not in RestatementState.values:
            raise ValidationError(
                {"state": [f"state must be one of {', '.join(RestatementState.values)}."]}
            )
        return restatements_list(state=state).select_related("decided_by", "credit_note")

    @extend_schema(
        operation_id="restatements_list",
        tags=TAGS,
        summary="List restatements of closed months (late usage)",
        description="Newest first; `state=pending` for those waiting for review.",
        parameters=[
            OpenApiParameter("state", str, enum=RestatementState.values, required=False),
        ],
        responses={200: RestatementSummarySerializer(many=True), **errors(*LIST)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class RestatementDetailView(ApiViewMixin, APIView):
    permission_classes = [RestatementReviewer]

    @extend_schema(
        operation_id="restatements_retrieve",
        tags=TAGS,
        summary="One restatement with its lines",
        parameters=[ID],
        responses={200: RestatementSerializer, **errors(*DETAIL)},
    )
    def get(self, request, id: int):
        return Response(RestatementSerializer(restatement_for(id)).data)


class RestatementApproveView(ApiViewMixin, APIView):
    permission_classes = [RestatementReviewer]

    @extend_schema(
        operation_id="restatements_approve",
        tags=TAGS,
        summary="Approve a restatement: bill its difference",
        description="Send the `digest` shown. The difference goes on the running month's "
        'draft as lines "Late usage for <month>" (negative: a credit note against the '
        "closed invoice). 409 `not_pending` when already decided; 409 "
        "`restatement_changed` when late usage arrived since (it is recomputed: review the "
        "new version and approve its digest).",
        parameters=[ID],
        request=ApproveInputSerializer,
        responses={200: RestatementSerializer, **errors(*WRITE)},
    )
    def post(self, request, id: int):
        restatement = restatement_for(id)
        data = ApproveInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        approved = restatements.restatement_approve(
            restatement=restatement, digest=data.validated_data["digest"], actor=request.user
        )
        return Response(RestatementSerializer(restatement_for(approved.pk)).data)


class RestatementRejectView(ApiViewMixin, APIView):
    permission_classes = [RestatementReviewer]

    @extend_schema(
        operation_id="restatements_reject",
        tags=TAGS,
        summary="Reject a restatement, with a reason: nothing is billed",
        parameters=[ID],
        request=RejectInputSerializer,
        responses={200: RestatementSerializer, **errors(*WRITE)},
    )
    def post(self, request, id: int):
        restatement = restatement_for(id)
        data = RejectInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rejected = restatements.restatement_reject(
            restatement=restatement, reason=data.validated_data["reason"], actor=request.user
        )
        return Response(RestatementSerializer(restatement_for(rejected.pk)).data)

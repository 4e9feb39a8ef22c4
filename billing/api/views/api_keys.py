"""The account's API keys over the API (issue 19): list (with their scopes), create with
scopes and an optional expiry, revoke. Only a key with the account's full rights (created
without scopes) may manage keys: a scoped key never makes a key with more rights than its own.
The raw key is in the creation response only; only its SHA-256 is stored."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from accounts import permissions as policy
from accounts.models import ApiKey
from accounts.services import api_key_create, api_key_revoke
from billing.api.parsers import ApiViewMixin
from billing.api.permissions import AccountKey, Policy
from billing.api.schema import DETAIL, LIST, WRITE, errors
from billing.api.views.base import not_found

TAGS = ["api keys"]


class ApiKeySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    prefix = serializers.CharField(help_text="The key's first characters, to tell keys apart.")
    name = serializers.CharField()
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=list(policy.SCOPES)),
        help_text="Empty: the account's full rights.",
    )
    created_at = serializers.DateTimeField()
    created_by = serializers.SerializerMethodField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)

    def get_created_by(self, key) -> str | None:
        return key.created_by.email if key.created_by_id else None


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(help_text="The key itself, shown in this response only.")


class ApiKeyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=list(policy.SCOPES)),
        required=False,
        default=list,
        help_text="What the key may do; empty or absent: the account's full rights.",
    )
    expires_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="RFC 3339; null: never."
    )


PREFIX = OpenApiParameter("prefix", str, OpenApiParameter.PATH, description="The key's prefix.")


class ApiKeysView(ApiViewMixin, GenericAPIView):
    permission_classes = [AccountKey, Policy]
    policy_actions = {"GET": "api_keys.read", "POST": "api_keys.create"}
    serializer_class = ApiKeySerializer
    queryset = ApiKey.objects.none()  # for the schema
    cursor_ordering = ("-id",)
    filter_backends = []

    def get_queryset(self):
        return ApiKey.objects.filter(account_id=self.request.user.account_id).select_related(
            "created_by"
        )

    @extend_schema(
        operation_id="api_keys_list",
        tags=TAGS,
        summary="The account's API keys with their scopes (never the keys themselves)",
        description="Every key of the account by prefix: name, scopes (none: the account's "
        "full rights), expiry, who created it, last use and revocation. Needs a key with full "
        "rights.",
        responses={200: ApiKeySerializer(many=True), **errors(*LIST)},
    )
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ApiKeySerializer(page, many=True).data)

    @extend_schema(
        operation_id="api_keys_create",
        tags=TAGS,
        summary="Create a key with scopes (usage:write, applications:read, ...)",
        description="The key is in this response only. Scopes: "
        + "; ".join(f"`{scope}` {what}" for scope, what in policy.SCOPES.items())
        + ". Without scopes the key has the account's full rights.",
        request=ApiKeyCreateSerializer,
        responses={201: ApiKeyCreatedSerializer, **errors(*WRITE)},
    )
    def post(self, request):
        data = ApiKeyCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        key, raw_key = api_key_create(
            account=request.auth.account,
            created_by=request.auth.created_by,
            **data.validated_data,
        )
        body = ApiKeySerializer(key).data | {"key": raw_key}
        return Response(body, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})


class ApiKeyDetailView(ApiViewMixin, GenericAPIView):
    permission_classes = [AccountKey, Policy]
    policy_actions = {"GET": "api_keys.read", "DELETE": "api_keys.revoke"}
    serializer_class = ApiKeySerializer
    queryset = ApiKey.objects.none()  # for the schema

    def key(self, prefix: str) -> ApiKey:
        found = (
            ApiKey.objects.filter(account_id=self.request.user.account_id, prefix=prefix)
            .select_related("created_by")
            .first()
        )
        if found is None:
            raise not_found(f"API key {prefix!r}")
        return found

    @extend_schema(
        operation_id="api_keys_retrieve",
        tags=TAGS,
        summary="One key",
        description="One key by its prefix, with its scopes, expiry, last use and "
        "revocation. Another account's key answers 404.",
        parameters=[PREFIX],
        responses={200: ApiKeySerializer, **errors(*DETAIL)},
    )
    def get(self, request, prefix: str):
        return Response(ApiKeySerializer(self.key(prefix)).data)

    @extend_schema(
        operation_id="api_keys_revoke",
        tags=TAGS,
        summary="Revoke a key: it no longer authenticates",
        description="The key stops authenticating at once; the revocation is written to the "
        "audit trail. Revoking a revoked key changes nothing.",
        parameters=[PREFIX],
        responses={200: ApiKeySerializer, **errors(*WRITE)},
    )
    def delete(self, request, prefix: str):
        key = api_key_revoke(key=self.key(prefix), actor=request.auth.created_by)
        return Response(ApiKeySerializer(key).data)

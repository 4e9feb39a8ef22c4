from rest_framework import serializers

from notifications.models import Alert, DeliveryAttempt, EventType, WebhookDelivery, WebhookEndpoint


class EndpointCreateSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=500)
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EventType.values), min_length=1, max_length=20
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)


class EndpointSerializer(serializers.ModelSerializer):
    event_types = serializers.ListField(child=serializers.CharField())
    enabled = serializers.SerializerMethodField()

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "event_types",
            "description",
            "created_at",
            "enabled",
            "disabled_at",
            "disabled_reason",
        ]

    def get_enabled(self, obj) -> bool:
        return obj.disabled_at is None


class EndpointCreatedSerializer(EndpointSerializer):
    secret = serializers.CharField(help_text="Shown once: store it to verify signatures.")

    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ["attempted_at", "duration_ms", "status_code", "error", "succeeded", "replay"]


class DeliverySerializer(serializers.ModelSerializer):
    event_id = serializers.CharField()
    type = serializers.CharField(source="event.type")
    log = AttemptSerializer(many=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event_id",
            "type",
            "state",
            "attempts",
            "next_attempt_at",
            "last_status",
            "delivered_at",
            "created_at",
            "log",
        ]


class TestResultSerializer(serializers.Serializer):
    succeeded = serializers.BooleanField()
    status_code = serializers.IntegerField(allow_null=True)
    duration_ms = serializers.IntegerField()
    error = serializers.CharField(allow_blank=True)


class AlertCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Alert.Kind.values)
    application = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=2**63 - 1, help_text="SDKAppID"
    )
    currency = serializers.CharField(required=False, allow_blank=True, max_length=3)
    amount = serializers.DecimalField(
        max_digits=14, decimal_places=2, required=False, allow_null=True
    )
    share = serializers.DecimalField(
        max_digits=5, decimal_places=4, required=False, allow_null=True
    )


class AlertSerializer(serializers.ModelSerializer):
    application = serializers.IntegerField(
        source="application.sdkappid", allow_null=True, default=None
    )

    class Meta:
        model = Alert
        fields = ["id", "kind", "application", "currency", "amount", "share", "created_at"]


class EntitlementsSerializer(serializers.Serializer):
    sdkappid = serializers.IntegerField()
    status = serializers.CharField()
    edition = serializers.CharField(allow_null=True)
    limits = serializers.DictField()
    addons = serializers.ListField(child=serializers.DictField())
    call_minutes_left = serializers.CharField(allow_null=True)
    paid_features_suspended = serializers.BooleanField()
    suspended_features = serializers.ListField(child=serializers.DictField())
    version = serializers.CharField()

"""The audit trail (SPEC 6): one record per money-changing action, written by the service
that makes the change, inside the same transaction."""

from decimal import Decimal

from billing.models import AuditRecord


def _jsonable(values: dict | None) -> dict:
    out = {}
    for key, value in (values or {}).items():
        if isinstance(value, Decimal):
            out[key] = str(value)
        elif hasattr(value, "isoformat"):
            out[key] = value.isoformat()
        elif isinstance(value, dict):
            out[key] = _jsonable(value)
        else:
            out[key] = value
    return out


def audit_record_build(
    *,
    actor,
    action: str,
    target,
    account=None,
    before: dict | None = None,
    after: dict | None = None,
    reason: str = "",
) -> AuditRecord:
    """An unsaved record; ``audit_record_create`` saves one, the bulk jobs save many at once."""
    return AuditRecord(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        target_type=target._meta.model_name,
        target_id=str(target.pk),
        account=account,
        before=_jsonable(before),
        after=_jsonable(after),
        reason=reason,
    )


def audit_record_create(
    *,
    actor,
    action: str,
    target,
    account=None,
    before: dict | None = None,
    after: dict | None = None,
    reason: str = "",
) -> AuditRecord:
    record = audit_record_build(
        actor=actor,
        action=action,
        target=target,
        account=account,
        before=before,
        after=after,
        reason=reason,
    )
    record.save()
    return record


def audit_records_create(records: list[AuditRecord]) -> None:
    """Save records built with ``audit_record_build`` in one multi-row insert."""
    AuditRecord.objects.bulk_create(records, batch_size=1000)

"""PostgreSQL refuses what no code path may do (SPEC 6, STYLE "Money and state"):

- a finalized, paid or void invoice keeps its number, account, currency, month, total,
  due date, finalization time and billing snapshot; it never goes back to draft; a void
  invoice never changes; an issued invoice is never deleted;
- the lines of an issued invoice are never inserted, updated or deleted;
- audit records are never updated or deleted.

Allowed transitions after issue: finalized -> paid, finalized -> void, paid -> finalized
(a payment reversed). On SQLite (the embedded mode) the services are the only guard.
"""

from django.db import migrations

FORWARD = r"""
CREATE OR REPLACE FUNCTION billing_invoice_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.state <> 'draft' THEN
            RAISE EXCEPTION 'invoice % is % and cannot be deleted', OLD.number, OLD.state
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.state = 'draft' THEN
        RETURN NEW;
    END IF;
    IF OLD.state = 'void'
       OR NEW.state = 'draft'
       OR NEW.number IS DISTINCT FROM OLD.number
       OR NEW.account_id IS DISTINCT FROM OLD.account_id
       OR NEW.currency IS DISTINCT FROM OLD.currency
       OR NEW.month IS DISTINCT FROM OLD.month
       OR NEW.total IS DISTINCT FROM OLD.total
       OR NEW.due_date IS DISTINCT FROM OLD.due_date
       OR NEW.finalized_at IS DISTINCT FROM OLD.finalized_at
       OR NEW.billing_snapshot IS DISTINCT FROM OLD.billing_snapshot
       OR (OLD.state = 'paid' AND NEW.state = 'void') THEN
        RAISE EXCEPTION 'invoice % is % and cannot be changed', OLD.number, OLD.state
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER billing_invoice_guard BEFORE UPDATE OR DELETE ON billing_invoice
    FOR EACH ROW EXECUTE FUNCTION billing_invoice_guard();

CREATE OR REPLACE FUNCTION billing_invoiceline_guard() RETURNS trigger AS $$
DECLARE
    invoice_state text;
BEGIN
    SELECT state INTO invoice_state FROM billing_invoice
        WHERE id = COALESCE(NEW.invoice_id, OLD.invoice_id);
    IF invoice_state IS DISTINCT FROM 'draft' THEN
        RAISE EXCEPTION 'lines of a % invoice cannot be changed', invoice_state
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.invoice_id <> OLD.invoice_id THEN
        SELECT state INTO invoice_state FROM billing_invoice WHERE id = OLD.invoice_id;
        IF invoice_state <> 'draft' THEN
            RAISE EXCEPTION 'lines of a % invoice cannot be moved', invoice_state
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER billing_invoiceline_guard BEFORE INSERT OR UPDATE OR DELETE ON billing_invoiceline
    FOR EACH ROW EXECUTE FUNCTION billing_invoiceline_guard();

CREATE OR REPLACE FUNCTION billing_auditrecord_guard() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit records cannot be changed or deleted'
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER billing_auditrecord_guard BEFORE UPDATE OR DELETE ON billing_auditrecord
    FOR EACH ROW EXECUTE FUNCTION billing_auditrecord_guard();
"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS billing_auditrecord_guard ON billing_auditrecord;
DROP FUNCTION IF EXISTS billing_auditrecord_guard();
DROP TRIGGER IF EXISTS billing_invoiceline_guard ON billing_invoiceline;
DROP FUNCTION IF EXISTS billing_invoiceline_guard();
DROP TRIGGER IF EXISTS billing_invoice_guard ON billing_invoice;
DROP FUNCTION IF EXISTS billing_invoice_guard();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("billing", "0003_db_checks_on_choices")]

    operations = [migrations.RunPython(forward, backward)]

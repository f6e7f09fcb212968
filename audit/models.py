import pgtrigger
from django.conf import settings
from django.db import models
from django.utils import timezone


class ChainSeqField(models.BigIntegerField):
    """An event's place in its chain: NULL until the event is sealed."""


class ChainHashField(models.CharField):
    """``prev_hash``/``hash`` of an event: NULL until the event is sealed."""


#: The one UPDATE an event allows: the seal, its three chain columns from NULL to
#: values, every other column unchanged (compared as one JSON object, so a column
#: added later is covered too). A trigger refuses every other UPDATE; it does not
#: even fire for a seal (a WHEN clause, evaluated before any function call).
SEAL_ONLY = """
OLD.seq IS NULL AND OLD.prev_hash IS NULL AND OLD.hash IS NULL
AND NEW.seq IS NOT NULL AND NEW.prev_hash IS NOT NULL AND NEW.hash IS NOT NULL
AND (to_jsonb(OLD) - '{seq,prev_hash,hash}'::text[])::text
    = (to_jsonb(NEW) - '{seq,prev_hash,hash}'::text[])::text
"""


class AuditEvent(models.Model):
    """One operator action or money movement. Append-only: PostgreSQL refuses
    UPDATE and DELETE; the admin offers no way to change a row.

    Hash-chained per tenant (``audit/chain.py``): ``seq`` numbers the events of one
    tenant's chain (events without a tenant form the platform chain) from 1 without
    gaps, ``prev_hash`` is the hash of event ``seq - 1`` and ``hash`` this event's
    own. On PostgreSQL an event is inserted with all three NULL and sealed after its
    transaction commits (``audit.sealing``, ``audit_chain_seal`` in ``audit/sql.py``);
    on SQLite ``audit_record`` links it at insert."""

    class ActorType(models.TextChoices):
        USER = "user", "Operator / staff"
        PLAYER = "player", "Player"
        SYSTEM = "system", "System"
        PSP = "psp", "PSP"

    # No foreign-key constraint: its check locked the tenant row on every money
    # movement of the brand. A deferred trigger checks the tenant exists instead
    # (tenants/sql.py; tenants are never deleted). No separate index either:
    # audit_tenant_recent (tenant, -id) serves every lookup by tenant.
    tenant = models.ForeignKey(
        "tenants.Tenant",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    # Indexed only where set (see Meta.indexes): most events are by the system or a
    # PSP (every money movement), and an index entry per NULL would be paid by each.
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    actor_label = models.CharField(max_length=200)
    action = models.CharField(max_length=100)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    # Set when the event is built (not auto_now_add, which would overwrite it at
    # save): the hash covers it.
    created_at = models.DateTimeField(
        default=timezone.now, editable=False, db_index=True
    )
    seq = ChainSeqField(null=True, editable=False)
    prev_hash = ChainHashField(max_length=64, null=True, editable=False)
    hash = ChainHashField(max_length=64, null=True, editable=False)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["tenant", "-id"], name="audit_tenant_recent"),
            # Leads with the id: serves "this id" alone and "this type and id"; the
            # type alone is too unselective to deserve an index.
            models.Index(fields=["target_id", "target_type"], name="audit_target_id"),
            # The admin's action filter within a brand (operators always have one):
            # the newest events of one action of one brand are one index range.
            models.Index(
                fields=["tenant", "action", "-id"], name="audit_tenant_action_recent"
            ),
            models.Index(
                fields=["actor_user"],
                condition=models.Q(actor_user__isnull=False),
                name="audit_actor_user",
            ),
            # The events waiting for the sealer: a handful at any time, so a tiny
            # index (an entry leaves it when the event is sealed).
            models.Index(
                fields=["tenant", "id"],
                condition=models.Q(seq__isnull=True),
                name="audit_unsealed",
            ),
        ]
        constraints = [
            # One chain per tenant and one platform chain: concurrent sealers can
            # never both take a sequence number (the sealer's lock makes them
            # wait; these indexes also serve its "head of the chain" lookup).
            models.UniqueConstraint(
                fields=["tenant", "seq"],
                condition=models.Q(tenant__isnull=False),
                name="audit_chain_tenant_seq",
            ),
            models.UniqueConstraint(
                fields=["seq"],
                condition=models.Q(tenant__isnull=True),
                name="audit_chain_platform_seq",
            ),
        ]
        permissions = [
            ("export_auditevent", "Can export the audit trail of their tenants"),
        ]
        triggers = [
            pgtrigger.Protect(name="audit_append_only", operation=pgtrigger.Delete),
            # Every UPDATE but the seal: re-sealing, re-numbering, editing.
            pgtrigger.Protect(
                name="audit_seal_only",
                operation=pgtrigger.Update,
                condition=pgtrigger.Condition(f"NOT ({SEAL_ONLY.strip()})"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_label} at {self.created_at:%Y-%m-%d %H:%M:%S}"


class AuditCheckpoint(models.Model):
    """Where a chain resumes after retention pruned its oldest events: the ``seq`` and
    ``hash`` of the last pruned event. The verifier starts from the latest checkpoint
    of a chain (the first remaining event must be ``seq + 1`` with ``prev_hash`` equal
    to ``hash``). Written only by ``audit.services.audit_prune``, append-only."""

    tenant = models.ForeignKey(
        "tenants.Tenant",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    seq = models.BigIntegerField()
    hash = models.CharField(max_length=64)
    pruned_before = models.DateTimeField()
    events_pruned = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["tenant", "-seq"], name="audit_checkpoint_head")
        ]
        triggers = [
            pgtrigger.Protect(
                name="audit_checkpoint_append_only",
                operation=pgtrigger.Update | pgtrigger.Delete,
            )
        ]

    def __str__(self) -> str:
        return f"checkpoint seq {self.seq} of tenant {self.tenant_id or 'platform'}"

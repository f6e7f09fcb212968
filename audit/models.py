import pgtrigger
from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """One operator action or money movement. Append-only: PostgreSQL refuses
    UPDATE and DELETE; the admin offers no way to change a row."""

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
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["tenant", "-id"], name="audit_tenant_recent"),
            models.Index(fields=["target_type", "target_id"], name="audit_target"),
            models.Index(fields=["action"], name="audit_action"),
            models.Index(
                fields=["actor_user"],
                condition=models.Q(actor_user__isnull=False),
                name="audit_actor_user",
            ),
        ]
        triggers = [
            pgtrigger.Protect(
                name="audit_append_only", operation=pgtrigger.Update | pgtrigger.Delete
            )
        ]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_label} at {self.created_at:%Y-%m-%d %H:%M:%S}"

"""Settlement file imports (``reconcile_psp``, the admin upload, the folder sweep).

The findings themselves are ``wallet.models.Finding``; an import records what it
read and what it found, and its file hash makes a second import of the same file a
recorded no-op."""

from django.db import models
from django.db.models import Q


class SettlementImport(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        DUPLICATE = "duplicate", "Duplicate (already imported)"
        FAILED = "failed", "Failed"

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, related_name="+"
    )
    provider = models.CharField(max_length=32)
    file_name = models.CharField(max_length=255)
    file_sha256 = models.CharField(max_length=64)
    file_bytes = models.BigIntegerField(default=0)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.RUNNING
    )
    rows = models.BigIntegerField(default=0)
    findings_new = models.IntegerField(default=0)
    findings_seen_again = models.IntegerField(default=0)
    #: Per currency: fees reported, fee postings made.
    summary = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    imported_by = models.CharField(max_length=200)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.IntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # One running or completed import per file: a second one of the same
            # bytes is recorded as a duplicate and reads nothing.
            models.UniqueConstraint(
                fields=["tenant", "provider", "file_sha256"],
                condition=Q(status__in=["running", "completed"]),
                name="settlement_import_once_per_file",
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "-id"], name="settlement_import_recent")
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.file_name} ({self.status})"

"""CRM data of a brand: tags, notes, consent, segments, campaigns and their sends.

Every row carries its tenant, and every player-owned row is indexed by
``(player, <time>, id)`` so the player's timeline reads one page of each source
straight from an index (crm/timeline.py)."""

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower


class Tag(models.Model):
    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, related_name="+"
    )
    name = models.CharField(max_length=50)
    description = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                "tenant", Lower("name"), name="crm_tag_name_unique_per_tenant"
            )
        ]

    def __str__(self) -> str:
        return self.name


class PlayerTag(models.Model):
    """A tag on a player now. Adding and removing also append a PlayerTagChange."""

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, related_name="+"
    )
    player = models.ForeignKey(
        "casino.Player", on_delete=models.CASCADE, related_name="crm_tags"
    )
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="player_tags")
    added_by = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tag__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["player", "tag"], name="crm_player_tag_once"
            )
        ]
        # The has_tag segment rule looks players up by tag.
        indexes = [models.Index(fields=["tag", "player"], name="crm_player_tag_by_tag")]

    def __str__(self) -> str:
        return f"{self.tag} on player {self.player_id}"


class PlayerTagChange(models.Model):
    """The history of a player's tags, for the timeline."""

    class Action(models.TextChoices):
        ADDED = "added", "Added"
        REMOVED = "removed", "Removed"

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, related_name="+"
    )
    player = models.ForeignKey(
        "casino.Player", on_delete=models.CASCADE, related_name="+"
    )
    tag_name = models.CharField(max_length=50)
    action = models.CharField(max_length=8, choices=Action.choices)
    actor_label = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["player", "-created_at", "-id"], name="crm_tagchange_timeline"
            )
        ]

    def __str__(self) -> str:
        return f"{self.tag_name} {self.action}"


class Note(models.Model):
    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, related_name="+"
    )
    player = models.ForeignKey(
        "casino.Player", on_delete=models.CASCADE, related_name="crm_notes"
    )
    body = models.TextField()
    pinned = models.BooleanField(default=False)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    author_label = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-pinned", "-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["player", "-created_at", "-id"], name="crm_note_timeline"
            ),
            models.Index(
                fields=["player"],
                condition=models.Q(pinned=True),
                name="crm_note_pinned",
            ),
        ]

    def __str__(self) -> str:
        return f"Note #{self.pk} on player {self.player_id}"


class NoteRevision(models.Model):
    """The body a note had before an edit: notes are edited, never silently."""

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, related_name="+"
    )
    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="revisions")
    body = models.TextField()
    pinned = models.BooleanField()
    edited_by = models.CharField(max_length=200)
    edited_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"Revision of note {self.note_id} at {self.edited_at:%Y-%m-%d %H:%M}"


class Consent(models.Model):
    """A player's current marketing opt-in per channel, with when and where it was
    given or withdrawn. Changes are audited (crm.consent_changed)."""

    class Channel(models.TextChoices):
        EMAIL = "email", "Marketing e-mail"
        SMS = "sms", "Marketing SMS"

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, related_name="+"
    )
    player = models.ForeignKey(
        "casino.Player", on_delete=models.CASCADE, related_name="crm_consents"
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    granted = models.BooleanField()
    source = models.CharField(
        max_length=100, help_text="Where it was given, e.g. signup-form, support-call."
    )
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["channel"]
        constraints = [
            models.UniqueConstraint(
                fields=["player", "channel"], name="crm_consent_one_per_channel"
            )
        ]
        # Campaign sends look up granted consents by player.
        indexes = [
            models.Index(
                fields=["channel", "player"],
                condition=models.Q(granted=True),
                name="crm_consent_granted",
            )
        ]

    def __str__(self) -> str:
        state = "granted" if self.granted else "withdrawn"
        return f"{self.get_channel_display()} {state}"


class Segment(models.Model):
    """Saved rules over player data (crm/segments.py), evaluated in the database."""

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, related_name="+"
    )
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    rules = models.JSONField(default=dict, blank=True)
    member_count = models.PositiveIntegerField(default=0, editable=False)
    refreshed_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "name"], name="crm_segment_name_unique_per_tenant"
            )
        ]

    def __str__(self) -> str:
        return self.name


class SegmentMembership(models.Model):
    """Who was in a segment at its last refresh (crm_refresh_segments)."""

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, related_name="+"
    )
    segment = models.ForeignKey(
        Segment, on_delete=models.CASCADE, related_name="memberships"
    )
    player = models.ForeignKey(
        "casino.Player", on_delete=models.CASCADE, related_name="crm_segments"
    )
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["segment", "player"], name="crm_segment_member_once"
            )
        ]
        indexes = [models.Index(fields=["player"], name="crm_membership_player")]

    def __str__(self) -> str:
        return f"player {self.player_id} in {self.segment_id}"


class Campaign(models.Model):
    """An e-mail to a segment. Subject and body are Django templates with the
    player's placeholders ({{ player.display_name }}, {{ player.email }}, ...)."""

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, related_name="+"
    )
    name = models.CharField(max_length=100)
    segment = models.ForeignKey(
        Segment, on_delete=models.PROTECT, related_name="campaigns"
    )
    subject_template = models.CharField(max_length=200)
    body_template = models.TextField()
    from_email = models.EmailField(
        blank=True, help_text="Empty: DEFAULT_FROM_EMAIL of the deployment."
    )
    created_by = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    last_run_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.name


class CampaignSend(models.Model):
    """One player's outcome of a campaign; unique per (campaign, player), so a rerun
    claims only players without a sent or in-flight row: nobody is e-mailed twice.

    ``sending`` is claimed and committed before the e-mail leaves; a crash between
    the claim and ``sent`` leaves it ``sending``, and a rerun does not guess (at most
    once, never twice)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Queued"
        SENDING = "sending", "Claimed, e-mail leaving"
        SENT = "sent", "Sent"
        SKIPPED_NO_CONSENT = "skipped_no_consent", "Skipped: no e-mail consent"
        SKIPPED_EXCLUDED = "skipped_excluded", "Skipped: player excluded"
        FAILED = "failed", "Failed (will be retried by a rerun)"

    #: A rerun looks at these again (consent may have been given since, a failure
    #: may have been transient).
    RETRYABLE = (
        Status.PENDING,
        Status.SKIPPED_NO_CONSENT,
        Status.SKIPPED_EXCLUDED,
        Status.FAILED,
    )

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, related_name="+"
    )
    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, related_name="sends"
    )
    player = models.ForeignKey(
        "casino.Player", on_delete=models.CASCADE, related_name="+"
    )
    status = models.CharField(max_length=24, choices=Status.choices)
    email = models.EmailField(max_length=254)
    error = models.CharField(max_length=255, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "player"], name="crm_campaign_send_once"
            )
        ]
        indexes = [
            models.Index(
                fields=["player", "-updated_at", "-id"], name="crm_send_timeline"
            ),
            models.Index(fields=["campaign", "status"], name="crm_send_status"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} → player {self.player_id}: {self.status}"

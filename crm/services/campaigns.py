"""Campaign e-mail to a segment, streamed in batches, at most once per player.

Each batch runs in three steps: (1) in one transaction, insert a ``pending`` row per
player not yet recorded and lock the rows this run may act on (SKIP LOCKED, so two
concurrent runs split the players instead of both mailing them), decide each one
(consent, exclusion) and mark those to mail ``sending``; commit. (2) Outside any
transaction, render and hand the e-mails to Django's e-mail backend over one
connection. (3) Record ``sent`` or ``failed``. A crash after (1) leaves rows
``sending``: a rerun does not mail them again (never twice beats maybe twice)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail import EmailMessage, mailers
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.template import Context, Engine, TemplateSyntaxError

from audit.services import audit_record
from casino.models import Player
from common import clock
from common.actors import Actor
from common.errors import ValidationFailed
from crm.exceptions import CampaignTemplateInvalid
from crm.models import Campaign, CampaignSend, Consent, Segment
from crm.segments import excluded_q, segment_player_queryset, segment_rules_parse

Status = CampaignSend.Status

#: A template engine with no loaders and no extra libraries: a campaign template
#: can use variables and the built-in filters, nothing that reads files.
_ENGINE = Engine(autoescape=False, libraries={}, loaders=[])


@dataclass
class CampaignRunResult:
    campaign_id: int
    counts: Counter = field(default_factory=Counter)

    @property
    def sent(self) -> int:
        return self.counts[Status.SENT]


def campaign_templates_compile(subject: str, body: str):
    try:
        return _ENGINE.from_string(subject), _ENGINE.from_string(body)
    except TemplateSyntaxError as exc:
        raise CampaignTemplateInvalid(str(exc), details={"error": str(exc)}) from exc


def player_placeholders(player: Player, brand: str) -> dict:
    """What a template may use: plain values, never the model (no method calls)."""
    return {
        "player": {
            "id": player.pk,
            "email": player.email,
            "display_name": player.display_name or player.email.split("@")[0],
            "country": player.country,
        },
        "brand": brand,
    }


def campaign_create(
    *,
    actor: Actor,
    segment: Segment,
    name: str,
    subject_template: str,
    body_template: str,
    from_email: str = "",
) -> Campaign:
    name = name.strip()
    if not name or not subject_template.strip() or not body_template.strip():
        raise ValidationFailed(
            details={"fields": {"name/subject/body": ["all three are required"]}}
        )
    campaign_templates_compile(subject_template, body_template)
    with transaction.atomic(savepoint=False):
        campaign = Campaign.objects.create(
            tenant_id=segment.tenant_id,
            segment=segment,
            name=name,
            subject_template=subject_template,
            body_template=body_template,
            from_email=from_email,
            created_by=actor.label,
        )
        audit_record(
            actor=actor,
            action="crm.campaign_created",
            tenant_id=segment.tenant_id,
            target=campaign,
            after={"name": name, "segment_id": segment.pk},
        )
    return campaign


def _claim(campaign: Campaign, player_ids: list[int]) -> list[CampaignSend]:
    """Step 1 of a batch (its own transaction): the rows to mail, marked sending."""
    now = clock.now()
    with transaction.atomic(durable=True):
        players = {
            p.pk: p
            for p in Player.objects.filter(pk__in=player_ids).annotate(
                consented=Exists(
                    Consent.objects.filter(
                        player_id=OuterRef("pk"),
                        channel=Consent.Channel.EMAIL,
                        granted=True,
                    )
                ),
                excluded=Exists(Player.objects.filter(excluded_q(), pk=OuterRef("pk"))),
            )
        }
        CampaignSend.objects.bulk_create(
            [
                CampaignSend(
                    tenant_id=campaign.tenant_id,
                    campaign=campaign,
                    player_id=pk,
                    status=Status.PENDING,
                    email=players[pk].email,
                    updated_at=now,
                )
                for pk in player_ids
                if pk in players
            ],
            ignore_conflicts=True,
        )
        rows = list(
            CampaignSend.objects.select_for_update(skip_locked=True)
            .filter(
                campaign=campaign,
                player_id__in=player_ids,
                status__in=CampaignSend.RETRYABLE,
            )
            .order_by("pk")
        )
        for row in rows:
            player = players[row.player_id]
            row.email = player.email
            row.error = ""
            row.updated_at = now
            if player.excluded:
                row.status = Status.SKIPPED_EXCLUDED
            elif not player.consented:
                row.status = Status.SKIPPED_NO_CONSENT
            else:
                row.status = Status.SENDING
            row.player = player
        CampaignSend.objects.bulk_update(
            rows, ["status", "email", "error", "updated_at"]
        )
    return rows


def campaign_send(
    *,
    actor: Actor,
    campaign: Campaign,
    batch_size: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> CampaignRunResult:
    """Mail the campaign to its segment's current matching players (the rules are
    evaluated in the database at run time, in batches of player ids), respecting
    e-mail consent and exclusions. Safe to rerun: nobody is mailed twice.

    Runs its own short transactions, one per step of a batch, so it must not be
    called inside a transaction (``durable=True`` refuses that)."""
    subject_tpl, body_tpl = campaign_templates_compile(
        campaign.subject_template, campaign.body_template
    )
    spec = segment_rules_parse(campaign.segment.rules)
    size = batch_size or settings.CRM_CAMPAIGN_BATCH_SIZE
    brand = campaign.tenant.name
    from_email = campaign.from_email or settings.DEFAULT_FROM_EMAIL
    result = CampaignRunResult(campaign.pk)
    ids = (
        segment_player_queryset(tenant=campaign.tenant, spec=spec)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    before = CampaignSend.objects.filter(campaign=campaign).exclude(
        status__in=CampaignSend.RETRYABLE
    )
    already = before.count()
    last = 0
    mailer = mailers.default
    while True:
        batch = list(ids.filter(pk__gt=last)[:size])
        if not batch:
            break
        last = batch[-1]
        rows = _claim(campaign, batch)
        outcome = []
        with mailer:  # one connection per batch
            for row in rows:
                if row.status != Status.SENDING:
                    result.counts[row.status] += 1
                    continue
                context = Context(player_placeholders(row.player, brand))
                message = EmailMessage(
                    subject=" ".join(subject_tpl.render(context).split()),
                    body=body_tpl.render(context),
                    from_email=from_email,
                    to=[row.email],
                )
                try:
                    if mailer.send_messages([message]) != 1:
                        raise RuntimeError("the e-mail backend did not accept it")
                except Exception as exc:  # noqa: BLE001  (any backend failure)
                    row.status, row.error = Status.FAILED, str(exc)[:255]
                else:
                    row.status = Status.SENT
                row.updated_at = clock.now()
                outcome.append(row)
                result.counts[row.status] += 1
        with transaction.atomic(durable=True):
            CampaignSend.objects.bulk_update(outcome, ["status", "error", "updated_at"])
        if progress is not None:
            progress(len(batch))
    result.counts["already_done"] = already
    with transaction.atomic(durable=True):
        Campaign.objects.filter(pk=campaign.pk).update(last_run_at=clock.now())
        audit_record(
            actor=actor,
            action="crm.campaign_sent",
            tenant_id=campaign.tenant_id,
            target=campaign,
            after={key: int(value) for key, value in result.counts.items()},
        )
    return result

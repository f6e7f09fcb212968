"""prune_webhook_inbox deletes only deliveries rejected for their signature, and only
past the retention period."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from audit.models import AuditEvent
from payments.exceptions import WebhookSignatureInvalid
from payments.models import WebhookInbox
from payments.webhooks.services import webhook_receive
from tests.factories import PlayerFactory
from tests.payments.factories import PSPConfigFactory, payment_rows

pytestmark = pytest.mark.django_db


def rejected_delivery(config, *, days_ago: int) -> WebhookInbox:
    with pytest.raises(WebhookSignatureInvalid):
        webhook_receive(
            config=config,
            body=b'{"id": "evt_forged"}',
            headers={"Stripe-Signature": "x"},
        )
    inbox = WebhookInbox.objects.filter(config=config).latest("id")
    WebhookInbox.objects.filter(pk=inbox.pk).update(
        received_at=timezone.now() - timedelta(days=days_ago)
    )
    return inbox


def test_old_rejected_deliveries_are_deleted_and_the_rest_kept(capsys):
    player = PlayerFactory()
    config, _ = payment_rows(player.tenant, player)  # one verified delivery
    WebhookInbox.objects.update(received_at=timezone.now() - timedelta(days=90))
    old = rejected_delivery(config, days_ago=40)
    recent = rejected_delivery(config, days_ago=5)

    call_command("prune_webhook_inbox", "--older-than-days", "30")

    remaining = set(WebhookInbox.objects.values_list("pk", flat=True))
    assert old.pk not in remaining
    assert recent.pk in remaining
    assert WebhookInbox.objects.exclude(status="rejected").count() == 1  # verified
    event = AuditEvent.objects.get(action="webhook_inbox.pruned")
    assert (event.tenant_id, event.after["deleted"]) == (player.tenant_id, 1)
    assert "deleted 1 rejected deliveries" in capsys.readouterr().out


def test_dry_run_deletes_nothing(capsys):
    config = PSPConfigFactory()
    old = rejected_delivery(config, days_ago=40)

    call_command("prune_webhook_inbox", "--dry-run")

    assert WebhookInbox.objects.filter(pk=old.pk).exists()
    assert "would delete 1" in capsys.readouterr().out


def test_tenant_option_prunes_only_that_tenant():
    mine, other = PSPConfigFactory(), PSPConfigFactory()
    rejected_delivery(mine, days_ago=40)
    theirs = rejected_delivery(other, days_ago=40)

    call_command("prune_webhook_inbox", "--tenant", mine.tenant.slug)

    assert not WebhookInbox.objects.filter(config=mine).exists()
    assert WebhookInbox.objects.filter(pk=theirs.pk).exists()

from django.core.management.base import BaseCommand

from common.demo_guard import demo_seed_refused_without_debug
from payments.demo import OPERATOR_PASSWORD, PLAYER_PASSWORD, seed_withdrawals_demo


class Command(BaseCommand):
    help = (
        "Create (idempotently) a verified player with a withdrawal waiting in the "
        "admin's review queue, and a low retry policy to demonstrate TENANT-POLICY-002."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--tenant", default="demo", help="Brand slug (default demo)"
        )

    def handle(self, *args, tenant, **options):
        demo_seed_refused_without_debug("seed_withdrawals_demo")
        demo = seed_withdrawals_demo(tenant_slug=tenant)
        withdrawal = demo.withdrawal
        self.stdout.write(
            self.style.SUCCESS(
                f"Withdrawal #{withdrawal.pk} ({withdrawal.state}) of "
                f"{demo.player.email} on brand {demo.tenant.slug}"
            )
        )
        self.stdout.write(
            f"  Operator: {demo.operator_username} / {OPERATOR_PASSWORD} "
            f"→ /admin/wallet/withdrawal/{withdrawal.pk}/change/\n"
            f"  Player:   {demo.player.email} / {PLAYER_PASSWORD}\n"
            "  Policy:   2 payout retries, 5 s cooldown: approve, mark failed, retry "
            "until PAYMENT_RETRY_LIMIT_EXCEEDED."
        )

"""Give every brand a simulator-mode Stripe config so a local deposit works end to
end in a browser. Creates a "demo" brand when there is none. Refuses to run unless
PAYMENTS_SIMULATOR_ENABLED is true (``make run`` sets it)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from common.actors import Actor
from common.demo_guard import demo_seed_refused_without_debug
from payments.config.services import psp_config_ensure_simulated
from tenants.models import Tenant
from tenants.services import tenant_create


class Command(BaseCommand):
    help = "Simulator-mode Stripe configs for every brand (local demos only)."

    def handle(self, *args, **options):
        demo_seed_refused_without_debug("seed_payments_demo")
        if not settings.PAYMENTS_SIMULATOR_ENABLED:
            raise CommandError(
                "PAYMENTS_SIMULATOR_ENABLED is false: this command only makes "
                "simulator configs. Configure real PSP credentials in the admin."
            )
        with transaction.atomic(durable=True):
            if not Tenant.objects.exists():
                tenant_create(
                    actor=Actor.system("seed_payments_demo"),
                    slug="demo",
                    name="Demo Casino",
                    default_currency="EUR",
                    allowed_currencies=["EUR", "USD"],
                    domains=["localhost"],
                )
            for tenant in Tenant.objects.order_by("pk"):
                config = psp_config_ensure_simulated(tenant=tenant)
                self.stdout.write(
                    f"{tenant.slug}: stripe (simulator) endpoint "
                    f"/api/v1/webhooks/stripe/{config.endpoint_id}/ — portal "
                    f"http://127.0.0.1:8000/login/?tenant={tenant.slug}"
                )

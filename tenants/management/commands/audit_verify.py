"""Verify the audit trail's hash chains.

    python manage.py audit_verify [--tenant SLUG | --tenant platform]

Walks each chain in sequence order with a progress bar, recomputing every hash
(``audit.verification.audit_chain_verify``), prints each chain's head (seq and hash:
record it elsewhere to detect a truncated tail later) or its first broken link, and
exits with status 1 when any chain is broken.

Events are sealed into their chain after commit; the ones still waiting are not
verified yet. Their number and the oldest one's age are printed as a warning; the
command fails when that age exceeds ``AUDIT_SEAL_MAX_LAG_SECONDS`` (the sealer is
not running).
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from audit.verification import (
    audit_chain_head_check,
    audit_chain_length,
    audit_chain_verify,
)
from tenants.management.commands._audit import PLATFORM, audit_chains


class Command(BaseCommand):
    help = "Walk the audit hash chain(s) and report the first broken link."

    def add_arguments(self, parser):
        parser.add_argument(
            "--tenant",
            metavar="SLUG",
            help=f"Only this tenant's chain ('{PLATFORM}': events without a "
            "tenant). Default: every chain.",
        )
        parser.add_argument(
            "--expect-head",
            metavar="SEQ:HASH",
            help="A head printed by an earlier run (with --tenant): it must still "
            "be in the chain, else the chain was cut off or rewritten.",
        )
        parser.add_argument(
            "--no-progress", action="store_true", help="No progress bar."
        )

    def handle(self, *args, **options):
        expected = _head(options["expect_head"], tenant=options["tenant"])
        broken = []
        lagging = []
        max_lag = settings.AUDIT_SEAL_MAX_LAG_SECONDS
        for label, tenant in audit_chains(options["tenant"]):
            tenant_id = tenant.pk if tenant is not None else None
            with tqdm(
                total=audit_chain_length(tenant_id=tenant_id),
                desc=label,
                unit="event",
                disable=options["no_progress"],
                file=self.stderr,
            ) as bar:
                report = audit_chain_verify(tenant=tenant, progress=bar.update)
            problem = (
                audit_chain_head_check(tenant=tenant, seq=expected[0], hash=expected[1])
                if report.ok and expected
                else None
            )
            if problem:
                broken.append(label)
                self.stdout.write(f"{label}: BROKEN {problem}")
            elif report.ok:
                self.stdout.write(
                    f"{label}: OK, {report.events_checked} events from seq "
                    f"{report.start_seq + 1}; head seq {report.head_seq} "
                    f"hash {report.head_hash}"
                )
            else:
                broken.append(label)
                self.stdout.write(
                    f"{label}: BROKEN {report.broken.describe()} "
                    f"({report.events_checked} events verified before it)"
                )
            if report.unsealed:
                age = report.unsealed_age_seconds()
                self.stderr.write(
                    f"{label}: WARNING {report.unsealed} events not sealed yet "
                    f"(not verified); the oldest is {age:.0f} s old"
                )
                if age > max_lag:
                    lagging.append(label)
        problems = []
        if broken:
            problems.append(f"audit chain broken: {', '.join(broken)}")
        if lagging:
            problems.append(
                f"events unsealed for more than {max_lag} s (is `audit_seal` "
                f"running?): {', '.join(lagging)}"
            )
        if problems:
            raise CommandError("; ".join(problems))


def _head(value: str | None, *, tenant: str | None) -> tuple[int, str] | None:
    if value is None:
        return None
    if not tenant:
        raise CommandError(
            "--expect-head needs --tenant (a head belongs to one chain)."
        )
    seq, _, digest = value.partition(":")
    if not seq.isdigit() or len(digest) != 64:
        raise CommandError("--expect-head is SEQ:HASH, e.g. 1234:9f86d0...")
    return int(seq), digest.lower()

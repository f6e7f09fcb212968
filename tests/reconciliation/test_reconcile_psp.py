"""``reconcile_psp``: every finding code from a crafted discrepancy, none on clean
data, the same file twice changes nothing, fees booked once, tenants kept apart."""

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from common.actors import Actor
from payments.exceptions import SettlementFileInvalid
from reconciliation.models import SettlementImport
from reconciliation.settlement.importing import settlement_import
from tests.factories import PlayerFactory
from tests.payments.factories import PSPConfigFactory, pending_deposit
from tests.reconciliation.factories import (
    adyen_file,
    adyen_line,
    completed_deposit,
    refund_row,
    stripe_charge,
    stripe_file,
    stripe_line,
)
from wallet.models import Account, Finding, JournalTransaction
from wallet.selectors import account_balance

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("tests")


@pytest.fixture
def brand():
    return PSPConfigFactory().tenant


@pytest.fixture
def player(brand):
    return PlayerFactory(tenant=brand)


def run(tenant, data: bytes, provider="stripe"):
    return settlement_import(
        tenant_id=tenant.pk,
        provider=provider,
        stream=io.BytesIO(data),
        file_name="report.csv",
        actor=ACTOR,
    )


def codes(tenant) -> list[str]:
    return sorted(Finding.objects.filter(tenant=tenant).values_list("code", flat=True))


def clean_stripe_file(player):
    first, second = completed_deposit(player, 5000), completed_deposit(player, 2500)
    refund = refund_row(first, 1000)
    lines = [
        stripe_charge(first, fee=175),
        stripe_charge(second, fee=100),
        stripe_line(
            "refund",
            gross=-1000,
            pi=first.payment_reference,
            source=refund.provider_reference,
        ),
    ]
    batch_net = sum(int(float(line["net"]) * 100) for line in lines)
    lines.append(stripe_line("payout", gross=-batch_net, source="po_1", payout=""))
    return stripe_file(lines)


def test_a_clean_stripe_report_has_no_findings_and_books_its_fees(brand, player):
    result = run(brand, clean_stripe_file(player))

    record = result.settlement_import
    assert codes(brand) == []
    assert record.status == SettlementImport.Status.COMPLETED
    assert record.rows == 4
    assert len(record.file_sha256) == 64
    assert record.summary["fees_posted_minor"] == {"EUR": 275}
    fees = Account.objects.get(tenant=brand, kind=Account.Kind.FEES, provider="stripe")
    assert account_balance(account=fees) == -275


def test_importing_the_same_file_twice_changes_nothing(brand, player):
    data = clean_stripe_file(player)
    data = data.replace(b"eur,50.00", b"eur,51.00")  # one amount mismatch
    run(brand, data)
    findings = list(Finding.objects.values_list("pk", "times_seen"))
    postings = JournalTransaction.objects.filter(kind="psp_fee").count()

    again = run(brand, data)

    assert again.duplicate
    assert again.settlement_import.status == SettlementImport.Status.DUPLICATE
    assert list(Finding.objects.values_list("pk", "times_seen")) == findings
    assert JournalTransaction.objects.filter(kind="psp_fee").count() == postings == 1


def test_a_payment_we_do_not_have_is_missing_in_ledger(brand, player):
    line = stripe_line("charge", gross=700, pi="pi_unknown_1")

    run(brand, stripe_file([line]))

    finding = Finding.objects.get(code="missing_in_ledger")
    assert finding.object_ref == "pi_unknown_1"
    assert finding.severity == "critical"


def test_another_amount_at_the_psp_is_an_amount_mismatch(brand, player):
    deposit = completed_deposit(player, 5000)

    run(brand, stripe_file([stripe_charge(deposit, gross=4900)]))

    finding = Finding.objects.get(code="amount_mismatch")
    assert finding.object_ref == str(deposit.pk)
    assert finding.details["ours"] == 5000
    assert finding.details["psp_amount_minor"] == 4900


def test_another_currency_at_the_psp_is_a_currency_mismatch(brand, player):
    deposit = completed_deposit(player, 5000)
    line = stripe_charge(deposit)
    line["currency"] = "gbp"

    run(brand, stripe_file([line]))

    assert codes(brand) == ["currency_mismatch"]


def test_a_settled_payment_we_never_completed_is_a_status_mismatch(brand, player):
    deposit = pending_deposit(player, 5000)
    from wallet.models import Deposit

    Deposit.objects.filter(pk=deposit.pk).update(payment_reference="pi_pending_1")
    line = stripe_line("charge", gross=5000, pi="pi_pending_1")

    run(brand, stripe_file([line]))

    assert codes(brand) == ["status_mismatch"]


def test_a_completed_deposit_absent_from_the_report_is_missing_at_the_psp(
    brand, player
):
    listed, absent = completed_deposit(player, 5000), completed_deposit(player, 900)
    lines = [
        stripe_charge(listed, minutes=-5),
        stripe_charge(listed, minutes=5, fee=0) | {"payment_intent_id": "pi_other"},
    ]
    lines[1]["gross"] = lines[1]["net"] = "0.01"

    run(brand, stripe_file(lines))

    finding = Finding.objects.get(code="missing_at_psp")
    assert finding.object_ref == str(absent.pk)


def test_a_chargeback_we_did_not_book_is_a_status_mismatch(brand, player):
    deposit = completed_deposit(player, 5000)
    line = stripe_line("dispute", gross=-5000, fee=1500, pi=deposit.payment_reference)

    run(brand, stripe_file([line]))

    assert codes(brand) == ["status_mismatch"]


def test_a_refund_we_do_not_have_is_missing_in_ledger(brand, player):
    deposit = completed_deposit(player, 5000)
    line = stripe_line(
        "refund", gross=-500, pi=deposit.payment_reference, source="re_unknown"
    )

    run(brand, stripe_file([line]))

    assert Finding.objects.get(code="missing_in_ledger").object_ref == "re_unknown"


def test_fees_reported_differently_for_a_booked_batch_are_a_fee_mismatch(brand, player):
    deposit = completed_deposit(player, 5000)
    run(brand, stripe_file([stripe_charge(deposit, fee=175)]))

    run(brand, stripe_file([stripe_charge(deposit, fee=180)]))

    finding = Finding.objects.get(code="fee_mismatch")
    assert finding.details["reported_minor"] == 180
    assert JournalTransaction.objects.filter(kind="psp_fee").count() == 1


def test_a_payout_that_is_not_its_lines_total_is_a_batch_mismatch(brand, player):
    deposit = completed_deposit(player, 5000)
    lines = [
        stripe_charge(deposit, fee=175),
        stripe_line("payout", gross=-4000, source="po_1", payout=""),
    ]

    run(brand, stripe_file(lines))

    finding = Finding.objects.get(code="payout_batch_mismatch")
    assert finding.details["lines_net_minor"] == 4825
    assert finding.details["payout_minor"] == 4000


def test_a_line_of_a_kind_we_do_not_match_is_reported(brand, player):
    run(brand, stripe_file([stripe_line("transfer", gross=-100)]))

    assert codes(brand) == ["unknown_record_type"]


def test_another_brands_deposit_does_not_match(brand, player):
    other = PSPConfigFactory().tenant
    deposit = completed_deposit(PlayerFactory(tenant=other), 5000)

    run(brand, stripe_file([stripe_charge(deposit)]))

    assert codes(brand) == ["missing_in_ledger"]
    assert codes(other) == []
    assert not SettlementImport.objects.filter(tenant=other).exists()


def test_a_file_without_the_reports_columns_is_refused_and_recorded(brand):
    with pytest.raises(SettlementFileInvalid) as caught:
        run(brand, b"id,amount\n1,2\n")

    assert caught.value.details["missing_columns"]
    assert SettlementImport.objects.get().status == SettlementImport.Status.FAILED


def test_a_clean_adyen_report_has_no_findings_and_books_its_costs(player):
    brand = player.tenant
    deposit = completed_deposit(player, 5000, provider="adyen")
    lines = [
        adyen_line(
            "Settled",
            psp=deposit.payment_reference,
            merchant=f"deposit:{deposit.pk}",
            gross_credit="50.00",
            net_credit="49.88",
            markup="0.04",
            scheme="0.01",
            interchange="0.07",
        ),
        adyen_line("Fee", net_debit="0.50"),
        adyen_line("MerchantPayout", net_debit="49.38"),
    ]

    result = run(brand, adyen_file(lines), provider="adyen")

    assert codes(brand) == []
    assert result.settlement_import.summary["fees_posted_minor"] == {"EUR": 62}


def test_adyen_amounts_use_adyens_currency_exponents(player):
    brand = player.tenant
    deposit = completed_deposit(player, 1500, currency="CLP", provider="adyen")
    lines = [
        adyen_line(
            "Settled",
            psp=deposit.payment_reference,
            currency="CLP",
            gross_credit="1500.00",
            net_credit="1500.00",
        )
    ]

    run(brand, adyen_file(lines), provider="adyen")

    assert codes(brand) == []


def test_adyen_chargeback_and_payout_mismatch(player):
    brand = player.tenant
    deposit = completed_deposit(player, 5000, provider="adyen")
    lines = [
        adyen_line("Chargeback", psp=deposit.payment_reference, net_debit="50.00"),
        adyen_line("MerchantPayout", net_debit="10.00"),
    ]

    run(brand, adyen_file(lines), provider="adyen")

    assert codes(brand) == ["payout_batch_mismatch", "status_mismatch"]


def test_the_command_exits_non_zero_on_a_critical_finding(brand, tmp_path: Path):
    path = tmp_path / "stripe.csv"
    path.write_bytes(stripe_file([stripe_line("charge", gross=700, pi="pi_x")]))

    with pytest.raises(CommandError, match="Critical"):
        call_command(
            "reconcile_psp",
            "--provider",
            "stripe",
            "--file",
            str(path),
            "--tenant",
            brand.slug,
            "--no-progress",
            stdout=io.StringIO(),
        )


def test_the_command_reports_rows_and_speed_on_clean_data(brand, player, tmp_path):
    path = tmp_path / "stripe.csv"
    path.write_bytes(clean_stripe_file(player))
    out = io.StringIO()

    call_command(
        "reconcile_psp",
        "--provider",
        "stripe",
        "--file",
        str(path),
        "--tenant",
        brand.slug,
        "--no-progress",
        stdout=out,
    )

    assert "Imported 4 rows" in out.getvalue()
    assert "0 new finding(s)" in out.getvalue()

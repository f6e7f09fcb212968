"""The settlement inbox folder sweep and the admin upload form run the same import."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from reconciliation.models import SettlementImport
from tests.factories import OperatorFactory, PlayerFactory
from tests.payments.factories import PSPConfigFactory
from tests.reconciliation.factories import completed_deposit, stripe_charge, stripe_file
from wallet.models import Finding

pytestmark = pytest.mark.django_db


@pytest.fixture
def brand():
    return PSPConfigFactory().tenant


def test_the_inbox_sweep_imports_and_moves_each_file(brand, tmp_path):
    deposit = completed_deposit(PlayerFactory(tenant=brand), 5_000)
    folder = tmp_path / brand.slug / "stripe"
    folder.mkdir(parents=True)
    (folder / "payouts-1.csv").write_bytes(stripe_file([stripe_charge(deposit)]))
    (folder / "broken.csv").write_bytes(b"not,a,stripe,report\n")
    out = io.StringIO()

    with pytest.raises(CommandError, match="could not be imported"):
        call_command("reconcile_psp_inbox", "--dir", str(tmp_path), stdout=out)

    assert (folder / "done" / "payouts-1.csv").exists()
    assert (folder / "failed" / "broken.csv").exists()
    assert "IMPORTED" in out.getvalue()
    assert (
        SettlementImport.objects.filter(
            tenant=brand, status=SettlementImport.Status.COMPLETED
        ).count()
        == 1
    )


def test_an_operator_uploads_a_report_in_the_admin(client, brand):
    deposit = completed_deposit(PlayerFactory(tenant=brand), 5_000)
    client.force_login(OperatorFactory(tenants=[brand]))
    data = stripe_file([stripe_charge(deposit, gross=4_000)])
    url = reverse("admin:reconciliation_settlementimport_upload")

    response = client.post(
        url,
        {
            "tenant": brand.pk,
            "provider": "stripe",
            "file": SimpleUploadedFile("report.csv", data, "text/csv"),
        },
    )
    again = client.post(
        url,
        {
            "tenant": brand.pk,
            "provider": "stripe",
            "file": SimpleUploadedFile("report.csv", data, "text/csv"),
        },
    )

    assert response.status_code == 302
    assert again.status_code == 302
    assert Finding.objects.get(tenant=brand).code == "amount_mismatch"
    assert list(
        SettlementImport.objects.order_by("id").values_list("status", flat=True)
    ) == ["completed", "duplicate"]


def test_an_operator_cannot_upload_for_another_brand(client, brand):
    other = PSPConfigFactory().tenant
    client.force_login(OperatorFactory(tenants=[other]))

    response = client.post(
        reverse("admin:reconciliation_settlementimport_upload"),
        {
            "tenant": brand.pk,
            "provider": "stripe",
            "file": SimpleUploadedFile("r.csv", b"x", "text/csv"),
        },
    )

    assert response.status_code == 200
    assert "tenant" in response.context["form"].errors
    assert not SettlementImport.objects.exists()

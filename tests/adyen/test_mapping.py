import pytest

from common.currency import ISO_EXPONENTS, UnknownCurrency
from payments.exceptions import ProviderAmountNotExpressible
from payments.providers.adyen.mapping import (
    ADYEN_EXPONENTS,
    adyen_amount,
    adyen_exponent,
    from_adyen_minor,
    to_adyen_minor,
)


def test_adyen_table_covers_exactly_the_iso_currencies_we_support():
    assert set(ADYEN_EXPONENTS) == set(ISO_EXPONENTS)


def test_adyen_exponents_that_differ_from_iso():
    assert {c: adyen_exponent(c) for c in ("CLP", "ISK", "IDR", "CVE")} == {
        "CLP": 2,
        "ISK": 2,
        "IDR": 0,
        "CVE": 0,
    }
    assert {c: ISO_EXPONENTS[c] for c in ("CLP", "ISK", "IDR", "CVE")} == {
        "CLP": 0,
        "ISK": 0,
        "IDR": 2,
        "CVE": 2,
    }


def test_jpy_has_no_decimals_on_both_sides():
    assert to_adyen_minor(1500, "JPY") == 1500
    assert from_adyen_minor(1500, "JPY") == 1500


def test_kwd_has_three_decimals_on_both_sides():
    assert adyen_amount(12_345, "KWD") == {"currency": "KWD", "value": 12_345}
    assert from_adyen_minor(12_345, "KWD") == 12_345
    assert {c: adyen_exponent(c) for c in ("BHD", "OMR", "JOD", "TND")} == {
        "BHD": 3,
        "OMR": 3,
        "JOD": 3,
        "TND": 3,
    }


def test_clp_gains_two_zeros_at_adyen():
    assert to_adyen_minor(5_000, "CLP") == 500_000
    assert from_adyen_minor(500_000, "CLP") == 5_000


def test_clp_with_centavos_from_adyen_is_refused_not_rounded():
    with pytest.raises(ProviderAmountNotExpressible) as caught:
        from_adyen_minor(500_050, "CLP")
    assert caught.value.details["currency"] == "CLP"


def test_isk_gains_two_zeros_at_adyen():
    assert to_adyen_minor(1_990, "ISK") == 199_000
    assert from_adyen_minor(199_000, "ISK") == 1_990


def test_idr_whole_rupiah_lose_the_iso_cents():
    assert to_adyen_minor(1_500_000, "IDR") == 15_000
    assert from_adyen_minor(15_000, "IDR") == 1_500_000


def test_idr_with_cents_cannot_be_sent_to_adyen():
    with pytest.raises(ProviderAmountNotExpressible) as caught:
        to_adyen_minor(1_500_050, "IDR")
    assert caught.value.code == "PROVIDER_AMOUNT_NOT_EXPRESSIBLE"
    assert caught.value.http_status == 422
    assert caught.value.details == {
        "currency": "IDR",
        "amount_minor": 1_500_050,
        "provider": "adyen",
        "direction": "at Adyen",
    }


def test_cve_with_centavos_cannot_be_sent_to_adyen():
    with pytest.raises(ProviderAmountNotExpressible):
        to_adyen_minor(101, "CVE")


def test_eur_is_unchanged():
    assert adyen_amount(5_000, "EUR") == {"currency": "EUR", "value": 5_000}


def test_unknown_currency_is_refused():
    with pytest.raises(UnknownCurrency):
        to_adyen_minor(100, "XYZ")

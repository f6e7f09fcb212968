"""Adyen's minor units, and conversion to and from ours.

Our amounts are integers in ISO-4217 minor units (``common.currency.ISO_EXPONENTS``).
Adyen uses its own exponent for a few currencies
(https://docs.adyen.com/development-resources/currency-codes): CLP and ISK have 2
decimals at Adyen but 0 in ISO; IDR and CVE have 0 at Adyen but 2 in ISO. Every
currency we support is listed here on purpose, so adding a currency to the ISO table
forces a decision about Adyen (a test checks that both tables cover the same codes).
"""

from __future__ import annotations

from common.currency import ISO_EXPONENTS, UnknownCurrency
from payments.exceptions import ProviderAmountNotExpressible

PROVIDER = "adyen"

ADYEN_EXPONENTS: dict[str, int] = {
    **{code: 2 for code in ISO_EXPONENTS},
    # Differ from ISO-4217:
    "CLP": 2,
    "ISK": 2,
    "IDR": 0,
    "CVE": 0,
    # Same as ISO, listed so the table reads whole:
    "JPY": 0,
    "KRW": 0,
    "VND": 0,
    "UGX": 0,
    "XAF": 0,
    "XOF": 0,
    "PYG": 0,
    "KWD": 3,
    "BHD": 3,
    "OMR": 3,
    "JOD": 3,
    "TND": 3,
    "IQD": 3,
    "LYD": 3,
}


def adyen_exponent(currency: str) -> int:
    try:
        return ADYEN_EXPONENTS[currency]
    except KeyError:
        raise UnknownCurrency(
            f"Currency {currency!r} is not supported by Adyen here.",
            details={"currency": currency, "provider": PROVIDER},
        ) from None


def _iso_exponent(currency: str) -> int:
    try:
        return ISO_EXPONENTS[currency]
    except KeyError:
        raise UnknownCurrency(
            f"Currency {currency!r} is not supported.", details={"currency": currency}
        ) from None


def _rescale(value: int, *, currency: str, shift: int, direction: str) -> int:
    """Multiply by 10**shift (shift may be negative). A division that would drop
    digits is refused rather than rounded: money is never silently lost."""
    if shift >= 0:
        return value * 10**shift
    divisor = 10**-shift
    quotient, remainder = divmod(value, divisor)
    if remainder:
        raise ProviderAmountNotExpressible(
            f"{currency} has fewer decimals {direction}; {value} minor units "
            "cannot be expressed without rounding.",
            details={
                "currency": currency,
                "amount_minor": value,
                "provider": PROVIDER,
                "direction": direction,
            },
        )
    return quotient


def to_adyen_minor(amount_minor: int, currency: str) -> int:
    """ISO minor units → Adyen minor units (``value`` in Adyen's ``Amount``).

    ``12_345 IDR`` (123.45 rupiah) is refused because Adyen has no IDR cents;
    ``5 CLP`` becomes ``500``."""
    shift = adyen_exponent(currency) - _iso_exponent(currency)
    return _rescale(amount_minor, currency=currency, shift=shift, direction="at Adyen")


def from_adyen_minor(value: int, currency: str) -> int:
    """Adyen minor units → ISO minor units. ``500 CLP`` at Adyen is ``5`` CLP; ``550``
    (5.50 CLP, which ISO cannot express) is refused."""
    shift = _iso_exponent(currency) - adyen_exponent(currency)
    return _rescale(value, currency=currency, shift=shift, direction="in ISO-4217")


def adyen_amount(amount_minor: int, currency: str) -> dict[str, int | str]:
    """Our amount as Adyen's ``Amount`` object."""
    return {"currency": currency, "value": to_adyen_minor(amount_minor, currency)}

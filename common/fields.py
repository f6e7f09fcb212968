"""Input fields shared by the API serializers and the portal's forms."""

from __future__ import annotations

from django import forms
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from common.currency import ISO_EXPONENTS
from common.text import is_ascii_amount

_NOT_ASCII = "Write the amount with the digits 0-9 and a '.' only."


class AmountField(serializers.DecimalField):
    """A money amount in major units, ASCII digits only (a JSON number or a string)."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not is_ascii_amount(str(data)):
            raise serializers.ValidationError(_NOT_ASCII, code="invalid")
        return super().to_internal_value(data)


class AmountFormField(forms.DecimalField):
    def to_python(self, value):
        if value not in self.empty_values and not is_ascii_amount(str(value)):
            raise forms.ValidationError(_NOT_ASCII, code="invalid")
        return super().to_python(value)


_CURRENCY_SCHEMA = {"type": "string", "enum": sorted(ISO_EXPONENTS)}


@extend_schema_field(_CURRENCY_SCHEMA)
class CurrencyField(serializers.RegexField):
    """An ISO-4217 code, documented as the codes the API knows (``ISO_EXPONENTS``).
    Another well-formed code still reaches ``to_minor``, which answers
    ``CURRENCY_NOT_SUPPORTED`` as before; the enum lets a client (and the stateful
    schemathesis run) send a currency the API can take."""

    def __init__(self, **kwargs):
        super().__init__(r"^[A-Z]{3}$", **kwargs)


@extend_schema_field(_CURRENCY_SCHEMA)
class CurrencyCodeField(serializers.CharField):
    """Three letters in either case (the withdrawal view upper-cases them),
    documented as the codes the API knows, like ``CurrencyField``."""

    def __init__(self, **kwargs):
        super().__init__(min_length=3, max_length=3, **kwargs)

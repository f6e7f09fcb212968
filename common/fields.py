"""Input fields shared by the API serializers and the portal's forms."""

from __future__ import annotations

from django import forms
from rest_framework import serializers

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

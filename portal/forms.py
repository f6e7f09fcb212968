from django import forms

from common.fields import AmountFormField
from common.text import reject_control_characters


class RegisterForm(forms.Form):
    email = forms.EmailField(max_length=254)
    password = forms.CharField(widget=forms.PasswordInput, min_length=8, max_length=128)
    display_name = forms.CharField(
        max_length=100, required=False, validators=[reject_control_characters]
    )


class LoginForm(forms.Form):
    email = forms.EmailField()
    password = forms.CharField(widget=forms.PasswordInput)


class PasswordResetRequestForm(forms.Form):
    email = forms.EmailField(max_length=254)


class PasswordResetConfirmForm(forms.Form):
    new_password = forms.CharField(
        label="New password", widget=forms.PasswordInput, min_length=8, max_length=128
    )


class DepositForm(forms.Form):
    amount = AmountFormField(max_digits=18, decimal_places=3, min_value=0)
    currency = forms.ChoiceField()
    # Generated when the form is shown: a double submit is one deposit.
    idempotency_key = forms.RegexField(
        r"^[A-Za-z0-9-]{8,64}$", widget=forms.HiddenInput
    )

    def __init__(self, *args, currencies: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = [(c, c) for c in currencies]


class WithdrawalForm(forms.Form):
    amount = AmountFormField(max_digits=18, decimal_places=3, min_value=0)
    currency = forms.ChoiceField()
    iban = forms.CharField(label="IBAN", max_length=42)
    holder_name = forms.CharField(
        label="Account holder", max_length=140, validators=[reject_control_characters]
    )
    # Generated when the form is shown: a double submit is one withdrawal.
    idempotency_key = forms.RegexField(
        r"^[A-Za-z0-9-]{8,64}$", widget=forms.HiddenInput
    )

    def __init__(self, *args, currencies: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = [(c, c) for c in currencies]

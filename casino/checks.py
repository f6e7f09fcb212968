from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.security, deploy=False)
def dev_secret_key_refused_in_production(app_configs, **kwargs):
    if not settings.DEBUG and settings.SECRET_KEY == settings.DEV_SECRET_KEY:
        return [
            Error(
                "SECRET_KEY is the development default while DEBUG is False.",
                hint="Set SECRET_KEY in the environment to a long random value.",
                id="casino.E001",
            )
        ]
    return []


@register(Tags.security, deploy=False)
def encryption_keys_set_in_production(app_configs, **kwargs):
    if not settings.DEBUG and not settings.FIELD_ENCRYPTION_KEYS:
        return [
            Error(
                "FIELD_ENCRYPTION_KEYS is empty while DEBUG is False.",
                hint="Generate one with: python -c 'from cryptography.fernet import "
                "Fernet; print(Fernet.generate_key().decode())'",
                id="casino.E002",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def operator_2fa_required_in_production(app_configs, **kwargs):
    """``check --deploy``: production without mandatory operator 2FA is allowed (a
    brand may roll it out operator by operator) but should be a decision."""
    if not settings.DEBUG and not settings.OPERATOR_2FA_REQUIRED:
        return [
            Warning(
                "OPERATOR_2FA_REQUIRED is off while DEBUG is False: staff without a "
                "second factor can use the admin with a password alone.",
                hint="Set OPERATOR_2FA_REQUIRED=true (docs/security.md).",
                id="casino.W010",
            )
        ]
    return []

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security)
def simulator_refused_without_debug(app_configs, **kwargs):
    """The simulator signs PSP events with real secrets: never in production."""
    if settings.PAYMENTS_SIMULATOR_ENABLED and not settings.DEBUG:
        return [
            Error(
                "PAYMENTS_SIMULATOR_ENABLED is true while DEBUG is False.",
                hint="The payments simulator is for local demos and tests only; "
                "unset PAYMENTS_SIMULATOR_ENABLED.",
                id="payments.E001",
            )
        ]
    return []

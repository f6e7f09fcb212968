from django.apps import AppConfig


class CasinoConfig(AppConfig):
    name = "casino"
    verbose_name = "Players"

    def ready(self) -> None:
        import casino.checks_ratelimit  # noqa: F401  (rate-limit cache deploy check)
        from casino import checks, exceptions, operator_audit  # noqa: F401  (system checks, error codes)

        operator_audit.connect()

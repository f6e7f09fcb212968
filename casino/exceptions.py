from common.errors import ApplicationError


class InvalidCredentials(ApplicationError):
    code = "INVALID_CREDENTIALS"
    http_status = 401
    default_message = "Email or password is wrong."


class PlayerAlreadyExists(ApplicationError):
    code = "PLAYER_ALREADY_EXISTS"
    http_status = 409
    default_message = "A player with this email already exists on this brand."


class PlayerBlocked(ApplicationError):
    code = "PLAYER_BLOCKED"
    http_status = 403
    default_message = "This player account is blocked."


class PasswordResetTokenInvalid(ApplicationError):
    code = "PASSWORD_RESET_TOKEN_INVALID"
    http_status = 400
    default_message = "This password reset link is invalid, used or expired."


# --- issue 13: time-outs and self-exclusions (docs/compliance.md) -----------------------


class PlayerExcluded(ApplicationError):
    code = "PLAYER_EXCLUDED"
    http_status = 403
    default_message = (
        "You have a time-out or self-exclusion in force: deposits and play are closed "
        "until it ends. You can still withdraw your balance."
    )


class ExclusionCannotBeShortened(ApplicationError):
    code = "EXCLUSION_CANNOT_BE_SHORTENED"
    http_status = 409
    default_message = (
        "A time-out or self-exclusion is in force and ends later than the one asked "
        "for; it cannot be shortened or lifted before its end."
    )

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

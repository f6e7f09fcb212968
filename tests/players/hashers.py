from django.contrib.auth.hashers import PBKDF2PasswordHasher


class MeasurablePBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """Real PBKDF2, with enough iterations that hashing dominates a login's time
    (the production default would make the timing test take minutes)."""

    iterations = 80_000

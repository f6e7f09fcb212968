"""Encryption at rest for PSP secrets and payout destinations (Fernet, with rotation).

Keys come from ``settings.FIELD_ENCRYPTION_KEYS`` (newest first): values are
encrypted with the first key and decrypted with any of them, so a key can be rotated
by prepending a new one and re-saving. Store ciphertext in ``*_encrypted`` fields; the
field name alone makes the audit redaction drop it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class DecryptionFailed(Exception):
    """The ciphertext was made with a key that is no longer configured."""


def dev_key_from_secret(secret_key: str) -> str:
    return base64.urlsafe_b64encode(
        hashlib.sha256(secret_key.encode()).digest()
    ).decode()


@lru_cache(maxsize=8)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def _current() -> MultiFernet:
    keys = tuple(settings.FIELD_ENCRYPTION_KEYS) or (
        dev_key_from_secret(settings.SECRET_KEY),
    )
    return _fernet(keys)


def encrypt_str(plaintext: str) -> str:
    return _current().encrypt(plaintext.encode()).decode()


def decrypt_str(ciphertext: str) -> str:
    try:
        return _current().decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionFailed("ciphertext does not match any configured key") from exc


def encrypt_json(value: Any) -> str:
    return encrypt_str(json.dumps(value, sort_keys=True))


def decrypt_json(ciphertext: str) -> Any:
    return json.loads(decrypt_str(ciphertext))


def mask(secret: str, *, visible: int = 4) -> str:
    """``sk_test_abcdef123456`` → ``sk_test_••••3456``: enough to recognise, not to use."""
    if not secret:
        return ""
    prefix = ""
    for candidate in (
        "sk_live_",
        "sk_test_",
        "rk_live_",
        "rk_test_",
        "whsec_",
        "pk_live_",
        "pk_test_",
    ):
        if secret.startswith(candidate):
            prefix = candidate
            break
    tail = secret[-visible:] if len(secret) > visible + len(prefix) + 4 else ""
    return f"{prefix}••••{tail}"

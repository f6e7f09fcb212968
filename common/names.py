"""Comparing a bank account holder's name with a player's verified name."""

from __future__ import annotations

import re
import unicodedata

_NOT_LETTERS = re.compile(r"[^\w\s]|[\d_]")


def name_tokens(name: str) -> tuple[str, ...]:
    """Case, accents, punctuation and word order do not matter: "Ángel O'Neil" and
    "oneil angel" give the same tokens."""
    decomposed = unicodedata.normalize("NFKD", name or "")
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    plain = _NOT_LETTERS.sub("", plain.casefold())
    return tuple(sorted(plain.split()))


def names_match(holder_name: str, verified_name: str) -> bool:
    """True when both names have the same words. An empty verified name matches
    nothing: without a KYC-confirmed name no bank account qualifies."""
    verified = name_tokens(verified_name)
    return bool(verified) and name_tokens(holder_name) == verified

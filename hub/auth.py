"""Passwords (argon2) and signed, expiring access tokens.

A token is ``<payload>.<signature>``, both base64url: the payload is JSON
``{"sub": user id, "ver": token version, "exp": unix time}`` and the signature is
HMAC-SHA256 over it with ``HUB_SECRET``. Bumping a user's token version (logout
everywhere, deactivation) makes every earlier token invalid.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass

import orjson
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from hub.errors import Unauthorized

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    if not stored:
        return False
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    version: int
    expires: int


class Tokens:
    """Issues and checks access tokens signed with one secret."""

    def __init__(self, secret: str, ttl: int) -> None:
        if not secret:
            raise ValueError("a token secret is required")
        self._key = hashlib.sha256(secret.encode()).digest()
        self.ttl = ttl

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())

    def issue(self, user_id: int, version: int, ttl: int | None = None) -> str:
        exp = int(time.time()) + (self.ttl if ttl is None else ttl)
        payload = _b64(orjson.dumps({"sub": user_id, "ver": version, "exp": exp}))
        return f"{payload}.{self._sign(payload)}"

    def check(self, token: str) -> TokenClaims:
        """The token's claims; :class:`Unauthorized` if forged, malformed or expired."""
        payload, _, sig = token.partition(".")
        if not (payload and sig and token.isascii()):  # compare_digest takes ASCII only
            raise Unauthorized("invalid token: log in again to get a new one")
        if not hmac.compare_digest(sig, self._sign(payload)):
            raise Unauthorized("invalid token: log in again to get a new one")
        try:
            claims = orjson.loads(_unb64(payload))
            user_id, version, exp = int(claims["sub"]), int(claims["ver"]), int(claims["exp"])
        except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
            raise Unauthorized("invalid token: log in again to get a new one") from None
        if exp <= time.time():
            raise Unauthorized("token expired: log in again to get a new one")
        return TokenClaims(user_id, version, exp)

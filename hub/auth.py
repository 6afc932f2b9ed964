"""Passwords (argon2), the password policy, signed expiring tokens, and the
:class:`Principal` a checked token speaks for.

A token is ``<payload>.<signature>``, both base64url: the payload is JSON and the
signature is HMAC-SHA256 over it with a key derived from ``HUB_SECRET``. There are two
kinds, each signed with its own derived key, so neither ever passes for the other:

* a **session** token (``Authorization: Bearer``, the WebSocket ``auth`` frame):
  ``{"sub": user id, "ver": token version, "sid": login id, "exp": unix time}``. ``sid``
  names one login (one device); logging out revokes that ``sid`` alone. Bumping the
  user's token version (password change or reset, deactivation) revokes every token.
* a **download** token (``?download=`` on a GET download route): the same claims plus
  ``"path"``, the one resource it opens, valid for :data:`DOWNLOAD_TTL` seconds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from hub.errors import BadRequest, Unauthorized

DOWNLOAD_TTL = 60  # seconds: a link's token is fetched the moment the link is clicked

_hasher = PasswordHasher()
_dummy_hash: str | None = None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


# A temporary password is random (:func:`temporary_password`, about 59 bits), so it needs
# no slow hash against guessing offline; a light one lets a roster's thousand first
# passwords be issued in seconds. Verified like any other (argon2 keeps its parameters).
_light_hasher = PasswordHasher(time_cost=1, memory_cost=4096, parallelism=1)
_TEMPORARY_LETTERS = "abcdefghjkmnpqrstuvwxyz23456789"  # none that reads as another


def temporary_password() -> tuple[str, str]:
    """A new temporary password, read aloud or off a slip without confusion
    (``xxxx-xxxx-xxxx``: no 0/o, 1/l/i), and its hash."""
    text = "-".join("".join(secrets.choice(_TEMPORARY_LETTERS) for _ in range(4)) for _ in range(3))
    return text, _light_hasher.hash(text)


def verify_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored``. With no stored hash (unknown user,
    deactivated or password-less account) it verifies against a dummy hash and says no,
    so every answer costs one argon2 verification and takes as long."""
    global _dummy_hash
    if not stored:
        if _dummy_hash is None:
            _dummy_hash = _hasher.hash(secrets.token_urlsafe(16))
        _verify(_dummy_hash, password)
        return False
    return _verify(stored, password)


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


MIN_PASSWORD = 10
MAX_PASSWORD = 256
_WEAK = frozenset({"demo2026", "password123", "1234567890", "qwertyuiop", "abcdefghij"})


def check_password_policy(password: str, username: str) -> None:
    """:class:`BadRequest` saying what is wrong unless ``password`` may protect an account.

    Demo accounts (``hub demo``) are seeded without it; every other way of setting a
    password (creating an account, a reset, a change) goes through here.
    """
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise BadRequest(
            f"the password must be {MIN_PASSWORD}-{MAX_PASSWORD} characters",
            reason="password_length",
            min=MIN_PASSWORD,
            max=MAX_PASSWORD,
        )
    if len(set(password)) < 5:
        raise BadRequest(
            "the password must use at least 5 different characters", reason="password_variety"
        )
    low = password.lower()
    if username and len(username) >= 3 and username.lower() in low:
        raise BadRequest("the password must not contain the username", reason="password_username")
    if low in _WEAK or any(low.startswith(w) for w in _WEAK):
        raise BadRequest("this password is too common: choose another", reason="password_common")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Principal:
    """An authenticated account, as the transport knows it: who speaks (id, name, role, a
    string the transport never interprets) and which of its tokens are valid.

    The layer built on the transport loads its own subclass, carrying what its permission
    rules read (the congress's: :class:`hub.session.members.Member`); the transport hands
    it back to that layer's channel rules and never reads more than these fields."""

    id: int
    name: str
    role: str
    token_version: int = 0
    session: str = ""  # the login (device) whose token this is: logging out closes it

    def public(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "role": self.role}


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    version: int
    expires: int
    session: str  # the login (device) this token belongs to


class Tokens:
    """Issues and checks session and download tokens signed with one secret."""

    def __init__(self, secret: str, ttl: int, clock: Callable[[], float] = time.time) -> None:
        if not secret:
            raise ValueError("a token secret is required")
        root = hashlib.sha256(secret.encode()).digest()
        self._session_key = root
        self._download_key = hmac.new(root, b"download", hashlib.sha256).digest()
        self.ttl = ttl
        self.clock = clock

    @staticmethod
    def _sign(key: bytes, payload: str) -> str:
        return _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())

    def _issue(self, key: bytes, claims: dict[str, object]) -> str:
        payload = _b64(orjson.dumps(claims))
        return f"{payload}.{self._sign(key, payload)}"

    def issue(
        self, user_id: int, version: int, ttl: int | None = None, session: str | None = None
    ) -> str:
        """A session token for the login ``session`` (a browser's device), or for a new
        login (a fresh ``sid``)."""
        exp = int(self.clock()) + (self.ttl if ttl is None else ttl)
        sid = session or secrets.token_urlsafe(12)
        return self._issue(
            self._session_key, {"sub": user_id, "ver": version, "sid": sid, "exp": exp}
        )

    def issue_download(self, claims: TokenClaims, path: str) -> str:
        """A token opening ``path`` (GET only) for :data:`DOWNLOAD_TTL` seconds, for the
        login ``claims`` came from (logging out revokes it too)."""
        exp = min(int(self.clock()) + DOWNLOAD_TTL, claims.expires)
        body = {"sub": claims.user_id, "ver": claims.version, "sid": claims.session}
        return self._issue(self._download_key, {**body, "exp": exp, "path": path})

    def check(self, token: str) -> TokenClaims:
        """A session token's claims; :class:`Unauthorized` if forged, malformed or expired."""
        claims, _ = self._check(self._session_key, token)
        return claims

    def check_download(self, token: str, path: str) -> TokenClaims:
        """A download token's claims if it opens ``path``; else :class:`Unauthorized`."""
        claims, scope = self._check(self._download_key, token)
        if scope != path:
            raise Unauthorized("this download link is for another resource")
        return claims

    def _check(self, key: bytes, token: str) -> tuple[TokenClaims, object]:
        payload, _, sig = token.partition(".")
        if not (payload and sig and token.isascii()):  # compare_digest takes ASCII only
            raise Unauthorized("invalid token: log in again to get a new one")
        if not hmac.compare_digest(sig, self._sign(key, payload)):
            raise Unauthorized("invalid token: log in again to get a new one")
        try:
            c = orjson.loads(_unb64(payload))
            claims = TokenClaims(int(c["sub"]), int(c["ver"]), int(c["exp"]), str(c["sid"]))
        except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
            raise Unauthorized("invalid token: log in again to get a new one") from None
        if claims.expires <= self.clock():
            raise Unauthorized("token expired: log in again to get a new one")
        return claims, c.get("path")

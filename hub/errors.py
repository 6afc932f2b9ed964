"""Every error the hub reports, under one root, and the close codes.

Error codes (the ``code`` of an ``error`` frame or HTTP error body) and the HTTP
status each maps to:

====================  ======  ==================================================
code                  status  meaning
====================  ======  ==================================================
bad_request           400     the frame or request is malformed; ``field`` (and the message) names it
unauthorized          401     no, invalid or expired token
forbidden             403     authenticated, but this user may not do this
not_found             404     no such channel, message, item or user
conflict              409     the action is not allowed in the current state
too_large             413     the frame or upload is over the configured limit
key_reused            422     an ``Idempotency-Key`` already used for another request
rate_limited          429     too many frames or requests; slow down
too_many_connections  429     the account has HUB_ACCOUNT_CONNECTIONS sockets open already
quota_exceeded        429     the account's raw publishes today are over HUB_PUBLISH_QUOTA bytes
unavailable           503     the database (or broker) cannot be reached; nothing was stored
internal              500     a bug; logged on the server
====================  ======  ==================================================

Keyword arguments of an error (``field``, ``allowed``, ``reason``, ``resets``,
``retry_after``) are machine-readable parameters sent next to ``code`` and ``message``:
the pages build their text from the code and these, never from the English message. A
``conflict`` may name its ``reason`` (e.g. ``sitting_closed``); the pages have a text
``conflict.<reason>`` for each one the hub gives. Every code here needs a
text in each language of ``static/js/i18n.js`` (``tests/test_error_texts.py``).

Close codes: see :class:`Close`.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

HTTP_STATUS = {
    "bad_request": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "too_large": 413,
    "key_reused": 422,
    # Several codes share 429; the OpenAPI document names the status after the last.
    "too_many_connections": 429,
    "quota_exceeded": 429,
    "rate_limited": 429,
    "unavailable": 503,
    "internal": 500,
}


class Close(IntEnum):
    """WebSocket close codes the server uses."""

    GOING_AWAY = 1001  # server shutting down: resume on another node with `since`
    TOO_LARGE = 1009  # a frame over HUB_MAX_FRAME
    INTERNAL = 1011
    UNAUTHENTICATED = 4401  # no, invalid or expired token, or no `auth` in time
    DEACTIVATED = 4403  # the account was deactivated
    TOO_SLOW = 4429  # send queue overflowed, or too many frames: reconnect with `since`
    TOO_MANY_CONNECTIONS = 4409  # the account has HUB_ACCOUNT_CONNECTIONS sockets open


class HubError(Exception):
    """Root of every error the hub reports to a client."""

    code = "internal"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    @property
    def status(self) -> int:
        return HTTP_STATUS[self.code]

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.extra}


class BadRequest(HubError):
    code = "bad_request"


class Unauthorized(HubError):
    code = "unauthorized"


class Forbidden(HubError):
    code = "forbidden"


class Deactivated(Forbidden):
    """The account was deactivated (close code 4403)."""


class NotFound(HubError):
    code = "not_found"


class Conflict(HubError):
    code = "conflict"


class TooLarge(HubError):
    code = "too_large"


class KeyReused(HubError):
    code = "key_reused"


class RateLimited(HubError):
    code = "rate_limited"


class TooManyConnections(HubError):
    code = "too_many_connections"


class QuotaExceeded(HubError):
    code = "quota_exceeded"


class Unavailable(HubError):
    code = "unavailable"


class Internal(HubError):
    code = "internal"

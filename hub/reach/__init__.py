"""Reaching people who have no page open: the channels and their one interface.

A notice reaches an open page over its WebSocket. A deputy whose phone is locked in a
pocket has no page open; for them the hub sends the notice through a **reach channel**:
Web Push to each browser they registered (``hub.reach.webpush``), or, with nothing
configured, a channel that only logs what it would send (``hub.reach.logged``), so the
demo runs with nothing set up. The channel is chosen by configuration, like the broker
(:func:`make_reach`).

A channel only sends: one payload to one device, and says what the provider answered
(:class:`Result`). Who is sent what, when, how often, and what is recorded of it is the
dispatcher's (``hub.reach.dispatch``), the same for every channel.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Protocol

from hub.config import Settings


class Outcome(enum.StrEnum):
    ACCEPTED = "accepted"  # the provider took it (201): never sent again
    GONE = "gone"  # the device's subscription no longer exists (404, 410): removed
    RETRY = "retry"  # the provider is busy or down (429, 5xx, timeout): tried again later
    FAILED = "failed"  # refused for good (400, 403, 413 ...): not tried again


@dataclass(frozen=True)
class Device:
    """One registered browser of one person (a ``push_subscriptions`` row)."""

    id: int
    user_id: int
    endpoint: str
    p256dh: str
    auth: str


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    status: int | None = None  # the provider's HTTP status, if it answered
    reason: str = ""  # a short reason, never a secret nor the provider's body
    retry_after: float | None = None  # seconds the provider asked us to wait


class Reach(Protocol):
    """One reach channel: sends one payload to one device."""

    name: str  # the channel's name in the log: "webpush"

    @property
    def public_key(self) -> str | None:
        """The key a browser subscribes with (VAPID application server key), if any."""
        ...

    async def send(self, device: Device, payload: dict[str, Any], topic: str) -> Result:
        """Send ``payload`` to ``device``; ``topic`` names the send so that a push
        service replaces a copy it still holds instead of delivering it twice."""
        ...

    async def close(self) -> None: ...


def make_reach(settings: Settings) -> Reach:
    """Web Push when ``HUB_VAPID_PRIVATE_KEY`` is set, else the channel that logs."""
    if settings.vapid_private_key:
        from hub.reach.webpush import WebPush

        return WebPush(settings)
    from hub.reach.logged import Logged

    return Logged()

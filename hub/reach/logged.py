"""The embedded default: a reach channel that logs what it would send and accepts it."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from hub.reach import Device, Message, Outcome, Result, mask

log = logging.getLogger("hub.reach")


class Logged:
    """Logs one line per send (the device's push service host, never its keys) and
    answers ``accepted``: the demo shows the whole path with nothing configured."""

    name = "log"  # honest in the log: nothing was sent

    @property
    def public_key(self) -> str | None:
        return None

    async def send(self, device: Device, payload: dict[str, Any], topic: str) -> Result:
        log.info(
            "push (not sent: no HUB_VAPID_PRIVATE_KEY) to user %s device %s at %s: %s",
            device.user_id,
            device.id,
            urlsplit(device.endpoint).hostname,
            payload.get("title", ""),
        )
        return Result(Outcome.ACCEPTED, None, "logged")

    async def close(self) -> None:
        return None


class LoggedText:
    """The text message channel with no provider configured: one log line per send (the
    masked number, never the whole one), answered ``accepted``; its record says
    channel ``smslog``, provider ``log``: nothing was sent."""

    name = "smslog"
    provider = "log"

    async def send(self, phone: str, message: Message, key: str) -> Result:
        log.info("text message (not sent: no HUB_SMS_PROVIDER) to %s: %s", mask(phone), key)
        return Result(Outcome.ACCEPTED, None, "logged")

    async def sent(self, phone: str, key: str, since: float) -> Result | None:
        return None  # nothing is ever sent: sending again only logs again

    async def close(self) -> None:
        return None

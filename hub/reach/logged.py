"""The embedded default: a reach channel that logs what it would send and accepts it."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from hub.reach import Device, Outcome, Result

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

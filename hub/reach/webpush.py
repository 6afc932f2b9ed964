"""Web Push (RFC 8030) with VAPID (RFC 8292) and message encryption (RFC 8291, aes128gcm),
through pywebpush on an asyncio HTTP client: nothing here blocks the event loop, and every
request has a timeout (``HUB_PUSH_TIMEOUT``).

The VAPID private key (``HUB_VAPID_PRIVATE_KEY``: a PEM text, the path of a PEM file, or
the base64url raw key that ``web-push generate-vapid-keys`` prints) stays in this object:
it is never logged, stored or shown; the page gets only the public key.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import time
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson
from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid
from pywebpush import WebPusher

from hub.config import Settings
from hub.reach import Device, Outcome, Result


def load_vapid(raw: str) -> Vapid:
    """The VAPID key from its configured form (PEM text, PEM file, base64url raw or DER)."""
    value = raw.strip()
    try:
        if value.startswith("-----BEGIN"):
            return Vapid.from_pem(value.encode())
        if os.path.isfile(value):
            return Vapid.from_file(value)
        return Vapid.from_string(value)
    except Exception:
        # The message must not carry the key itself.
        raise SystemExit(
            "HUB_VAPID_PRIVATE_KEY is not a P-256 private key (PEM, PEM file or base64url)"
        ) from None


def public_key(v: Vapid) -> str:
    """The application server key a browser's ``pushManager.subscribe`` takes: the
    uncompressed P-256 point, base64url without padding."""
    raw = v.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def topic(key: str) -> str:
    """A ``Topic`` header (at most 32 base64url characters) naming one send."""
    return base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest()[:24]).decode()


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: the back-off decides


class WebPush:
    name = "webpush"

    def __init__(self, settings: Settings) -> None:
        if not settings.vapid_subject.startswith(("mailto:", "https://")):
            raise SystemExit(
                "HUB_VAPID_SUBJECT must be a mailto: or https: contact for the push "
                "services (RFC 8292), e.g. mailto:ops@example.cn"
            )
        self._vapid = load_vapid(settings.vapid_private_key)
        self._public = public_key(self._vapid)
        self.subject = settings.vapid_subject
        self.timeout = settings.push_timeout
        self.ttl = settings.push_ttl
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"WebPush(subject={self.subject!r})"

    @property
    def public_key(self) -> str | None:
        return self._public

    def _headers(self, endpoint: str, topic_: str, urgent: bool) -> dict[str, str]:
        u = urlsplit(endpoint)
        claims = {
            "aud": f"{u.scheme}://{u.netloc}",
            "exp": int(time.time()) + 12 * 3600,
            "sub": self.subject,
        }
        headers: dict[str, str] = dict(self._vapid.sign(claims))
        headers["topic"] = topic(topic_)
        headers["urgency"] = "high" if urgent else "normal"
        return headers

    async def send(self, device: Device, payload: dict[str, Any], topic: str) -> Result:
        if self._session is None:
            self._session = aiohttp.ClientSession(trust_env=True)  # HTTPS_PROXY
        info = {"endpoint": device.endpoint, "keys": {"p256dh": device.p256dh, "auth": device.auth}}
        try:
            pusher = WebPusher(info, aiohttp_session=self._session)
            resp = await asyncio.wait_for(
                pusher.send_async(
                    orjson.dumps(payload),
                    self._headers(device.endpoint, topic, bool(payload.get("urgent"))),
                    ttl=self.ttl,
                    content_encoding="aes128gcm",
                    timeout=aiohttp.ClientTimeout(total=self.timeout),
                ),
                self.timeout + 1,
            )
        except (TimeoutError, aiohttp.ClientError, OSError) as e:
            return Result(Outcome.RETRY, None, type(e).__name__)
        except Exception as e:  # a key the library cannot use: this device cannot be reached
            return Result(Outcome.FAILED, None, type(e).__name__)
        assert isinstance(resp, aiohttp.ClientResponse)
        status = resp.status
        resp.release()
        reason = (resp.reason or "")[:60]
        if 200 <= status < 300:
            return Result(Outcome.ACCEPTED, status, reason)
        if status in (404, 410):
            return Result(Outcome.GONE, status, reason)
        if status == 429 or status >= 500:
            return Result(
                Outcome.RETRY, status, reason, _retry_after(resp.headers.get("retry-after"))
            )
        return Result(Outcome.FAILED, status, reason)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

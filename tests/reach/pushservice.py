"""A push service on this machine speaking the real wire format (RFC 8030, 8291, 8292).

It takes the hub's real HTTP request, checks its VAPID token (ES256, ``aud`` = this
service's origin, ``exp`` in the next 24 hours, ``sub`` a contact) against the key the
hub publishes, decrypts the aes128gcm body with the subscription's private key and auth
secret (which only the "browser", i.e. the test, holds), and answers the status codes it
was scripted with, in turn (201 once the script is used up).
"""

from __future__ import annotations

import base64
import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

import http_ece
from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Browser:
    """One browser's subscription: its key pair and auth secret, as the page would make."""

    name: str
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def p256dh(self) -> str:
        return b64url(
            self.key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )


@dataclass
class Received:
    browser: str
    status: int
    payload: dict[str, Any]
    claims: dict[str, Any]
    headers: dict[str, str]


def verify_vapid(header: str, public_key: str, origin: str) -> dict[str, Any]:
    """The claims of a ``vapid t=<jwt>, k=<key>`` Authorization header, after checking the
    signature with ``k``, that ``k`` is the hub's published key, and the claims."""
    assert header.startswith("vapid "), header
    parts = dict(p.strip().split("=", 1) for p in header[len("vapid ") :].split(","))
    assert parts["k"] == public_key, "signed with another key than the one the hub publishes"
    head, body, sig = parts["t"].split(".")
    assert json.loads(unb64url(head)) == {"typ": "JWT", "alg": "ES256"}
    raw = unb64url(sig)
    assert len(raw) == 64
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(parts["k"]))
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key.verify(der, f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256()))  # raises if forged
    claims: dict[str, Any] = json.loads(unb64url(body))
    assert claims["aud"] == origin
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600
    assert claims["sub"].startswith(("mailto:", "https:"))
    return claims


class PushService:
    def __init__(self, public_key: str = "") -> None:
        self.public_key = public_key  # the hub's VAPID key, set once the hub is up
        self.browsers: dict[str, Browser] = {}
        self.script: dict[str, list[int]] = {}
        self.received: list[Received] = []
        self.origin = ""
        self._runner: web.AppRunner | None = None

    def browser(self, name: str, *statuses: int) -> Browser:
        b = self.browsers[name] = Browser(name)
        self.script[name] = list(statuses)
        return b

    def endpoint(self, name: str) -> str:
        return f"{self.origin}/push/{name}"

    def got(self, name: str) -> list[Received]:
        return [r for r in self.received if r.browser == name]

    async def _push(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        b = self.browsers[name]
        claims = verify_vapid(request.headers["authorization"], self.public_key, self.origin)
        assert request.headers["content-encoding"] == "aes128gcm"
        assert int(request.headers["ttl"]) > 0
        plain = http_ece.decrypt(
            await request.read(), private_key=b.key, auth_secret=b.auth, version="aes128gcm"
        )
        status = self.script[name].pop(0) if self.script[name] else 201
        self.received.append(
            Received(
                name,
                status,
                json.loads(plain),
                claims,
                {k.lower(): v for k, v in request.headers.items()},
            )
        )
        headers = {"retry-after": "0"} if status == 429 else {}
        if status == 201:
            headers["location"] = f"{self.origin}/message/{len(self.received)}"
        return web.Response(status=status, headers=headers)

    async def start(self) -> PushService:
        app = web.Application()
        app.router.add_post("/push/{name}", self._push)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.origin = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

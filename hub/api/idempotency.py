"""``Idempotency-Key`` on the HTTP API's writes: a request sent again gets the first answer.

A page that never saw the answer to a write (the network dropped, the hub answered 503,
the browser was closed with the write still in its outbox) sends the same request again
with the same key. One ASGI middleware does this for every authenticated write (``POST``,
``PUT``, ``PATCH``, ``DELETE`` under ``/api/`` with a bearer token), so no endpoint knows
of it. Keys are per account: ``(account, key)`` names one request.

- The first request with a key claims it (a ``pending`` row in ``idempotency_keys``), runs,
  and its answer (status, media type, body) is stored before it is sent.
- The same request again (same method, path, query and body) gets that stored answer,
  with ``Idempotency-Replayed: true``; the endpoint does not run again.
- Another request with a key already used: 422 ``key_reused``.
- The same request while the first is still running waits for the first's answer (up to
  :data:`WAIT` seconds), then answers 409 ``conflict`` with reason ``key_in_flight``.
- An answer that says nothing was done, or that a retry may do it (5xx, 401, 408, 429),
  is not kept: the key is released and a retry runs the request. Nor is an answer marked
  ``Cache-Control: no-store`` (issued passwords): a repeat runs the request again.
- A key lives :data:`LIFETIME`; a claim still ``pending`` after :data:`STALE` (its node
  died) is given to the next request with that key.

The write and its recorded answer are two transactions (the middleware knows no
endpoint's transaction): a node that dies between them leaves the claim ``pending``, and
a retry after :data:`STALE` runs the write a second time.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from datetime import timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.api import MAX_JSON, error_response
from hub.errors import BadRequest, Conflict, HubError, KeyReused, TooLarge, Unauthorized
from hub.store.log import db_errors
from hub.store.schema import BigId, metadata

if TYPE_CHECKING:
    from hub.services import Services

log = logging.getLogger("hub")

HEADER = "Idempotency-Key"
MAX_KEY = 100
LIFETIME = timedelta(hours=24)
STALE = timedelta(seconds=60)
WAIT = 10.0  # seconds a repeat waits for the first request's answer
POLL = 0.05
PURGE_EVERY = 600.0  # seconds between deletions of expired keys, per node
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
NOT_KEPT = frozenset({401, 408, 429})
MAX_ANSWER = 1024 * 1024  # a larger answer is sent but not kept

# No foreign key to users: a row is a cached answer, dropped after LIFETIME.
idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("account_id", BigId, primary_key=True),
    sa.Column("key", sa.String(MAX_KEY), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("state", sa.String(10), nullable=False),  # pending | done
    sa.Column("status", sa.Integer, nullable=True),
    sa.Column("media_type", sa.String(200), nullable=True),
    sa.Column("body", sa.LargeBinary, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_idempotency_keys_created", "created_at"),
)


def _check_key(key: str) -> None:
    if not 1 <= len(key) <= MAX_KEY or not all("!" <= c <= "~" for c in key):
        raise BadRequest(
            f"`{HEADER}` must be 1 to {MAX_KEY} visible ASCII characters (a UUID, say)",
            field=HEADER,
        )


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_JSON:
            raise TooLarge(f"a request with `{HEADER}` may carry at most {MAX_JSON} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


class _Answer:
    """The application's response, held until it is stored."""

    def __init__(self) -> None:
        self.start: Message | None = None
        self.body: list[bytes] = []

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = message
        elif message["type"] == "http.response.body":
            self.body.append(message.get("body", b""))

    @property
    def status(self) -> int:
        return int(self.start["status"]) if self.start else 500

    @property
    def media_type(self) -> str:
        return Headers(raw=self.start["headers"]).get("content-type", "") if self.start else ""

    def keep(self) -> bool:
        """Whether to store the answer for a repeat: not one that says nothing was done,
        nor one too large, nor one marked ``Cache-Control: no-store`` (it carries secrets,
        such as issued passwords, that must not rest in the database)."""
        size = sum(len(b) for b in self.body)
        secret = "no-store" in (
            Headers(raw=self.start["headers"]).get("cache-control", "") if self.start else ""
        )
        return (
            200 <= self.status < 500
            and self.status not in NOT_KEPT
            and size <= MAX_ANSWER
            and not secret
        )

    async def forward(self, send: Send) -> None:
        if self.start is None:
            return
        await send(self.start)
        await send({"type": "http.response.body", "body": b"".join(self.body)})


class IdempotencyMiddleware:
    """The ASGI middleware of this module: every key's rule is here and nowhere else."""

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services
        self._purged = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in WRITES
            or not scope["path"].startswith("/api/")
        ):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        key = headers.get(HEADER)
        account = self._account(headers) if key is not None else None
        if key is None or account is None:  # no key, or the endpoint answers 401
            await self.app(scope, receive, send)
            return
        try:
            _check_key(key)
            body = await _read_body(receive)
            fingerprint = self._fingerprint(scope, body)
            stored = await self._claim(account, key, fingerprint)
        except HubError as e:
            await error_response(e)(scope, receive, send)
            return
        if stored is not None:
            status, media_type, content = stored
            replay = Response(content, status_code=status, headers={"idempotency-replayed": "true"})
            if media_type:
                replay.headers["content-type"] = media_type
            await replay(scope, receive, send)
            return

        sent = False

        async def replayed_receive() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        answer = _Answer()
        try:
            await self.app(scope, replayed_receive, answer.send)
        except BaseException:
            await asyncio.shield(self._release(account, key))
            raise
        try:
            if answer.keep():
                await self._finish(account, key, answer)
            else:
                await self._release(account, key)
        except HubError:
            # The write is done: its answer goes out; a retry finds the claim pending
            # and waits, or after STALE runs again.
            log.warning("could not record the answer to %s %s", scope["method"], scope["path"])
        await answer.forward(send)

    def _account(self, headers: Headers) -> int | None:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        try:
            return self.services.tokens.check(token.strip()).user_id
        except Unauthorized:
            return None

    @staticmethod
    def _fingerprint(scope: Scope, body: bytes) -> str:
        h = hashlib.sha256()
        for part in (scope["method"], scope["path"], scope.get("query_string", b"").decode()):
            h.update(part.encode() + b"\n")
        h.update(body)
        return h.hexdigest()

    async def _claim(
        self, account: int, key: str, fingerprint: str
    ) -> tuple[int, str, bytes] | None:
        """Claim ``key`` for this request (None), or the stored answer of the first one."""
        t = idempotency_keys
        engine = self.services.engine
        clock = self.services.clock
        await self._purge()
        mine = (t.c.account_id == account) & (t.c.key == key)
        deadline = time.monotonic() + WAIT
        while True:
            now = clock.now()
            try:
                async with db_errors(), engine.begin() as conn:
                    await conn.execute(
                        t.insert().values(
                            account_id=account, key=key, fingerprint=fingerprint,
                            state="pending", created_at=now,
                        )
                    )  # fmt: skip
                return None
            except IntegrityError:
                pass  # claimed already: by this same request sent before, or another
            async with db_errors(), engine.begin() as conn:
                gone = await conn.execute(
                    t.delete().where(
                        mine,
                        (t.c.created_at < now - LIFETIME)
                        | ((t.c.state == "pending") & (t.c.created_at < now - STALE)),
                    )
                )
                if gone.rowcount:
                    continue  # expired, or its node died: claim it afresh
                row = (
                    await conn.execute(sa.select(t.c.fingerprint, t.c.state, t.c.status,
                                                 t.c.media_type, t.c.body).where(mine))
                ).first()  # fmt: skip
            if row is None:
                continue  # released meanwhile: claim it
            if row.fingerprint != fingerprint:
                raise KeyReused(
                    f"this `{HEADER}` was used for another request: "
                    "send a new key with each new request"
                )
            if row.state == "done":
                return int(row.status), row.media_type or "", bytes(row.body or b"")
            if time.monotonic() >= deadline:
                raise Conflict(
                    "the first request with this key is still running: try again shortly",
                    reason="key_in_flight",
                )
            await asyncio.sleep(POLL)

    async def _finish(self, account: int, key: str, answer: _Answer) -> None:
        t = idempotency_keys
        async with db_errors(), self.services.engine.begin() as conn:
            await conn.execute(
                t.update()
                .where(t.c.account_id == account, t.c.key == key)
                .values(
                    state="done", status=answer.status, media_type=answer.media_type,
                    body=b"".join(answer.body),
                )
            )  # fmt: skip

    async def _release(self, account: int, key: str) -> None:
        t = idempotency_keys
        try:
            async with db_errors(), self.services.engine.begin() as conn:
                await conn.execute(t.delete().where(t.c.account_id == account, t.c.key == key))
        except HubError:
            log.warning("could not release an idempotency key; it frees itself after %s", STALE)

    async def _purge(self) -> None:
        """Delete expired keys, at most every :data:`PURGE_EVERY` seconds on this node."""
        if time.monotonic() - self._purged < PURGE_EVERY:
            return
        self._purged = time.monotonic()
        t = idempotency_keys
        async with db_errors(), self.services.engine.begin() as conn:
            await conn.execute(
                t.delete().where(t.c.created_at < self.services.clock.now() - LIFETIME)
            )

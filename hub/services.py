"""Everything one hub process runs, built from the settings and started once.

The transport's own parts live here. Layers built on it (the session workflows) add
their background parts to :attr:`Services.parts` and listen to connections through
:attr:`Services.on_connect` / :attr:`Services.on_disconnect`; this module knows nothing
of them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from hub.auth import Principal, TokenClaims, Tokens
from hub.broker import Broker, make_broker
from hub.channels import ChannelRules
from hub.clock import Clock
from hub.config import Settings
from hub.connection import Connection
from hub.errors import Close
from hub.identity import PrincipalLoader
from hub.limits import AccountLimits, PublishQuota
from hub.metrics import Metrics
from hub.node import Charge, Node
from hub.receipts import ReceiptWriter
from hub.revocation import AccountWatch
from hub.store.engine import Timeouts, make_engine
from hub.store.log import MessageLog

log = logging.getLogger("hub")


class Part(Protocol):
    """A background part of the hub: started with the node, stopped after the drain."""

    def start(self) -> None: ...

    async def stop(self) -> None: ...


ConnectionHook = Callable[[Connection], None]


def load_secret(settings: Settings) -> str:
    """``HUB_SECRET``, or one generated once and kept in the data directory."""
    if settings.secret:
        return settings.secret
    path = Path(settings.data_dir) / "secret"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    # Created 0600: never readable by others, not even between creation and a chmod.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret)
    return secret


class Services:
    def __init__(self, settings: Settings, broker: Broker | None = None) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.engine = make_engine(
            settings.db_url,
            Timeouts(
                connect=settings.db_connect_timeout,
                pool=settings.db_pool_timeout,
                statement=settings.db_statement_timeout,
                idle_in_transaction=settings.db_idle_tx_timeout,
            ),
        )
        self.log = MessageLog(self.engine)
        self.tokens = Tokens(load_secret(settings), settings.token_ttl)
        self.principals = PrincipalLoader(self.engine)
        # The channel kinds and who may use them: registered by the layer above.
        self.channels = ChannelRules()
        self.broker = broker or make_broker(
            settings.redis_url,
            settings.redis_prefix,
            settings.redis_health_interval,
            settings.redis_socket_timeout,
        )
        self.clock = Clock(settings.timezone)
        self.node = Node(self.log, self.broker, self.metrics, settings.catchup_interval, self.clock)
        self.receipts = ReceiptWriter(self.engine, self.metrics, settings.receipt_flush, self.clock)
        self.connections: set[Connection] = set()
        self.limits = AccountLimits(
            settings.frame_rate, settings.frame_burst, settings.account_connections
        )
        # Passed to Node.publish by the raw publish paths (/ws and HTTP) only; 0 turns it off.
        quota = (
            PublishQuota(self.engine, settings.publish_quota, self.clock)
            if settings.publish_quota > 0
            else None
        )
        self.charge_publish: Charge | None = quota.charge if quota else None
        self.accounts = AccountWatch(
            self.engine, lambda: list(self.connections), settings.account_check
        )
        self.parts: list[Part] = [self.receipts, self.accounts]
        if quota is not None:
            self.parts.append(quota)
        # Called (without awaiting: no I/O on the socket's path) once a connection is
        # authenticated, and once it is gone.
        self.on_connect: list[ConnectionHook] = []
        self.on_disconnect: list[ConnectionHook] = []

    async def authenticate(
        self, token: str, download_path: str | None = None
    ) -> tuple[Principal, TokenClaims]:
        """The one check of a token, for ``/ws`` and HTTP alike: its signature and expiry
        (a session token, or with ``download_path`` a download token for that path), then its
        account loaded fresh. :class:`~hub.errors.Unauthorized` if forged, expired, logged
        out or revoked; :class:`~hub.errors.Deactivated` for a deactivated account."""
        claims = (
            self.tokens.check(token)
            if download_path is None
            else self.tokens.check_download(token, download_path)
        )
        return await self.principals.authenticate(claims), claims

    async def start(self) -> None:
        await self.node.start()
        for part in self.parts:
            part.start()

    def connected(self, conn: Connection) -> None:
        self.connections.add(conn)
        self.metrics.connections.inc()

    def authenticated(self, conn: Connection) -> None:
        for hook in self.on_connect:
            hook(conn)

    def disconnected(self, conn: Connection) -> None:
        self.connections.discard(conn)
        self.metrics.connections.dec()
        if conn.principal is not None:
            for hook in self.on_disconnect:
                hook(conn)

    @property
    def draining(self) -> bool:
        return self.node.draining

    async def drain(self, grace: float = 5.0) -> None:
        """Shutting down: refuse new writes, let those in flight finish and reply
        (:meth:`Node.drain`), store queued receipts, then close every client with 1001 so it
        resumes elsewhere."""
        if self.draining:
            return
        await self.node.drain(grace)
        await self.receipts.stop()
        await asyncio.gather(
            *(
                c.close(Close.GOING_AWAY, "server shutting down: reconnect with since", flush=True)
                for c in list(self.connections)
            ),
            return_exceptions=True,
        )

    async def stop(self) -> None:
        await self.drain()
        for part in reversed(self.parts):
            await part.stop()
        await self.node.stop()
        await self.engine.dispose()

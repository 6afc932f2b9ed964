"""Closing the connections of accounts deactivated, revoked or logged out on any node.

The node that deactivates an account, resets or changes its password, or logs a device
out closes the sockets concerned at once; every node also checks its connected accounts
every ``HUB_ACCOUNT_CHECK`` seconds (one query for the accounts, one for the logins), so
sockets held on other nodes close too: 4403 for a deactivated account, 4401 for a revoked
token version or a logged-out device.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Collection

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.connection import Connection
from hub.errors import Close
from hub.loops import run_forever
from hub.store.engine import in_chunks
from hub.store.log import db_errors
from hub.store.schema import revoked_sessions, users


class AccountWatch:
    def __init__(
        self, engine: AsyncEngine, connections: Callable[[], Collection[Connection]], every: float
    ) -> None:
        self.engine = engine
        self.connections = connections
        self.every = every
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(
            run_forever("account check", self.sweep, self.every), name="account-watch"
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def sweep(self) -> int:
        """Close connections whose account is inactive, whose token was revoked, or
        whose device logged out."""
        by_user: dict[int, list[Connection]] = {}
        for c in self.connections():
            if c.principal is not None and not c.closed:
                by_user.setdefault(c.principal.id, []).append(c)
        if not by_user:
            return 0
        ids = list(by_user)
        closed = 0
        async with db_errors(), self.engine.connect() as conn:
            for chunk in in_chunks(ids):
                rows = await conn.execute(
                    sa.select(users.c.id, users.c.active, users.c.token_version).where(
                        users.c.id.in_(chunk)
                    )
                )
                sessions = {c.principal.session for u in chunk for c in by_user[u] if c.principal}
                sessions.discard("")
                out: set[str] = set()
                if sessions:
                    q = sa.select(revoked_sessions.c.session).where(
                        revoked_sessions.c.session.in_(list(sessions))
                    )
                    out = set((await conn.execute(q)).scalars())
                for uid, active, version in rows:
                    for c in by_user[uid]:
                        assert c.principal is not None
                        if not active:
                            c.close_soon(Close.DEACTIVATED, "account deactivated")
                            closed += 1
                        elif c.principal.token_version != version:
                            c.close_soon(Close.UNAUTHENTICATED, "token revoked: log in again")
                            closed += 1
                        elif c.principal.session in out:
                            c.close_soon(Close.UNAUTHENTICATED, "logged out")
                            closed += 1
        return closed

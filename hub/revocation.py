"""Closing the connections of accounts deactivated or revoked on any node.

The node that deactivates an account closes that account's sockets at once; every node
also checks its connected accounts every ``HUB_ACCOUNT_CHECK`` seconds with one query, so
sockets held on other nodes close too: 4403 for a deactivated account, 4401 for a revoked
token version.
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
from hub.store.log import db_errors
from hub.store.schema import users


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
        """Close connections whose account is inactive or whose token was revoked."""
        by_user: dict[int, list[Connection]] = {}
        for c in self.connections():
            if c.principal is not None and not c.closed:
                by_user.setdefault(c.principal.id, []).append(c)
        if not by_user:
            return 0
        ids = list(by_user)
        closed = 0
        async with db_errors(), self.engine.connect() as conn:
            for i in range(0, len(ids), 500):
                rows = await conn.execute(
                    sa.select(users.c.id, users.c.active, users.c.token_version).where(
                        users.c.id.in_(ids[i : i + 500])
                    )
                )
                for uid, active, version in rows:
                    for c in by_user[uid]:
                        assert c.principal is not None
                        if not active:
                            c.close_soon(Close.DEACTIVATED, "account deactivated")
                            closed += 1
                        elif c.principal.token_version != version:
                            c.close_soon(Close.UNAUTHENTICATED, "token revoked: log in again")
                            closed += 1
        return closed

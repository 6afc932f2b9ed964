"""Creating the async engine, with the per-dialect settings the log relies on."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

T = TypeVar("T")

IN_CHUNK = 500
"""The most values one ``IN (...)`` list takes: SQLite's and asyncpg's bind parameter
limits, with room for the rest of the statement."""


def in_chunks(values: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    """``values`` in consecutive slices of at most ``size``, for one ``IN`` list each."""
    for i in range(0, len(values), size):
        yield values[i : i + size]


@dataclass(frozen=True, slots=True)
class Timeouts:
    """How long the hub waits on the database, in seconds (``HUB_DB_*_TIMEOUT``).

    Every wait is bounded, so a database that hangs (accepts connections but answers
    nothing) turns into ``unavailable`` instead of a request that never ends:

    * ``connect``: opening a connection (the PostgreSQL startup handshake).
    * ``pool``: waiting for a pooled connection when all are in use.
    * ``statement``: one statement, on the client (asyncpg ``command_timeout``) and on
      the server (``statement_timeout``, and ``lock_timeout`` for a row lock another
      transaction holds); SQLite's busy timeout for its database lock.
    * ``idle_in_transaction``: PostgreSQL ends a session idle this long inside a
      transaction, so a node frozen mid-publish releases the channel row it locked.
    """

    connect: float = 5.0
    pool: float = 5.0
    statement: float = 10.0
    idle_in_transaction: float = 10.0


def _ms(seconds: float) -> str:
    return str(max(1, int(seconds * 1000)))


def make_engine(url: str, timeouts: Timeouts | None = None, **kw: Any) -> AsyncEngine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and foreign keys.

    SQLite serialises writers with its database lock; ``busy_timeout`` makes a second
    writer (another task or process) wait instead of failing at once.
    """
    t = timeouts or Timeouts()
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            kw.setdefault("pool_timeout", t.pool)  # a file has a pool; memory has one connection
        engine = create_async_engine(url, connect_args={"timeout": t.statement}, **kw)

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # pysqlite's own transaction handling is switched off so that BEGIN
            # IMMEDIATE below takes the write lock at the start of every writing
            # transaction: a deferred BEGIN that reads first and writes later can fail
            # with SQLITE_BUSY when another process wrote in between. Reads (execution
            # option readonly=True) use a plain BEGIN and run beside writers (WAL).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute(f"PRAGMA busy_timeout={_ms(t.statement)}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: sa.Connection) -> None:
            readonly = conn.get_execution_options().get("readonly", False)
            conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

        return engine
    connect_args = {
        "timeout": t.connect,
        "command_timeout": t.statement,
        "server_settings": {
            "statement_timeout": _ms(t.statement),
            "lock_timeout": _ms(t.statement),
            "idle_in_transaction_session_timeout": _ms(t.idle_in_transaction),
        },
    }
    return create_async_engine(
        url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=10,
        pool_timeout=t.pool,
        connect_args=connect_args,
        **kw,
    )

"""Alembic environment: runs migrations on the hub's async engine."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection

from hub.store.engine import make_engine
from hub.tables import metadata

config = context.config


def _run(conn: Connection) -> None:
    context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


async def _main() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    async with engine.connect() as conn:
        await conn.run_sync(_run)
        await conn.commit()
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `hub migrate`")
asyncio.run(_main())

"""Alembic environment: runs migrations on the hub's async engine."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection

from hub.store.engine import Timeouts, make_engine
from hub.tables import metadata

config = context.config

# A migration may rewrite or index the whole log: it gets hours, not a request's seconds.
MIGRATION_TIMEOUTS = Timeouts(statement=6 * 3600, idle_in_transaction=6 * 3600)

# Made by a migration for one database only (PostgreSQL's trigram index for text search in
# the archive, when pg_trgm is available), so not declared on the tables.
ONE_DATABASE_INDEXES = frozenset({"ix_messages_body_trgm"})


def _include(obj: object, name: str | None, type_: str, reflected: bool, other: object) -> bool:
    return not (type_ == "index" and name in ONE_DATABASE_INDEXES)


def _run(conn: Connection) -> None:
    context.configure(
        connection=conn,
        target_metadata=metadata,
        render_as_batch=True,
        include_object=_include,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _main() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "", MIGRATION_TIMEOUTS)
    async with engine.connect() as conn:
        await conn.run_sync(_run)
        await conn.commit()
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `hub migrate`")
asyncio.run(_main())

"""Fresh, migrated databases per test: a SQLite file, or a PostgreSQL database cloned
from a template migrated once per test run."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import asyncpg

from hub.store.migrate import upgrade
from tests.utils.backends import PG_URL, with_database


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


class PostgresFactory:
    def __init__(self) -> None:
        self.template = f"hubtpl_{secrets.token_hex(4)}"
        self.created: list[str] = []
        self._ready = False

    async def _admin(self) -> asyncpg.Connection:
        return await asyncpg.connect(_plain(PG_URL))

    async def new(self) -> str:
        conn = await self._admin()
        try:
            if not self._ready:
                await conn.execute(f'CREATE DATABASE "{self.template}"')
                self.created.append(self.template)
                await asyncio.to_thread(upgrade, with_database(PG_URL, self.template))
                self._ready = True
            name = f"hubt_{secrets.token_hex(5)}"
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
            self.created.append(name)
            return with_database(PG_URL, name)
        finally:
            await conn.close()

    async def drop(self, url: str) -> None:
        name = url.rpartition("/")[2]
        conn = await self._admin()
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    async def drop_all(self) -> None:
        conn = await self._admin()
        try:
            for name in reversed(self.created):
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


_sqlite_template: dict[str, bytes] = {}


async def new_sqlite(directory: Path) -> str:
    """A migrated SQLite file (the migrated bytes are reused after the first one)."""
    path = directory / "hub.sqlite3"
    if "db" not in _sqlite_template:
        tpl = directory / "template.sqlite3"
        await asyncio.to_thread(upgrade, f"sqlite+aiosqlite:///{tpl}")
        _sqlite_template["db"] = tpl.read_bytes()
        tpl.unlink()
    path.write_bytes(_sqlite_template["db"])
    return f"sqlite+aiosqlite:///{path}"

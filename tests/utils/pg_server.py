"""A throwaway PostgreSQL cluster that a test owns and may stop, restart and make refuse
connections (never the machine's shared server).

``initdb`` makes it in a temporary directory; it runs as the ``postgres`` user (the
server refuses to run as root) on a free port of its own, with trust authentication.
"""

from __future__ import annotations

import asyncio
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import asyncpg
import pytest

from tests.utils import TIMEOUT
from tests.utils.backends import REQUIRE


def _skip(msg: str) -> None:
    if REQUIRE:
        pytest.fail(msg)
    pytest.skip(msg)


class OwnedPostgres:
    def __init__(self, port: int) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins:
            _skip("PostgreSQL's server binaries (initdb) are not installed")
        try:
            self.user = pwd.getpwnam("postgres")
        except KeyError:
            _skip("there is no postgres user to run a PostgreSQL server as")
        self.bin = Path(bins[-1]).parent
        self.port = port
        self.dir = Path(tempfile.mkdtemp(prefix="hub-pg-"))
        self.data = self.dir / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["runuser", "-u", "postgres", "--", str(self.bin / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            check=check,
            timeout=TIMEOUT * 6,
        )

    async def init(self) -> OwnedPostgres:
        os.chown(self.dir, self.user.pw_uid, self.user.pw_gid)
        await asyncio.to_thread(
            self._run, "initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync"
        )
        return self

    async def start(self, standby: bool = False) -> None:
        """Start the server. ``standby``: as a standby with ``hot_standby=off`` and no
        primary, which refuses every connection with the server's own 57P03 ("the
        database system is not accepting connections") until :meth:`promote`."""
        signal = self.data / "standby.signal"
        if standby:
            signal.touch()
            os.chown(signal, self.user.pw_uid, self.user.pw_gid)
        opts = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c fsync=off"
            f" -c hot_standby={'off' if standby else 'on'}"
        )
        args = ["pg_ctl", "-D", str(self.data), "-l", str(self.dir / "log"), "-o", opts]
        await asyncio.to_thread(self._run, *args, "-W", "start")
        if not standby:
            await self.wait_accepting()

    async def promote(self) -> None:
        await asyncio.to_thread(self._run, "pg_ctl", "-D", str(self.data), "-W", "promote")
        await self.wait_accepting()

    async def stop(self, mode: str = "fast") -> None:
        await asyncio.to_thread(
            self._run, "pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False
        )

    async def wait_accepting(self) -> None:
        for _ in range(int(TIMEOUT * 3 / 0.1)):
            try:
                conn = await asyncpg.connect(self.url().replace("+asyncpg", ""), timeout=1)
            except (OSError, asyncpg.PostgresError, TimeoutError):
                await asyncio.sleep(0.1)
                continue
            await conn.close()
            return
        raise TimeoutError(f"the owned PostgreSQL on {self.port} did not accept connections")

    async def create_database(self, name: str) -> str:
        conn = await asyncpg.connect(self.url().replace("+asyncpg", ""))
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return self.url(name)

    async def destroy(self) -> None:
        await self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

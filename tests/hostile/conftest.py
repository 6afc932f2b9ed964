"""A real hub process on PostgreSQL with a seeded world, shared by the hostile tests, and
small synchronous clients for property tests (hypothesis drives plain functions)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from websockets.sync.client import ClientConnection, connect

from tests.utils import TIMEOUT
from tests.utils.backends import PG_URL, need
from tests.utils.databases import PostgresFactory
from tests.utils.factories import SECRET, World, make_world
from tests.utils.servers import HubProcess

# Under CI the property tests replay the same examples every run (a red build then means a
# change broke something, not that a new input was drawn); elsewhere they explore afresh.
DERANDOMIZE = os.environ.get("CI") == "true"


@dataclass
class Target:
    node: HubProcess
    world: World
    db_url: str
    data_dir: Path


def start_target(tmp: Path, pg: PostgresFactory, **env: str) -> Target:
    need(PG_URL, "PostgreSQL")
    url = asyncio.run(pg.new())
    world = asyncio.run(make_world(url))
    node = HubProcess(
        {
            "HUB_DATABASE_URL": url,
            "HUB_SECRET": SECRET,
            "HUB_DATA_DIR": str(tmp),
            "HUB_FRAME_RATE": "100000",
            "HUB_FRAME_BURST": "100000",
            **env,
        },
        log=tmp / "hub.log",
    )
    asyncio.run(node.start())
    return Target(node, world, url, tmp)


@pytest.fixture(scope="session")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """One hub process for the hostile tests (PostgreSQL: the strictest about text)."""
    pg = PostgresFactory()
    t = start_target(tmp_path_factory.mktemp("hostile"), pg)
    yield t
    t.node.kill()
    asyncio.run(pg.drop_all())


class SyncClient:
    """A blocking protocol client (hypothesis runs plain functions)."""

    def __init__(self, url: str, token: str | None = None, **kw: Any) -> None:
        self.ws: ClientConnection = connect(
            url, open_timeout=TIMEOUT, max_size=None, legacy=True, **kw
        )
        if token is not None:
            self.send({"type": "auth", "token": token})
            assert self.recv()["type"] == "welcome"

    def send(self, frame: dict[str, Any]) -> None:
        self.ws.send(orjson.dumps(frame).decode())

    def recv(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        d: dict[str, Any] = orjson.loads(self.ws.recv(timeout))
        return d

    def reply(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next frame that is not a `message`."""
        while True:
            f = self.recv(timeout)
            if f["type"] != "message":
                return f

    def close(self) -> None:
        self.ws.close()

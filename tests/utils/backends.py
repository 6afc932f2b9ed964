"""Real PostgreSQL and Redis for tests, or a skip saying why (a failure under CI).

``HUB_TEST_PG`` (default ``postgresql+asyncpg://postgres@127.0.0.1:5432/test``) and
``HUB_TEST_REDIS`` (default ``redis://127.0.0.1:6379/0``) say where they are. With
``HUB_TEST_REQUIRE_SERVICES=1`` (set by ``.ci/run``) an unreachable service fails the
test instead of skipping it.
"""

from __future__ import annotations

import os
import secrets
import socket
from urllib.parse import urlparse

import pytest

PG_URL = os.environ.get("HUB_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("HUB_TEST_REDIS", "redis://127.0.0.1:6379/0")
REQUIRE = os.environ.get("HUB_TEST_REQUIRE_SERVICES") == "1"


def reachable(url: str) -> bool:
    u = urlparse(url.replace("+asyncpg", ""))
    try:
        with socket.create_connection((u.hostname or "127.0.0.1", u.port or 0), timeout=1):
            return True
    except OSError:
        return False


def need(url: str, what: str) -> None:
    if not reachable(url):
        msg = f"{what} is not reachable at {url}"
        if REQUIRE:
            pytest.fail(msg + " (HUB_TEST_REQUIRE_SERVICES=1)")
        pytest.skip(msg)


def redis_prefix() -> str:
    """A channel prefix of its own: Redis pub/sub ignores database numbers."""
    return f"hubtest:{secrets.token_hex(6)}:"


def with_database(url: str, name: str) -> str:
    head, _, _ = url.rpartition("/")
    return f"{head}/{name}"

"""The test command says loudly which services were missing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_missing_postgresql_is_announced_at_the_end() -> None:
    """With PostgreSQL unreachable, its tests skip and the run ends with a banner that
    names the service, where it was looked for and how many tests did not run."""
    env = {k: v for k, v in os.environ.items() if k != "HUB_TEST_REQUIRE_SERVICES"}
    env["HUB_TEST_PG"] = "postgresql+asyncpg://postgres@127.0.0.1:1/test"
    one = "tests/store/test_log.py::test_messages_are_hash_chained"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", one],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SERVICES MISSING: THESE TESTS DID NOT RUN" in done.stdout, done.stdout
    assert (
        "SKIPPED: PostgreSQL is not reachable at postgresql+asyncpg://postgres@127.0.0.1:1/test:"
        " 1 tests of PostgreSQL did not run"
    ) in done.stdout, done.stdout

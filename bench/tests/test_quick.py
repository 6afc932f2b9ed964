"""The benchmark harness end to end at N=50: `python -m bench.run_all --quick`.

Needs the `bench` extra and the test suite's PostgreSQL (``HUB_TEST_PG``) and Redis
(``HUB_TEST_REDIS``): it skips without them (fails under ``HUB_TEST_REQUIRE_SERVICES=1``)
and never starts a redis-server of its own.
Run with: .venv/bin/python -m pytest bench/tests
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.utils.backends import PG_URL, REDIS_URL, need

REPO = Path(__file__).resolve().parents[2]


def bench_env() -> dict[str, str]:
    """run_all's settings pointing at the test suite's services."""
    return {
        **os.environ,
        "HUB_BENCH_PG": PG_URL.rpartition("/")[0],
        "HUB_BENCH_PG_ADMIN": PG_URL.replace("postgresql+asyncpg://", "postgresql://"),
        "HUB_BENCH_REDIS": REDIS_URL,
        "HUB_BENCH_START_REDIS": "0",
    }


@pytest.mark.slow
@pytest.mark.alone  # its reconnect storm has a deadline: no other test beside it
def test_quick_run_covers_every_system_and_scenario(tmp_path: Path) -> None:
    """The whole harness runs at N=50 on every system, with no message lost and in order."""
    need(PG_URL, "PostgreSQL")
    need(REDIS_URL, "Redis")
    out = tmp_path / "benchmarks.md"
    cmd = [sys.executable, "-m", "bench.run_all", "--quick", "--out", str(out)]
    done = subprocess.run(
        [*cmd, "--img", str(tmp_path / "img")],
        cwd=REPO,
        env=bench_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads(out.with_suffix(".json").read_text())
    assert "already running" in results["redis"], results["redis"]
    runs = {r["system"]: r for r in results["runs"]}
    assert set(runs) == {"hub", "hub_cluster", "bare_ws", "socketio"}
    for system, r in runs.items():
        assert "aborted" not in r, (system, r.get("aborted"))
        assert r["connect"]["connected"] == 50
        fan = r["fanout"]
        assert fan["deliveries"] == fan["expected_deliveries"] > 0, system
        assert fan["duplicates"] == 0, system  # a notice at or below the last held: out of order
        assert r["sustained"]["best_rate"], system
        assert r["reconnect"]["reconnected"] == 50, system
        assert r["restart"]["reconnected"] == 50, system
        assert r["restart"]["server_away_s"] > 0, system
        assert r["publisher"]["unconfirmed_at_end"] == 0, (system, r["publisher"])
    for hub in ("hub", "hub_cluster"):  # stored, so nothing is lost, however they reconnect
        assert runs[hub]["receipts"]["confirmed"] == runs[hub]["receipts"]["sent"] == 100
        assert runs[hub]["reconnect"]["lost_fraction"] == 0
        assert runs[hub]["restart"]["lost_fraction"] == 0
        assert runs[hub]["restart"]["clients_with_all_notices"] == 50
    assert not runs["bare_ws"]["receipts"]["supported"]
    ceiling = results["ceiling"]["50"]
    assert ceiling["frames_per_s"] > 0
    text = out.read_text()
    for heading in (
        "## 1. Fan-out",
        "## 2. Receipt storm",
        "## 3. Sustained",
        "### After a restart",
        "## 5. Memory",
    ):
        assert heading in text
    for png in ("bench-fanout.png", "bench-sustained.png", "bench-memory.png"):
        assert (tmp_path / "img" / png).stat().st_size > 1000

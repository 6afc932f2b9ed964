"""The chaos soak in short form: `python -m bench.chaos --minutes 1`.

Two hub nodes on PostgreSQL + Redis (the local servers, through the run's own proxies),
every kind of fault injected within a minute. Run with: .venv/bin/python -m pytest bench/tests
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.chaos import FAULTS
from tests.utils.backends import PG_URL, REDIS_URL, need

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_chaos_short_nothing_lost_duplicated_or_reordered(tmp_path: Path) -> None:
    """A minute of random Redis and PostgreSQL faults and kill -9 on two nodes while two
    publishers and eight deputies work: every kind of fault happens, every acknowledged
    notice is stored as acknowledged, every deputy holds every notice once and in order,
    and `hub verify` passes."""
    need(PG_URL, "PostgreSQL")
    need(REDIS_URL, "Redis")
    out = tmp_path / "chaos.json"
    cmd = [sys.executable, "-m", "bench.chaos", "--minutes", "1", "--json", str(out)]
    done = subprocess.run(
        [*cmd, "--logs", str(tmp_path), "--pg", PG_URL, "--redis", REDIS_URL],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    r = json.loads(out.read_text())
    assert r["problems"] == []
    assert set(r["faults"]) == set(FAULTS), r["fault_log"]
    assert (r["lost"], r["duplicated"], r["out_of_order"]) == (0, 0, 0)
    assert r["acknowledged"] == r["stored"] > 300
    assert r["deliveries"] == 8 * r["stored"]
    assert r["verify"]["ok"] is True

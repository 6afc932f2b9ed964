"""The hall-network benchmark end to end: `python -m bench.network --runs 1`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.network import KINDS, PROFILES
from tests.browser.conftest import need_chromium

REPO = Path(__file__).resolve().parents[2]


def test_network_bench_measures_every_profile_and_visit(tmp_path: Path) -> None:
    """One run of each profile gives seconds, requests and bytes for the login page, the
    first and the repeat visit; a repeat visit moves fewer bytes than a first one."""
    need_chromium()
    out = tmp_path / "net.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.network", "--runs", "1", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert set(result) == set(PROFILES)
    for r in result.values():
        assert set(r) == set(KINDS)
        for x in r.values():
            assert x["seconds_median"] > 0 and x["requests"] > 0 and x["bytes"] > 0
        assert r["repeat"]["bytes"] < r["first"]["bytes"]

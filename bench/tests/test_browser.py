"""The browser benchmark end to end at demo size with a few-second stream:
`python -m bench.browser --size demo`. It checks that every measure is produced, not the
budgets: those are speeds, recorded in docs/benchmarks.md, not asserted by a unit test.

Needs Chromium at /usr/bin/chromium (skips without it, fails under
``HUB_TEST_REQUIRE_SERVICES=1``). Run with: .venv/bin/python -m pytest bench/tests
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.browser import MARK_END, MARK_START, verdicts
from tests.browser.conftest import need_chromium

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_short_run_produces_every_measure(tmp_path: Path) -> None:
    """A demo-sized run with a 3 s stream and a few seconds left open yields every
    measure of issue 18's budgets, for every page, and writes its section and JSON."""
    need_chromium()
    out, raw = tmp_path / "benchmarks.md", tmp_path / "browser.json"
    out.write_text("# Benchmarks\n\nkept\n")
    cmd = [sys.executable, "-m", "bench.browser", "--size", "demo", "--repeats", "1"]
    cmd += ["--stream-seconds", "3", "--flat-minutes", "0.1", "--flat-every", "2"]
    cmd += ["--out", str(out), "--json", str(raw)]
    cmd += ["--screenshot", str(tmp_path / "c.png"), "--screenshot-size", "demo"]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    r = json.loads(raw.read_text())
    demo = r["sizes"]["demo"]
    assert demo["data"]["unit_items"] == 15
    for name, _budget, values, _met in verdicts(r):
        assert values["demo"] is not None, name
    stream = demo["stream"]
    assert stream["posted"] == 30 and stream["latency"]["n"] == stream["shown"] > 0
    assert stream["long_tasks"]["supported"]
    assert stream["clicks"]["n"] >= 1 and stream["clicks"]["failed"] == 0
    assert len(demo["left_open"]["samples"]) >= 3
    assert all(s["heap_mb"] > 0 and s["elements"] > 0 for s in demo["left_open"]["samples"])
    assert stream["js_errors"] == demo["left_open"]["js_errors"] == []
    text = out.read_text()
    assert text.startswith("# Benchmarks\n\nkept\n")
    assert MARK_START in text and MARK_END in text and "| measure | demo |" in text
    assert (tmp_path / "c.png").stat().st_size > 10_000

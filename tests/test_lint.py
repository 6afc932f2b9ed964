"""The code style and types are checked by the test command, so CI and a developer agree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_ruff_lint() -> None:
    """ruff finds nothing to complain about in hub/, tests/ and bench/."""
    r = _run("ruff", "check", "hub", "tests", "bench")
    assert r.returncode == 0, r.stdout + r.stderr


def test_ruff_format() -> None:
    """The code is formatted as `ruff format` would."""
    r = _run("ruff", "format", "--check", "hub", "tests", "bench")
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_strict() -> None:
    """hub/ type-checks under mypy --strict."""
    r = _run("mypy")
    assert r.returncode == 0, r.stdout + r.stderr

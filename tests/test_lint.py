"""The code style and types are checked by the test command, so CI and a developer agree."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.utils.backends import REQUIRE

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


JS_LINT = ROOT / "tests" / "js"


def _need_node() -> None:
    if shutil.which("node") and shutil.which("npm"):
        return
    msg = "node and npm are needed to lint static/js: apt-get install nodejs npm"
    if REQUIRE:
        pytest.fail(msg + " (HUB_TEST_REQUIRE_SERVICES=1)")
    pytest.skip(msg)


def test_web_client_lint() -> None:
    """ESLint finds no undefined name, unused binding or unreachable code in static/js (its
    pinned version is installed into tests/js/node_modules by `npm ci` on first use)."""
    _need_node()
    eslint = JS_LINT / "node_modules" / ".bin" / "eslint"
    if not eslint.exists():
        r = subprocess.run(
            ["npm", "ci", "--silent", "--no-audit", "--no-fund"],
            cwd=JS_LINT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run(
        [str(eslint), "--max-warnings", "0", "-c", str(JS_LINT / "eslint.config.mjs"), "static/js"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_web_client_parts_without_a_page() -> None:
    """The pages' parts (every static/js module but the five page entry points) import in
    Node without a DOM and start nothing, and their logic holds: the two languages' tables
    agree, every `t("key")` exists, errors are translated from their code and parameters,
    countdowns and the picker's search (tests/js/units.test.mjs, `node --test`)."""
    _need_node()
    r = subprocess.run(
        [
            "node",
            "--experimental-default-type=module",
            "--test",
            "--test-force-exit",
            str(JS_LINT / "units.test.mjs"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]

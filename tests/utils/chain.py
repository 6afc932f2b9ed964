"""The end of every fault and cluster test: `hub verify` over the test's database."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from typing import Any

import orjson

from tests.utils import TIMEOUT


async def assert_chain_ok(db_url: str, messages: int = 1) -> dict[str, Any]:
    """Run ``python -m hub verify`` on ``db_url``: it must exit 0 with no broken link and
    have walked at least ``messages`` messages (so an empty log cannot pass). The report."""

    def run() -> subprocess.CompletedProcess[bytes]:
        with tempfile.TemporaryDirectory(prefix="hub-verify-") as data_dir:
            env = {**os.environ, "HUB_DATABASE_URL": db_url, "HUB_DATA_DIR": data_dir}
            return subprocess.run(
                [sys.executable, "-m", "hub", "verify"],
                env=env,
                capture_output=True,
                timeout=TIMEOUT * 6,
            )

    done = await asyncio.to_thread(run)
    assert done.stdout, f"hub verify printed nothing: {done.stderr.decode()[-2000:]}"
    report: dict[str, Any] = orjson.loads(done.stdout)
    assert report["breaks"] == [] and done.returncode == 0, f"hub verify: {report['breaks']}"
    assert report["ok"] is True
    assert report["messages"] >= messages, f"hub verify walked {report['messages']} messages"
    return report

"""The `hub` command: migrate, user add, token, and `serve --demo` as the README runs it."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

from tests.utils import TIMEOUT
from tests.utils.client import Client


def _hub(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HUB_DATA_DIR": str(tmp), "HUB_DATABASE_URL": ""}
    return subprocess.run(
        [sys.executable, "-m", "hub", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_user_add_and_token_print_json(tmp_path: Path) -> None:
    """`hub user add` prints the new id and a token; `hub token` a fresh one; errors exit 2."""
    assert _hub(tmp_path, "migrate").returncode == 0
    r = _hub(tmp_path, "user", "add", "--username", "li", "--name", "李", "--role", "supervisor")
    assert r.returncode == 0, r.stderr
    created = json.loads(r.stdout)
    assert created["id"] == 1 and created["token"].count(".") == 1
    r = _hub(tmp_path, "token", "li")
    assert r.returncode == 0 and json.loads(r.stdout)["id"] == 1
    r = _hub(tmp_path, "token", "nobody")
    assert r.returncode == 2 and "not_found" in r.stderr
    r = _hub(tmp_path, "user", "add", "--username", "li", "--role", "admin")
    assert r.returncode == 2 and "taken" in r.stderr


async def test_serve_demo_prints_url_and_logins_that_work(tmp_path: Path) -> None:
    """`hub serve --demo` migrates, seeds, prints the URL and the demo logins, and those
    logins work over HTTP and WebSocket."""
    env = {**os.environ, "HUB_DATA_DIR": str(tmp_path), "HUB_DATABASE_URL": ""}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub", "serve", "--demo", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), TIMEOUT * 3)]
        while "daibiao1" not in lines[-1]:
            lines.append(await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), TIMEOUT))
        out = "".join(lines)
        url = re.search(r"(http://127\.0\.0\.1:\d+)/", out)
        assert url is not None and "mishu" in out and "demo2026" in out
        base = url.group(1)
        async with httpx.AsyncClient(base_url=base) as http:
            for _ in range(100):
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    await asyncio.sleep(0.1)
            r = await http.post("/api/login", json={"username": "daibiao1", "password": "demo2026"})
            assert r.status_code == 200
            token = r.json()["token"]
            assert (await http.get("/")).status_code in (200, 307)
        c = await Client.connect(base.replace("http", "ws") + "/ws", token)
        assert c.welcome["user"]["name"] == "王建国"
        await c.close()
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout:
            proc.stdout.close()

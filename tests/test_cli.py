"""The `hub` command: migrate, user add, token, and `serve --demo` as the README runs it."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import orjson

from hub import demo
from hub.store.engine import make_engine
from hub.store.log import MessageLog
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


def test_user_add_is_in_the_setup_log(tmp_path: Path) -> None:
    """An account made on the server is logged on setup:1 like one made on the console,
    sent by the hub itself; a refused one leaves no message."""
    assert _hub(tmp_path, "migrate").returncode == 0
    assert (
        _hub(
            tmp_path, "user", "add", "--username", "wang", "--name", "王", "--role", "admin"
        ).returncode
        == 0
    )
    assert _hub(tmp_path, "user", "add", "--username", "wang", "--role", "admin").returncode == 2

    async def read() -> list[Any]:
        engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'hub.sqlite3'}")
        try:
            return await MessageLog(engine).read("setup:1", 0, 100)
        finally:
            await engine.dispose()

    (m,) = asyncio.run(read())
    assert (m.kind, m.sender_id, m.sender_role) == ("setup.account_created", 0, "system")
    assert orjson.loads(m.body)["account"] == {
        "id": 1,
        "username": "wang",
        "name": "王",
        "role": "admin",
    }


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


def test_serve_on_a_busy_port_says_so_in_one_line(tmp_path: Path) -> None:
    """`hub serve --port P` with P taken: exit 1, one line on stderr naming the port and
    the fix, no traceback, and no database created."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        r = _hub(tmp_path, "serve", "--demo", "--port", str(port))
    assert r.returncode == 1
    assert "Traceback" not in r.stderr and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert f"port {port}" in lines[0] and "in use" in lines[0] and "--port" in lines[0]
    assert "stop the program" in lines[0]
    assert not list(tmp_path.iterdir())  # failed before migrating or seeding


def test_migrate_and_demo_print_no_alembic_info(tmp_path: Path) -> None:
    """`hub migrate` and `hub demo` leave out Alembic's INFO lines."""
    for args in (("migrate",), ("demo",)):
        r = _hub(tmp_path, *args)
        assert r.returncode == 0, r.stderr
        assert "alembic" not in r.stdout + r.stderr, (args, r.stderr)


async def test_serve_demo_ends_with_the_url_and_logins(tmp_path: Path) -> None:
    """On `hub serve --demo` no Alembic INFO line comes before the banner: the URL and the
    demo logins are the last lines on the screen."""
    env = {**os.environ, "HUB_DATA_DIR": str(tmp_path), "HUB_DATABASE_URL": ""}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub", "serve", "--demo", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        last_login = demo.logins()[-1][0]
        lines = [await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), TIMEOUT * 3)]
        while last_login not in lines[-1]:
            lines.append(await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), TIMEOUT))
        assert not [x for x in lines if "alembic" in x], lines
        assert lines[0].startswith("Session Hub listening on http://127.0.0.1:"), lines
        url = re.search(r"http://127\.0\.0\.1:\d+", lines[0])
        assert url is not None
        async with httpx.AsyncClient(base_url=url.group(0)) as http:
            for _ in range(100):
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    await asyncio.sleep(0.1)
        proc.kill()
        proc.wait()
        assert proc.stdout.read() == ""  # started and serving: nothing after the logins
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout:
            proc.stdout.close()


def test_user_add_reports_each_missing_reference_on_its_own(tmp_path: Path) -> None:
    """`hub user add`: a missing meeting, delegation or unit and a taken username each get
    their own one-line error, exit 2, and nothing is created."""
    assert _hub(tmp_path, "demo").returncode == 0
    cases = [
        (["--username", "x1", "--role", "deputy", "--meeting", "999"], "meeting 999 does not"),
        (["--username", "x2", "--role", "deputy", "--delegation", "999"], "delegation 999 does"),
        (["--username", "x3", "--role", "unit", "--unit", "999"], "unit 999 does not exist"),
        (
            ["--username", "daibiao1", "--role", "deputy", "--delegation", "1"],
            "'daibiao1' is taken",
        ),
    ]
    for args, expected in cases:
        r = _hub(tmp_path, "user", "add", *args)
        assert r.returncode == 2, (args, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], (args, r.stderr)
        assert "Integrity" not in r.stderr and "Traceback" not in r.stderr
        assert " or " not in lines[0]  # one cause, not two
        assert _hub(tmp_path, "token", args[1]).returncode == (0 if args[1] == "daibiao1" else 2)
    # A new account in an existing delegation and meeting still works.
    r = _hub(
        tmp_path,
        "user",
        "add",
        "--username",
        "x4",
        "--role",
        "deputy",
        "--delegation",
        "1",
        "--meeting",
        "1",
    )
    assert r.returncode == 0, r.stderr


def test_user_add_takes_the_rosters_phone(tmp_path: Path) -> None:
    """`hub user add --phone` stores the number normalised (spaces, hyphens and +86
    dropped), `--contact` the preferred contact; a malformed one is a one-line error naming `phone` that does not repeat the
    number, and nothing is created."""
    import sqlite3

    assert _hub(tmp_path, "migrate").returncode == 0
    r = _hub(tmp_path, "user", "add", "--username", "wang", "--role", "supervisor",
             "--phone", "+86 139-0580-1234", "--contact", "wechat")  # fmt: skip
    assert r.returncode == 0, r.stderr
    r = _hub(tmp_path, "user", "add", "--username", "li", "--role", "supervisor",
             "--phone", "2345-678")  # fmt: skip
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "`phone`" in r.stderr
    assert "2345-678" not in r.stderr
    with sqlite3.connect(tmp_path / "hub.sqlite3") as db:
        rows = db.execute(
            "select username, phone, preferred_contact from users order by id"
        ).fetchall()
    assert rows == [("wang", "13905801234", "wechat")]

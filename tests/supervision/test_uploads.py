"""Uploads (registration evidence, meeting documents): the caller and the target are checked
before the body is read, and a refused, failed or abandoned upload leaves no file on disk."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from hub.config import Settings
from tests.supervision.test_registrations import register
from tests.utils import TIMEOUT
from tests.utils.factories import World
from tests.utils.faults import until
from tests.utils.servers import RunningHub, running_hub

LIMIT = 256 * 1024
BODY = b"\x89PNG" + b"x" * (LIMIT - 4)  # as large as an accepted upload may be


def stored_files(data_dir: Path) -> list[Path]:
    """Every file under the content store, temporary ones included."""
    return [p for p in (Path(data_dir) / "files").rglob("*") if p.is_file()]


async def _over_limit() -> AsyncIterator[bytes]:
    """A body with no Content-Length that passes the limit while it streams."""
    for _ in range(5):
        yield b"y" * (LIMIT // 4)


async def _refusals(h: RunningHub, world: World) -> list[tuple[int, str]]:
    """One of each refused upload; each answer's ``(status, code)``."""
    d0, d1 = world.deputies[:2]
    mine = await register(h, world, d0)
    theirs = await register(h, world, d1)
    decided = await register(h, world, d0)
    headers = {"authorization": f"Bearer {world.tok(world.supervisor)}"}
    async with httpx.AsyncClient(base_url=h.url, timeout=TIMEOUT, headers=headers) as c:
        assert (await c.post(f"/api/registrations/{decided['id']}/confirm")).status_code == 200
    out: list[tuple[int, str]] = []

    async def put(user: int, rid: int, content: Any) -> None:
        async with httpx.AsyncClient(base_url=h.url, timeout=TIMEOUT) as c:
            r = await c.put(
                f"/api/registrations/{rid}/attachment",
                params={"filename": "现场.png"},
                content=content,
                headers={"authorization": f"Bearer {world.tok(user)}"},
            )
        out.append((r.status_code, r.json()["code"]))

    async def post(user: int, meeting: int, content: Any, title: str = "文件") -> None:
        async with httpx.AsyncClient(base_url=h.url, timeout=TIMEOUT) as c:
            r = await c.post(
                f"/api/meetings/{meeting}/documents",
                params={"filename": "报告.pdf", "title": title},
                content=content,
                headers={"authorization": f"Bearer {world.tok(user)}"},
            )
        out.append((r.status_code, r.json()["code"]))

    await put(d0, 999_999, BODY)  # no such registration
    await put(d0, theirs["id"], BODY)  # another deputy's
    await put(d0, decided["id"], BODY)  # already decided
    await put(d0, mine["id"], _over_limit())  # too large, found while streaming
    await put(d0, mine["id"], BODY + b"z")  # too large, declared
    await post(world.deputies[0], world.meeting, BODY)  # not the secretariat
    await post(world.secretariat, 999_999, BODY)  # no such meeting
    await post(world.secretariat, world.meeting, _over_limit())
    await post(world.secretariat, world.meeting, BODY, title="题" * 301)  # refused after the body
    return out


async def test_refused_uploads_leave_no_file(settings: Settings, world: World) -> None:
    """Uploads to a missing or foreign target, over the limit, or refused after the body was
    read get their exact code, and the store holds no file afterwards, temporary or kept."""
    async with running_hub(settings.with_(upload_limit=LIMIT)) as h:
        got: list[tuple[int, str]] = []
        for _ in range(10):
            got = await _refusals(h, world)
        assert got == [
            (404, "not_found"), (403, "forbidden"), (409, "conflict"),
            (413, "too_large"), (413, "too_large"),
            (403, "forbidden"), (404, "not_found"), (413, "too_large"),
            (400, "bad_request"),
        ]  # fmt: skip
        assert stored_files(h.services.settings.data_dir) == []


async def test_an_upload_cut_mid_body_leaves_no_file(settings: Settings, world: World) -> None:
    """A client that hangs up halfway through its body leaves no temporary file and no
    attachment."""
    async with running_hub(settings.with_(upload_limit=LIMIT)) as h:
        data_dir = h.services.settings.data_dir
        reg = await register(h, world, world.deputies[0])
        port = int(h.url.rsplit(":", 1)[1])
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            (
                f"PUT /api/registrations/{reg['id']}/attachment?filename=a.png HTTP/1.1\r\n"
                f"host: 127.0.0.1\r\nauthorization: Bearer {world.tok(world.deputies[0])}\r\n"
                f"content-length: {LIMIT}\r\n\r\n"
            ).encode()
            + BODY[: LIMIT // 2]
        )
        await writer.drain()
        await until(lambda: stored_files(data_dir) != [])  # the server is writing the body
        writer.close()
        await writer.wait_closed()
        await until(lambda: stored_files(data_dir) == [])
        headers = {"authorization": f"Bearer {world.tok(world.deputies[0])}"}
        async with httpx.AsyncClient(base_url=h.url, timeout=TIMEOUT, headers=headers) as c:
            assert (await c.get(f"/api/registrations/{reg['id']}")).json()["attachment"] is None

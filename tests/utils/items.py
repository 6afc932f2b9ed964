"""Helpers for the opinion, item and suggestion tests: an HTTP caller that acts as any
user of the world, inboxes over real WebSockets, item factories and database snapshots."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import sqlalchemy as sa

from hub.session.calendar import calendar_days
from hub.session.deadline_rules import deadline_rules
from hub.session.deadlines import deadline_alerts, task_leases
from hub.session.items import item_deputies, item_evaluations, item_events, item_units, items
from hub.session.opinions import opinions
from hub.store.schema import channels, messages
from tests.utils import TIMEOUT
from tests.utils.client import Client
from tests.utils.factories import World
from tests.utils.servers import RunningHub

# Every table the workflows of opinions, items and suggestions write, and the log.
TABLES = (
    opinions,
    items,
    item_units,
    item_deputies,
    item_evaluations,
    item_events,
    deadline_alerts,
    deadline_rules,
    calendar_days,
    task_leases,
    messages,
    channels,
)


class Api:
    """HTTP calls as any user of the world, checking the status of each answer."""

    def __init__(self, hub: RunningHub, world: World) -> None:
        self.hub = hub
        self.world = world
        self.http = httpx.AsyncClient(base_url=hub.url, timeout=TIMEOUT)

    async def __aenter__(self) -> Api:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    async def call(
        self,
        user: int,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        status: int = 200,
        params: dict[str, Any] | None = None,
    ) -> Any:
        r = await self.http.request(
            method,
            path,
            json=body,
            params=params,
            headers={"authorization": f"Bearer {self.world.tok(user)}"},
        )
        assert r.status_code == status, f"{method} {path} -> {r.status_code} {r.text}"
        return r.json()

    async def post(
        self, user: int, path: str, body: dict[str, Any] | None = None, status: int = 200
    ) -> Any:
        return await self.call(user, "POST", path, body if body is not None else {}, status)

    async def get(self, user: int, path: str, **params: Any) -> Any:
        return await self.call(user, "GET", path, params=params)

    async def refused(
        self, user: int, path: str, body: dict[str, Any] | None, code: str
    ) -> dict[str, Any]:
        """POST that must fail with ``code``; the error body."""
        status = {"bad_request": 400, "forbidden": 403, "not_found": 404, "conflict": 409}[code]
        err: dict[str, Any] = await self.post(user, path, body, status=status)
        assert err["code"] == code, err
        return err

    # -- factories ---------------------------------------------------------------------

    async def opinion(self, deputy: int, text: str = "建议增加公交班次", **extra: Any) -> Any:
        return await self.post(
            deputy,
            "/api/opinions",
            {"meeting_id": self.world.meeting, "text": text, **extra},
            status=201,
        )

    async def commit_item(
        self,
        deputies: list[int] | None = None,
        lead: int | None = None,
        co: list[int] | None = None,
        **extra: Any,
    ) -> Any:
        """A commit-to-do item made from one opinion of each deputy (default: the first two)."""
        w = self.world
        deps = deputies if deputies is not None else w.deputies[:2]
        ids = [(await self.opinion(d, f"代表{d}的意见"))["id"] for d in deps]
        body = {
            "opinion_ids": ids,
            "title": "公交线路调整",
            "lead_unit_id": lead if lead is not None else w.units[0],
            "co_unit_ids": co or [],
            **extra,
        }
        return await self.post(w.secretariat, "/api/items", body, status=201)

    async def suggestion(self, author: int, cosigners: list[int] | None = None) -> Any:
        return await self.post(
            author,
            "/api/suggestions",
            {
                "meeting_id": self.world.meeting,
                "title": "关于加强海岛交通建设的建议",
                "text": "建议增开夜间航班……",
                "cosigner_ids": cosigners or [],
            },
            status=201,
        )


async def inbox(hub: RunningHub, world: World, user: int, channel: str) -> Client:
    """A live WebSocket client of ``user`` subscribed to ``channel`` from its start."""
    c = await Client.connect(hub.ws_url, world.tok(user))
    await c.subscribe(channel, since=0)
    return c


WORKFLOW = ("opinion.", "item.", "suggestion.")


async def flow(c: Client, n: int, channel: str) -> list[dict[str, Any]]:
    """The next ``n`` messages of this area on ``channel`` (others, e.g. presence on the
    desk, are skipped), checking they come in seq order."""
    out: list[dict[str, Any]] = []
    last = 0
    while len(out) < n:
        m = (await c.messages(1, channel))[0]
        assert m["seq"] > last
        last = m["seq"]
        if m["kind"].startswith(WORKFLOW):
            out.append(m)
    return out


async def kinds(c: Client, n: int, channel: str) -> list[str]:
    return [m["kind"] for m in await flow(c, n, channel)]


async def snapshot(hub: RunningHub) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every workflow table and of the log, to compare before and after."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    async with hub.services.engine.connect() as conn:
        for t in TABLES:
            rows = await conn.execute(sa.select(t).order_by(*t.primary_key.columns))
            out[t.name] = [tuple(r) for r in rows]
    return out


async def rows(hub: RunningHub, table: sa.Table, *where: Any) -> list[Any]:
    async with hub.services.engine.connect() as conn:
        return list(await conn.execute(sa.select(table).where(*where)))


def at(text: str) -> datetime:
    """A local time in the congress's zone, e.g. ``at("2026-09-30 10:00")``."""
    return datetime.fromisoformat(text)

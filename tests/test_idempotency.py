"""``Idempotency-Key`` on HTTP writes (hub/api/idempotency.py), on SQLite and PostgreSQL:
a repeat gets the first answer and writes nothing, another request with the key is
refused, keys are per account, and concurrent repeats store once."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import sqlalchemy as sa

from hub.api.idempotency import STALE, idempotency_keys
from hub.session.opinions import opinions
from hub.store.schema import messages
from tests.utils.factories import World
from tests.utils.servers import RunningHub


async def _count(hub: RunningHub, table: sa.Table) -> int:
    async with hub.services.engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one())


async def _counts(hub: RunningHub) -> tuple[int, int]:
    return await _count(hub, opinions), await _count(hub, messages)


def _headers(world: World, user: int, key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {world.tok(user)}", "idempotency-key": key}


async def test_a_repeat_gets_the_first_answer_and_writes_nothing(
    hub: RunningHub, world: World
) -> None:
    """The same opinion sent twice with one key: one opinion and its messages stored; the
    second answer is the first's (same id), marked `Idempotency-Replayed`."""
    d0 = world.deputies[0]
    body = {"meeting_id": world.meeting, "text": "离线写的意见"}
    async with httpx.AsyncClient(base_url=hub.url) as http:
        before = await _counts(hub)
        first = await http.post("/api/opinions", json=body, headers=_headers(world, d0, "k-1"))
        assert first.status_code == 201, first.text
        after_first = await _counts(hub)
        assert after_first[0] == before[0] + 1 and after_first[1] > before[1]
        again = await http.post("/api/opinions", json=body, headers=_headers(world, d0, "k-1"))
        assert again.status_code == 201
        assert again.json() == first.json()
        assert again.headers["idempotency-replayed"] == "true"
        assert "idempotency-replayed" not in first.headers
        assert await _counts(hub) == after_first


async def test_another_request_with_a_used_key_is_refused(hub: RunningHub, world: World) -> None:
    """A key used for one opinion, sent with another text: 422 key_reused, nothing stored."""
    d0 = world.deputies[0]
    headers = _headers(world, d0, "k-2")
    async with httpx.AsyncClient(base_url=hub.url) as http:
        r = await http.post(
            "/api/opinions", json={"meeting_id": world.meeting, "text": "一"}, headers=headers
        )
        assert r.status_code == 201
        before = await _counts(hub)
        r = await http.post(
            "/api/opinions", json={"meeting_id": world.meeting, "text": "二"}, headers=headers
        )
        assert r.status_code == 422, r.text
        assert r.json()["code"] == "key_reused"
        assert await _counts(hub) == before


async def test_keys_are_per_account(hub: RunningHub, world: World) -> None:
    """Two deputies using the same key each get their own opinion stored."""
    body = {"meeting_id": world.meeting, "text": "同一个编号"}
    async with httpx.AsyncClient(base_url=hub.url) as http:
        before = await _count(hub, opinions)
        ids = set()
        for d in world.deputies[:2]:
            r = await http.post("/api/opinions", json=body, headers=_headers(world, d, "shared"))
            assert r.status_code == 201, r.text
            assert r.json()["deputy_id"] == d
            ids.add(r.json()["id"])
        assert len(ids) == 2
        assert await _count(hub, opinions) == before + 2


async def test_concurrent_repeats_store_once(hub: RunningHub, world: World) -> None:
    """Eight copies of one request with one key sent at once: one opinion stored, every
    answer is the same opinion."""
    d0 = world.deputies[0]
    body = {"meeting_id": world.meeting, "text": "并发重发"}
    async with httpx.AsyncClient(base_url=hub.url) as http:
        before = await _count(hub, opinions)

        async def send() -> httpx.Response:
            return await http.post("/api/opinions", json=body, headers=_headers(world, d0, "k-3"))

        answers = await asyncio.gather(*(send() for _ in range(8)))
        assert {r.status_code for r in answers} == {201}, [r.text for r in answers]
        assert len({r.json()["id"] for r in answers}) == 1
        assert await _count(hub, opinions) == before + 1


async def test_a_refusal_is_kept_but_a_retryable_answer_is_not(
    hub: RunningHub, world: World
) -> None:
    """A 404 (nothing to retry) is answered again as stored; a bad key is a 400 naming the
    header; a request without a token is left to the endpoint (401) and keeps no key."""
    d0 = world.deputies[0]
    async with httpx.AsyncClient(base_url=hub.url) as http:
        missing = {"meeting_id": 99999, "text": "x"}
        for _ in range(2):
            r = await http.post("/api/opinions", json=missing, headers=_headers(world, d0, "k-4"))
            assert r.status_code == 404
        assert r.headers["idempotency-replayed"] == "true"
        r = await http.post("/api/opinions", json=missing, headers=_headers(world, d0, "a b"))
        assert r.status_code == 400 and r.json()["field"] == "Idempotency-Key", r.text
        r = await http.post("/api/opinions", json=missing, headers={"idempotency-key": "k-5"})
        assert r.status_code == 401
    async with hub.services.engine.connect() as conn:
        keys = set((await conn.execute(sa.select(idempotency_keys.c.key))).scalars())
    assert keys == {"k-4"}


async def test_a_claim_left_pending_is_taken_over_after_it_goes_stale(
    hub: RunningHub, world: World
) -> None:
    """A pending claim (its node died before answering) makes a repeat wait; once older than
    STALE the repeat runs the request itself."""
    d0 = world.deputies[0]
    body = {"meeting_id": world.meeting, "text": "节点中断"}
    clock = hub.services.clock
    now = clock.now()
    async with hub.services.engine.begin() as conn:
        await conn.execute(
            idempotency_keys.insert().values(
                account_id=d0, key="k-6", fingerprint="x" * 64, state="pending",
                created_at=now - STALE * 2,
            )
        )  # fmt: skip
    async with httpx.AsyncClient(base_url=hub.url) as http:
        r = await http.post("/api/opinions", json=body, headers=_headers(world, d0, "k-6"))
        assert r.status_code == 201, r.text


def _kinds(doc: dict[str, Any], path: str, method: str) -> list[str]:
    return [p["name"] for p in doc["paths"][path][method].get("parameters", [])]


async def test_the_openapi_document_names_the_header_on_writes(hub: RunningHub) -> None:
    """Every authenticated write takes `Idempotency-Key` and may answer 422; reads and the
    login do not take it."""
    async with httpx.AsyncClient(base_url=hub.url) as http:
        doc = (await http.get("/openapi.json")).json()
    assert "Idempotency-Key" in _kinds(doc, "/api/opinions", "post")
    assert "422" in doc["paths"]["/api/opinions"]["post"]["responses"]
    assert "Idempotency-Key" not in _kinds(doc, "/api/opinions", "get")
    assert "Idempotency-Key" not in _kinds(doc, "/api/login", "post")

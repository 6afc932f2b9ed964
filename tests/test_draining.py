"""One guard refuses writes while a node drains: ``Node.work``, which every transaction
(``Node.writing``), raw publish and receipt goes through. Workflow actions, supervision
writes and raw publishes alike get ``unavailable`` (503) and store nothing; reads still
answer."""

from __future__ import annotations

from tests.utils.factories import World
from tests.utils.items import Api
from tests.utils.servers import RunningHub


async def test_every_kind_of_write_is_refused_while_draining(hub: RunningHub, world: World) -> None:
    node = hub.services.node
    dep = world.deputies[0]
    async with Api(hub, world) as api:
        before = await hub.services.log.head(f"desk:{world.meeting}")
        await node.drain(0.1)
        try:
            writes = [
                (dep, "/api/opinions", {"meeting_id": world.meeting, "text": "请修路"}),
                (
                    dep,
                    "/api/registrations",
                    {
                        "kind": "research",
                        "activity_date": "2026-03-01",
                        "title": "调研",
                        "text": "走访",
                    },
                ),
                (
                    world.secretariat,
                    f"/api/meetings/{world.meeting}/notices",
                    {"title": "通知", "text": "请出席"},
                ),
                (
                    world.secretariat,
                    f"/api/channels/meeting:{world.meeting}/messages",
                    {"kind": "bulletin", "body": {"t": "x"}},
                ),
            ]
            for who, path, body in writes:
                err = await api.post(who, path, body, status=503)
                assert err["code"] == "unavailable", (path, err)
            assert (await api.get(dep, "/api/opinions", meeting_id=world.meeting))["opinions"] == []
        finally:
            node.draining = False
        assert await hub.services.log.head(f"desk:{world.meeting}") == before

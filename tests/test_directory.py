"""Names of delegations and units: any signed-in user may read them, nobody else."""

from __future__ import annotations

import httpx

from tests.utils.factories import World
from tests.utils.servers import RunningHub
from tests.utils.session import http


async def test_every_signed_in_user_reads_delegation_and_unit_names(
    hub: RunningHub, world: World
) -> None:
    """Deputies (also one of no meeting of theirs), units and staff all get every
    delegation and unit with its name, by id; without a token it is 401."""
    d1, d2 = world.delegations
    u1, u2 = world.units
    everyone = [
        world.deputies[0],
        world.outsider,
        world.unit_users[1],
        world.secretariat,
        world.supervisor,
        world.admin,
    ]
    for who in everyone:
        async with http(hub.url, world.tok(who)) as c:
            r = await c.get("/api/delegations")
            assert r.status_code == 200, r.text
            assert r.json() == {
                "delegations": [{"id": d1, "name": "一团"}, {"id": d2, "name": "二团"}]
            }
            r = await c.get("/api/units")
            assert r.status_code == 200, r.text
            assert r.json() == {"units": [{"id": u1, "name": "交通局"}, {"id": u2, "name": "法院"}]}
    async with httpx.AsyncClient(base_url=hub.url) as anon:
        for path in ("/api/delegations", "/api/units"):
            r = await anon.get(path)
            assert r.status_code == 401 and r.json()["code"] == "unauthorized"

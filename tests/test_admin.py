"""Account management over HTTP."""

from __future__ import annotations

import httpx

from tests.utils.factories import World, tokens
from tests.utils.servers import RunningHub


async def test_staff_list_accounts(hub: RunningHub, world: World) -> None:
    """The secretariat lists every account with its role, delegation and unit."""
    sec = tokens.issue(world.secretariat, 0)
    async with httpx.AsyncClient(base_url=hub.url) as http:
        r = await http.get("/api/admin/users", headers={"authorization": f"Bearer {sec}"})
    assert r.status_code == 200, r.text
    users = {u["id"]: u for u in r.json()["users"]}
    assert users[world.deputies[0]]["role"] == "deputy"
    assert users[world.deputies[0]]["delegation_id"] == world.delegations[0]
    assert users[world.unit_users[0]]["unit_id"] == world.units[0]

"""The edge inputs that were server errors are refused with 400 `bad_request` naming the
parameter: dates at the ends of the calendar, a cursor holding a boolean or a number past
BIGINT, a user id past 64 bits, a search text holding NUL."""

from __future__ import annotations

import base64

import orjson
import pytest

from tests.supervision.helpers import http, publish
from tests.utils.factories import World
from tests.utils.servers import RunningHub


def _cursor(after: object) -> str:
    raw = orjson.dumps({"after": after, "desc": False})
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


CASES = [
    ("/api/archive/messages", {"since": "0001-01-01"}, "since"),
    ("/api/archive/messages", {"until": "9999-12-31T23:59:59-14:00"}, "until"),
    ("/api/archive/messages", {"since": "0001-01-01T00:00:00+14:00"}, "since"),
    ("/api/archive/messages", {"cursor": _cursor(True)}, "cursor"),
    ("/api/archive/export/messages", {"until": "0001-01-01"}, "until"),
    ("/api/statistics", {"from": "0001-01-01", "to": "9999-12-31"}, "from"),
    ("/api/statistics", {"to": "9999-12-31"}, "to"),
    ("/api/archive/export/receipts", {"user": str(2**64)}, "user"),
    ("/api/archive/export/receipts", {"user": str(2**63)}, "user"),
    ("/api/archive/messages", {"q": "通知\x00"}, "q"),  # PostgreSQL refuses NUL in text
    ("/api/archive/export/messages", {"q": "\x00"}, "q"),
    ("/api/archive/messages", {"kind": "notice\x00"}, "kind"),
]


@pytest.mark.parametrize(("path", "params", "name"), CASES)
async def test_edge_input_is_a_bad_request(
    hub: RunningHub, world: World, path: str, params: dict[str, str], name: str
) -> None:
    """Each answers 400 bad_request, its message names the parameter, and the archive
    still answers afterwards."""
    await publish(hub, world, f"meeting:{world.meeting}", {"text": "通知"})
    async with http(hub, world, world.supervisor) as c:
        r = await c.get(path, params=params)
        assert r.status_code == 400, r.text
        assert r.json()["code"] == "bad_request" and f"`{name}`" in r.json()["message"]
        assert (await c.get("/api/archive/messages")).status_code == 200


async def test_a_cursor_past_bigint_is_a_bad_request(hub: RunningHub, world: World) -> None:
    """A cursor whose position is past 2**63 - 1 is refused, not sent to the database."""
    big = base64.urlsafe_b64encode(b'{"after": 9223372036854775808, "desc": false}').decode()
    async with http(hub, world, world.supervisor) as c:
        r = await c.get("/api/archive/messages", params={"cursor": big.rstrip("=")})
    assert r.status_code == 400 and r.json()["code"] == "bad_request", r.text

"""/openapi.json describes exactly the HTTP routes the app serves."""

from __future__ import annotations

import re

import httpx
import msgspec
from starlette.applications import Starlette
from starlette.routing import Route

from hub.session import lifecycle as lc
from hub.session.opinions import Opinion, SubmitOpinion
from tests.utils.factories import World
from tests.utils.servers import RunningHub

# The pages and the client's files are not the API.
UNDESCRIBED = {"/", "/openapi.json", "/favicon.ico", "/static/{path:path}"}


def _served(app: Starlette) -> set[tuple[str, str]]:
    out = set()
    for r in app.routes:
        if isinstance(r, Route) and r.path not in UNDESCRIBED:
            path = re.sub(r"\{(\w+)(:\w+)?\}", r"{\1}", r.path)
            for m in r.methods or ():
                if m != "HEAD":
                    out.add((path, m.lower()))
    return out


async def test_every_route_is_described_and_nothing_else(hub: RunningHub) -> None:
    """Each served (path, method) has an operation in the document, and vice versa; no two
    components share a name."""
    async with httpx.AsyncClient(base_url=hub.url) as c:
        doc = (await c.get("/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    described = {(p, m) for p, ops in doc["paths"].items() for m in ops}
    assert described == _served(hub.app)
    for ops in doc["paths"].values():
        for op in ops.values():
            assert op["summary"] and op["responses"]
    # msgspec qualifies the names of two Structs called alike: one name, one shape
    assert [n for n in doc["components"]["schemas"] if "." in n] == []


async def test_request_bodies_and_answers_are_the_structs(hub: RunningHub, world: World) -> None:
    """A converted operation's body and answer in the document are the components msgspec
    derives from the Structs the handlers decode (each lifecycle action: its ``input``),
    and a body that does not fit is refused with the field at fault named."""
    async with httpx.AsyncClient(base_url=hub.url) as c:
        doc = (await c.get("/openapi.json")).json()
        _, mine = msgspec.json.schema_components(
            [SubmitOpinion, Opinion], ref_template="#/components/schemas/{name}"
        )
        for name, schema in mine.items():
            assert doc["components"]["schemas"][name] == schema, name
        post = doc["paths"]["/api/opinions"]["post"]
        body = post["requestBody"]["content"]["application/json"]["schema"]
        answer = post["responses"]["201"]["content"]["application/json"]["schema"]
        assert (body, answer) == (
            {"$ref": "#/components/schemas/SubmitOpinion"},
            {"$ref": "#/components/schemas/Opinion"},
        )
        for a in lc.REGISTRY:
            if a.on_existing:
                op = doc["paths"][f"/api/{a.endpoint}/{{id}}/{a.name}"]["post"]
                ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/" + a.input.__name__), a.name
        auth = {"authorization": f"Bearer {world.tok(world.deputies[0])}"}
        for sent, field in [
            ({"meeting_id": world.meeting, "text": "   "}, "text"),
            ({"meeting_id": str(world.meeting), "text": "意见"}, "meeting_id"),
            ({"text": "意见"}, "meeting_id"),
        ]:
            r = await c.post("/api/opinions", json=sent, headers=auth)
            assert r.status_code == 400 and r.json()["field"] == field, r.text
            assert f"`{field}`" in r.json()["message"]
        r = await c.post("/api/opinions", json={"meeting_id": world.meeting, "text": " 意见 "},
                         headers=auth)  # fmt: skip
        assert r.status_code == 201 and r.json()["text"] == "意见", r.text

"""The congress's set-up (admins): meetings, delegations and units (``hub.session.setup``);
each change is logged on the set-up log ``setup:1``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hub.api import JSON, decode, path_int, principal, services
from hub.api.openapi import error_responses, json_body, ok, path_id
from hub.session import setup
from hub.session.meetings import Meeting
from hub.shapes import Named


async def add_meeting(request: Request) -> Response:
    me = await principal(request, roles=("admin",))
    d = await decode(request, setup.MeetingInput)
    return JSON(await setup.add_meeting(services(request).node, me, d), status_code=201)


async def change_meeting(request: Request) -> Response:
    me = await principal(request, roles=("admin",))
    d = await decode(request, setup.MeetingInput)
    return JSON(await setup.change_meeting(services(request).node, me, path_int(request), d))


def _group(what: str) -> tuple[Route, Route]:
    async def add(request: Request) -> Response:
        me = await principal(request, roles=("admin",))
        name = (await decode(request, setup.NameInput)).name
        return JSON(await setup.add_group(services(request).node, me, what, name), status_code=201)

    async def rename(request: Request) -> Response:
        me = await principal(request, roles=("admin",))
        name = (await decode(request, setup.NameInput)).name
        node = services(request).node
        return JSON(await setup.rename_group(node, me, what, path_int(request), name))

    return (
        Route(f"/api/admin/{what}s", add, methods=["POST"]),
        Route(f"/api/admin/{what}s/{{id:int}}", rename, methods=["PUT"]),
    )


routes = [
    Route("/api/admin/meetings", add_meeting, methods=["POST"]),
    Route("/api/admin/meetings/{id:int}", change_meeting, methods=["PUT"]),
    *_group("delegation"),
    *_group("unit"),
]


def _group_spec(what: str, zh: str) -> dict[str, object]:
    return {
        f"/api/admin/{what}s": {
            "post": {
                "summary": f"Create a {what} ({zh}; admin); its name is unique; logged as "
                f"setup.{what}_created on setup:1",
                "requestBody": json_body(setup.NameInput),
                "responses": {**ok(Named, 201), **error_responses(400, 401, 403, 409, 503)},
            }
        },
        f"/api/admin/{what}s/{{id}}": {
            "put": {
                "summary": f"Rename a {what} (admin); logged as setup.{what}_renamed on "
                "setup:1 with its former name",
                "parameters": [path_id("id", f"{what} id")],
                "requestBody": json_body(setup.NameInput),
                "responses": {**ok(Named), **error_responses(400, 401, 403, 404, 409, 503)},
            }
        },
    }


spec = {
    "/api/admin/meetings": {
        "post": {
            "summary": "Create a meeting (admin); logged as setup.meeting_created on setup:1",
            "requestBody": json_body(setup.MeetingInput),
            "responses": {**ok(Meeting, 201), **error_responses(400, 401, 403, 503)},
        }
    },
    "/api/admin/meetings/{id}": {
        "put": {
            "summary": "Change a meeting's title and dates (admin); logged as "
            "setup.meeting_changed on setup:1 with what they were",
            "parameters": [path_id("id", "meeting id")],
            "requestBody": json_body(setup.MeetingInput),
            "responses": {**ok(Meeting), **error_responses(400, 401, 403, 404, 503)},
        }
    },
    **_group_spec("delegation", "代表团"),
    **_group_spec("unit", "承办单位"),
}

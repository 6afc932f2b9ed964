"""Access control against a real server: forged, expired and revoked tokens; every channel
kind tried by every role (subscribe and publish, over /ws and HTTP); staff-only and other
people's objects tried by those who must not reach them (IDOR); cross-site WebSocket
hijacking; passwords never logged; user text never served as HTML. (Login limits, logout,
download tokens: tests/test_security.py.)"""

from __future__ import annotations

import asyncio
import logging
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from hub.auth import Tokens
from hub.identity import revoke_tokens
from hub.store.engine import make_engine
from tests.hostile.conftest import SyncClient, Target
from tests.utils import TIMEOUT
from tests.utils.client import Client
from tests.utils.factories import SECRET, World, make_world, tokens
from tests.utils.servers import running_hub, settings_for
from tests.utils.session import soon

# -- who is who ------------------------------------------------------------------------

ROLES = ("deputy", "outsider", "secretariat", "supervisor", "admin", "unit")


def user_of(w: World, role: str) -> int:
    """deputy: deputies[0] (meeting participant, first delegation); outsider: a deputy of
    the other delegation who is not a participant; unit: an account of the first unit."""
    return {
        "deputy": w.deputies[0],
        "outsider": w.outsider,
        "secretariat": w.secretariat,
        "supervisor": w.supervisor,
        "admin": w.admin,
        "unit": w.unit_users[0],
    }[role]


def channels(w: World) -> dict[str, tuple[set[str], set[str]]]:
    """Every channel kind, ours and someone else's: who may subscribe, who may publish.
    Written from the table in the core issue (not from hub.channels)."""
    staff = {"secretariat", "supervisor", "admin"}
    return {
        f"meeting:{w.meeting}": (staff | {"deputy"}, {"secretariat"}),
        f"meeting:{w.other_meeting}": (staff | {"outsider"}, {"secretariat"}),
        f"delegation:{w.delegations[0]}": (staff | {"deputy"}, {"secretariat"}),
        f"delegation:{w.delegations[1]}": (staff | {"outsider"}, {"secretariat"}),
        f"desk:{w.meeting}": (staff, {"secretariat"}),
        f"desk:{w.other_meeting}": (staff, {"secretariat"}),
        f"deputy:{w.deputies[0]}": (staff | {"deputy"}, {"secretariat"}),
        f"deputy:{w.deputies[1]}": (staff, {"secretariat"}),
        f"unit:{w.units[0]}": (staff | {"unit"}, {"secretariat"}),
        f"unit:{w.units[1]}": (staff, {"secretariat"}),
        "setup:1": (staff, set()),
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def http(target: Target) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=target.node.url, timeout=TIMEOUT) as c:
        yield c


# -- channels --------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_channel_table_over_ws(target: Target, role: str) -> None:
    """Over /ws, each role may subscribe and publish exactly where the table allows:
    everywhere else the answer is `forbidden` and nothing is stored."""
    w = target.world
    c = SyncClient(target.node.ws_url, w.tok(user_of(w, role)))
    try:
        for ch, (readers, writers) in channels(w).items():
            c.send({"type": "subscribe", "channel": ch, "ref": "s"})
            r = c.reply()
            if role in readers:
                assert r["type"] == "subscribed", (role, ch, r)
                c.send({"type": "unsubscribe", "channel": ch})
                assert c.reply()["type"] == "unsubscribed"
            else:
                assert (r["type"], r["code"], r["ref"]) == ("error", "forbidden", "s"), (role, ch)
            c.send({"type": "publish", "channel": ch, "kind": "probe", "body": {"by": role}})
            r = c.reply()
            if role in writers:
                assert r["type"] == "published", (role, ch, r)
            else:
                assert (r["type"], r["code"]) == ("error", "forbidden"), (role, ch, r)
            c.send({"type": "read", "channel": ch, "seq": 1})
            r = c.reply()
            if role not in readers:
                assert (r["type"], r["code"]) == ("error", "forbidden"), (role, ch, r)
    finally:
        c.close()


@pytest.mark.parametrize("role", ROLES)
def test_channel_table_over_http(target: Target, http: httpx.Client, role: str) -> None:
    """The HTTP history and publish endpoints enforce the same table."""
    w = target.world
    h = bearer(w.tok(user_of(w, role)))
    for ch, (readers, writers) in channels(w).items():
        r = http.get(f"/api/channels/{ch}/messages", headers=h)
        assert r.status_code == (200 if role in readers else 403), (role, ch, r.text)
        r = http.post(f"/api/channels/{ch}/messages", headers=h, json={"kind": "probe"})
        assert r.status_code == (201 if role in writers else 403), (role, ch, r.text)
        if r.status_code == 403:
            assert r.json()["code"] == "forbidden"


# -- tokens ----------------------------------------------------------------------------


def _secured_operations(http: httpx.Client, w: World) -> list[tuple[str, str]]:
    """Every operation of /openapi.json that needs a token, with its path filled in."""
    doc = http.get("/openapi.json").json()
    fill = {
        "channel": f"meeting:{w.meeting}",
        "dataset": "messages",
        "name": "reply",
        "year": "2026",
    }
    out = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if op.get("security") == []:
                continue
            url = re.sub(r"\{(\w+)\}", lambda m: fill.get(m.group(1), "1"), path)
            out.append((method.upper(), url))
    assert len(out) > 10
    return out


def _bad_tokens(w: World, revoked: str) -> dict[str, str]:
    me = w.deputies[0]
    return {
        "forged": Tokens("not-the-secret", 3600).issue(me, 0),
        "expired": Tokens(SECRET, 3600).issue(me, 0, ttl=-1),
        "revoked": revoked,
        "unknown user": tokens.issue(10**12, 0),
        "tampered": w.tok(me)[:-2] + ("AA" if not w.tok(me).endswith("AA") else "BB"),
        "garbage": "not a token",
    }


@pytest.fixture(scope="module")
def revoked_token(target: Target) -> str:
    """A token of a fresh account whose token version was bumped afterwards."""
    w = target.world
    with httpx.Client(base_url=target.node.url, timeout=TIMEOUT) as c:
        r = c.post(
            "/api/admin/users",
            headers=bearer(w.tok(w.admin)),
            json={"username": "revoked-sec", "name": "撤销", "role": "secretariat"},
        )
        assert r.status_code == 201, r.text
        uid = r.json()["id"]
    token = tokens.issue(uid, 0)

    async def revoke() -> None:
        engine = make_engine(target.db_url)
        try:
            await revoke_tokens(engine, uid)
        finally:
            await engine.dispose()

    asyncio.run(revoke())
    return token


def test_bad_tokens_refused_on_every_http_operation(
    target: Target, http: httpx.Client, revoked_token: str
) -> None:
    """No token, or a forged, expired, revoked, tampered, unknown-user or garbage token, is
    401 `unauthorized` on every operation that needs a token (workflow endpoints too)."""
    w = target.world
    for method, url in _secured_operations(http, w):
        r = http.request(method, url, json={})
        assert r.status_code == 401, (method, url, "no token", r.text)
        for what, token in _bad_tokens(w, revoked_token).items():
            r = http.request(method, url, headers=bearer(token), json={})
            assert r.status_code == 401, (method, url, what, r.status_code, r.text)
            assert r.json()["code"] == "unauthorized"


def test_bad_tokens_closed_4401_on_ws(target: Target, revoked_token: str) -> None:
    """Over /ws each bad token is `unauthorized` and the connection closes with 4401."""
    for what, token in _bad_tokens(target.world, revoked_token).items():
        c = SyncClient(target.node.ws_url)
        c.send({"type": "auth", "token": token})
        r = c.recv()
        assert (r["type"], r["code"]) == ("error", "unauthorized"), what
        with pytest.raises(websockets.ConnectionClosed) as closed:
            c.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401, what


# -- other people's objects --------------------------------------------------------------

LAST_YEAR = date.today().year - 1  # a whole past year: every activity date is allowed


@pytest.fixture(scope="module")
def theirs(target: Target) -> dict[str, int]:
    """Real objects that belong to someone other than the callers of :func:`user_of`:
    another deputy's (``deputies[1]``, of the other delegation) opinion, suggestion,
    leave request, request to speak, registration and points dispute; the other unit's
    item; the other delegation's group sitting; the meeting's notice, document and agenda
    item; an admin's points rules. ``{name: id}``."""
    w = target.world
    other, sec, sup, adm = w.deputies[1], w.secretariat, w.supervisor, w.admin
    with httpx.Client(base_url=target.node.url, timeout=TIMEOUT) as c:

        def made(user: int, method: str, url: str, **kw: Any) -> int:
            r = c.request(method, url, headers=bearer(w.tok(user)), **kw)
            assert r.status_code in (200, 201), (method, url, r.text)
            return int(r.json()["id"])

        meeting = f"/api/meetings/{w.meeting}"
        times = {"starts_at": soon(-1), "ends_at": soon(3)}
        sitting = made(
            sec,
            "POST",
            f"{meeting}/sittings",
            json={
                **times,
                "kind": "group",
                "title": "二团分组审议",
                "delegation_id": w.delegations[1],
            },
        )
        agenda = made(sec, "POST", f"{meeting}/agenda", json={"title": "政府工作报告"})
        opinion = made(
            other,
            "POST",
            "/api/opinions",
            json={"meeting_id": w.meeting, "text": "建议增加公交线路"},
        )
        base_opinion = made(
            other,
            "POST",
            "/api/opinions",
            json={"meeting_id": w.meeting, "text": "建议延长地铁运营"},
        )
        item = made(
            sec,
            "POST",
            "/api/items",
            json={"opinion_ids": [base_opinion], "title": "地铁运营", "lead_unit_id": w.units[1]},
        )
        suggestion = made(
            other,
            "POST",
            "/api/suggestions",
            json={
                "meeting_id": w.meeting,
                "title": "关于海岛交通的建议",
                "text": "建议增开航班",
                "cosigner_ids": [],
            },
        )
        made(
            adm,
            "POST",
            "/api/points/rules",
            json={
                "valid_from": f"{LAST_YEAR}-01-01",
                "note": "积分办法",
                "rules": [{"event": "registration", "points": 2}],
            },
        )
        ruleset = made(
            adm,
            "POST",
            "/api/points/rules",
            json={
                "valid_from": f"{LAST_YEAR}-07-01",
                "note": "年中修订",
                "rules": [{"event": "registration", "points": 3}],
            },
        )
        activity = {"kind": "inspection", "title": "视察", "text": "做了"}
        confirmed = made(
            other,
            "POST",
            "/api/registrations",
            json={**activity, "activity_date": f"{LAST_YEAR}-03-01"},
        )
        made(sup, "POST", f"/api/registrations/{confirmed}/confirm")
        registration = made(
            other,
            "POST",
            "/api/registrations",
            json={**activity, "activity_date": f"{LAST_YEAR}-04-01"},
        )
        dispute = made(
            other,
            "POST",
            "/api/points/disputes",
            json={"entry": f"registration:{confirmed}", "reason": "重复登记"},
        )
        return {
            "meeting": w.meeting,
            "other_meeting": w.other_meeting,
            "user": other,
            "deputy": other,
            "sitting": sitting,
            "agenda": agenda,
            "leave": made(other, "POST", f"/api/sittings/{sitting}/leave", json={"reason": "出差"}),
            "speaker": made(
                other, "POST", f"/api/sittings/{sitting}/speakers", json={"agenda_item_id": agenda}
            ),
            "document": made(
                sec,
                "POST",
                f"{meeting}/documents",
                params={"filename": "议程.txt", "title": "议程"},
                content="议程".encode(),
            ),
            "notice": made(sec, "POST", f"{meeting}/notices", json={"title": "改在二楼"}),
            "opinion": opinion,
            "item": item,
            "suggestion": suggestion,
            "registration": registration,
            "ruleset": ruleset,
            "dispute": dispute,
            "delegation": w.delegations[1],
            "unit": w.units[1],
        }


# -- who may do what, to those objects: one table -----------------------------------------

ALL = frozenset(ROLES)
STAFF = frozenset({"secretariat", "supervisor", "admin"})
ADMIN = frozenset({"admin"})
SEC = frozenset({"secretariat"})
SUP = frozenset({"supervisor"})
ARCHIVE = frozenset({"supervisor", "admin"})
NOBODY: frozenset[str] = frozenset()  # none of the callers: only the object's owner may
DEPUTIES = frozenset({"deputy", "outsider"})

# (method, path, the object in the path, the callers of user_of() who may). Every other
# caller must get exactly 403 `forbidden`, on a real object that is not theirs.
TABLE: list[tuple[str, str, str | None, frozenset[str]]] = [
    ("GET", "/api/admin/users", None, STAFF),
    ("POST", "/api/admin/users", None, ADMIN),
    ("POST", "/api/admin/users/{id}/deactivate", "user", ADMIN),
    ("POST", "/api/admin/users/{id}/activate", "user", ADMIN),
    ("POST", "/api/admin/users/{id}/password", "user", ADMIN),
    ("GET", "/api/admin/users/{id}", "user", ADMIN),  # with the phone
    ("PATCH", "/api/admin/users/{id}", "user", ADMIN),
    ("POST", "/api/admin/meetings", None, ADMIN),
    ("PUT", "/api/admin/meetings/{id}", "meeting", ADMIN),
    ("POST", "/api/admin/delegations", None, ADMIN),
    ("PUT", "/api/admin/delegations/{id}", "delegation", ADMIN),
    ("POST", "/api/admin/units", None, ADMIN),
    ("PUT", "/api/admin/units/{id}", "unit", ADMIN),
    ("GET", "/api/meetings/{id}", "meeting", STAFF | {"deputy"}),
    ("GET", "/api/meetings/{id}/deputies", "meeting", STAFF | {"deputy"}),
    ("POST", "/api/meetings/{id}/sittings", "meeting", SEC),
    ("POST", "/api/sittings/{id}/close", "sitting", SEC),
    ("PUT", "/api/sittings/{id}", "sitting", SEC),
    ("POST", "/api/meetings/{id}/agenda", "meeting", SEC),
    # the secretariat of the item's meeting (another meeting's: tests/session/test_meetings.py)
    ("PUT", "/api/agenda/{id}", "agenda", SEC),
    ("GET", "/api/meetings/{id}/documents", "meeting", STAFF | {"deputy"}),
    ("POST", "/api/meetings/{id}/documents", "meeting", SEC),
    # the meeting's secretariat imports its deputies; admins any roster (tests/session/test_roster.py)
    ("POST", "/api/meetings/{id}/roster/preview", "meeting", SEC | ADMIN),
    ("POST", "/api/meetings/{id}/roster/import", "meeting", SEC | ADMIN),
    # first passwords: the meeting's secretariat for its deputies, admins any account but an
    # admin's (tests/test_temporary_passwords.py)
    ("POST", "/api/meetings/{id}/roster/passwords", "meeting", SEC | ADMIN),
    ("GET", "/api/documents/{id}", "document", STAFF | {"deputy"}),
    ("GET", "/api/documents/{id}/opens", "document", STAFF),
    ("GET", "/api/meetings/{id}/notices", "meeting", STAFF | {"deputy"}),
    ("POST", "/api/meetings/{id}/notices", "meeting", SEC),
    ("GET", "/api/notices/{id}/tally", "notice", STAFF),
    ("GET", "/api/notices/{id}/followup", "notice", STAFF),
    ("GET", "/api/notices/{id}/calls", "notice", SEC | ADMIN),  # phone numbers
    ("POST", "/api/notices/{id}/repush", "notice", SEC),
    # the secretariat of the notice's meeting (another meeting's: tests/session/test_notice_changes.py)
    ("POST", "/api/notices/{id}/correct", "notice", SEC),
    ("POST", "/api/notices/{id}/withdraw", "notice", SEC),
    ("POST", "/api/sittings/{id}/checkin", "sitting", NOBODY),
    ("POST", "/api/sittings/{id}/leave", "sitting", NOBODY),
    ("POST", "/api/leave/{id}/approve", "leave", SEC),
    ("POST", "/api/leave/{id}/refuse", "leave", SEC),
    ("GET", "/api/sittings/{id}/attendance", "sitting", STAFF),
    ("GET", "/api/presence/{user_id}/at", "deputy", STAFF),
    ("GET", "/api/sittings/{id}/speakers", "sitting", STAFF | {"deputy"}),  # meeting readers
    ("POST", "/api/sittings/{id}/speakers", "sitting", NOBODY),
    ("PUT", "/api/sittings/{id}/speakers/order", "sitting", SEC),
    ("POST", "/api/speakers/{id}/withdraw", "speaker", NOBODY),
    ("POST", "/api/speakers/{id}/start", "speaker", SEC),
    ("POST", "/api/speakers/{id}/end", "speaker", SEC),
    ("GET", "/api/delegations", None, ALL),
    ("GET", "/api/units", None, ALL),
    ("GET", "/api/archive/messages", None, ARCHIVE),
    ("GET", "/api/archive/export/{dataset}", "dataset", ARCHIVE),
    ("GET", "/api/archive/verify", None, ARCHIVE),
    ("GET", "/api/archive/people", None, ARCHIVE),
    ("GET", "/api/registrations", None, STAFF | DEPUTIES),
    ("POST", "/api/registrations", None, DEPUTIES),
    ("GET", "/api/registrations/{id}", "registration", STAFF),
    ("GET", "/api/registrations/{id}/attachment", "registration", STAFF),
    ("PUT", "/api/registrations/{id}/attachment", "registration", NOBODY),
    ("POST", "/api/registrations/{id}/confirm", "registration", SUP),
    ("POST", "/api/registrations/{id}/reject", "registration", SUP),
    ("GET", "/api/deputies/{id}/file", "deputy", STAFF),
    ("GET", "/api/deputies/{id}/file.csv", "deputy", STAFF),
    ("GET", "/api/points/rules", None, ALL),
    ("POST", "/api/points/rules", None, ADMIN),
    ("DELETE", "/api/points/rules/{id}", "ruleset", ADMIN),
    ("GET", "/api/points", None, STAFF),
    ("GET", "/api/deputies/{id}/points", "deputy", STAFF),
    ("GET", "/api/points/disputes", None, STAFF | DEPUTIES),
    ("POST", "/api/points/disputes", None, DEPUTIES),
    ("POST", "/api/points/disputes/{id}/resolve", "dispute", ADMIN),
    ("GET", "/api/statistics", None, STAFF),
    ("GET", "/api/items/{id}/timeline", "item", STAFF),
    ("POST", "/api/opinions", None, {"deputy"}),
    ("GET", "/api/opinions", None, STAFF | DEPUTIES),
    ("GET", "/api/opinions/{id}", "opinion", STAFF),
    ("POST", "/api/opinions/{id}/note", "opinion", SEC),
    ("POST", "/api/opinions/{id}/merge", "opinion", SEC),
    ("POST", "/api/items", None, SEC),
    ("GET", "/api/items", None, ALL),
    ("GET", "/api/items/overdue", None, ALL),  # each caller's own
    ("GET", "/api/items/{id}", "item", STAFF),
    ("GET", "/api/items/{id}/events", "item", STAFF),
    ("POST", "/api/items/{id}/sign", "item", NOBODY),
    ("POST", "/api/items/{id}/return", "item", NOBODY),
    ("POST", "/api/items/{id}/reassign", "item", SEC),
    ("POST", "/api/items/{id}/co_opinion", "item", NOBODY),
    ("POST", "/api/items/{id}/contact", "item", NOBODY),
    ("POST", "/api/items/{id}/request_extension", "item", NOBODY),
    ("POST", "/api/items/{id}/approve_extension", "item", SEC),
    ("POST", "/api/items/{id}/refuse_extension", "item", SEC),
    ("POST", "/api/items/{id}/reply", "item", NOBODY),
    ("POST", "/api/items/{id}/evaluate", "item", NOBODY),
    ("POST", "/api/items/seen", None, NOBODY),  # the other unit's item, named in the body
    ("POST", "/api/items/{id}/close_unevaluated", "item", SEC),
    ("POST", "/api/items/{id}/confirm_contact", "item", NOBODY),
    ("POST", "/api/items/{id}/dispute_contact", "item", NOBODY),
    ("POST", "/api/items/{id}/ask", "item", NOBODY),
    ("POST", "/api/items/{id}/answer", "item", NOBODY),
    ("POST", "/api/items/{id}/message", "item", SEC),  # a party of every item
    # a deputy in their own thread, the secretariat to a deputy (tests/session/test_conversations.py)
    ("POST", "/api/conversations", None, SEC | {"deputy"}),
    ("GET", "/api/conversations", None, STAFF | DEPUTIES),  # a deputy: their own
    ("GET", "/api/search", None, DEPUTIES | {"unit"}),  # their own; staff use the lists
    ("POST", "/api/suggestions", None, {"deputy"}),
    ("GET", "/api/suggestions", None, ALL),
    ("POST", "/api/suggestions/{id}/cosign", "suggestion", NOBODY),
    ("POST", "/api/suggestions/{id}/decline", "suggestion", NOBODY),
    ("POST", "/api/suggestions/{id}/accept", "suggestion", SEC),
    ("POST", "/api/suggestions/{id}/not_accept", "suggestion", SEC),
    ("POST", "/api/suggestions/{id}/hand_over", "suggestion", SEC),
    ("GET", "/api/calendar/{year}", "year", ALL),
    ("PUT", "/api/admin/calendar/{year}", "year", ADMIN),
    ("GET", "/api/deadline-rules", None, ALL),
    ("PUT", "/api/admin/deadline-rules/{name}", "rule", ADMIN),
    ("POST", "/api/users/{id}/devices/sign-out", "deputy", ADMIN),
]
# Covered elsewhere: the channel table (test_channel_table_*); the caller's own account and
# login (tests/test_security.py: logout, password change, download links); the caller's own
# push devices, another's refused 403 (tests/reach/test_subscriptions.py); the caller's own
# signed-in browsers, another's 404 (tests/test_devices.py).
NOT_IN_TABLE = {
    ("GET", "/api/push/key"),
    ("GET", "/api/push/subscriptions"),
    ("POST", "/api/push/subscriptions"),
    ("DELETE", "/api/push/subscriptions/{id}"),
    ("GET", "/api/channels/{channel}/messages"),
    ("POST", "/api/channels/{channel}/messages"),
    ("GET", "/api/me"),
    ("GET", "/api/meetings"),
    ("POST", "/api/logout"),
    ("POST", "/api/password"),
    ("POST", "/api/downloads"),
    ("GET", "/api/devices"),
    ("POST", "/api/devices/{id}/sign-out"),
}
NAMED = {"dataset": "messages", "year": "2026", "rule": "reply"}
# Query parameters an operation needs besides the documented required ones.
QUERY = {("GET", "/api/presence/{user_id}/at"): {"ts": "2026-03-01T09:00:00+08:00"}}
# The body of an operation whose object is named in its body, from the objects of theirs.
BODY = {("POST", "/api/items/seen"): lambda theirs: {"item_ids": [theirs["item"]]}}

REFUSED = [
    pytest.param(role, method, path, obj, id=f"{role} {method} {path}")
    for method, path, obj, may in TABLE
    for role in ROLES
    if role not in may
]


def test_table_covers_every_operation(http: httpx.Client) -> None:
    """Every operation of /openapi.json that needs a token is in the access table (or
    the channel table), and every row of the table is a documented operation."""
    doc = http.get("/openapi.json").json()
    secured = {
        (m.upper(), p)
        for p, ops in doc["paths"].items()
        for m, op in ops.items()
        if op.get("security") != []
    }
    rows = {(m, p) for m, p, _, _ in TABLE}
    assert secured - NOT_IN_TABLE == rows


def test_supervisor_changes_nothing_by_the_table() -> None:
    """The table lets a supervisor read, and change nothing but the verdict on a
    performance registration (so every other write is among the refused cases)."""
    writes = {(m, p) for m, p, _, may in TABLE if m != "GET" and "supervisor" in may}
    assert writes == {
        ("POST", "/api/registrations/{id}/confirm"),
        ("POST", "/api/registrations/{id}/reject"),
    }


@pytest.mark.parametrize(("role", "method", "path", "obj"), REFUSED)
def test_refused_exactly_on_someone_elses_object(
    target: Target,
    http: httpx.Client,
    theirs: dict[str, int],
    role: str,
    method: str,
    path: str,
    obj: str | None,
) -> None:
    """A caller the table does not allow, acting on a real object of someone else (or
    on a role-limited operation), gets exactly 403 `forbidden`, whatever the body."""
    w = target.world
    value = "" if obj is None else NAMED.get(obj) or str(theirs[obj])
    url = re.sub(r"\{\w+\}", value, path)
    body, query = _bodies(http).get((method, path), ({}, {}))
    query = {**query, **QUERY.get((method, path), {})}
    if (method, path) in BODY:
        body = BODY[(method, path)](theirs)
    r = http.request(method, url, headers=bearer(w.tok(user_of(w, role))), json=body, params=query)
    assert (r.status_code, r.json().get("code")) == (403, "forbidden"), r.text


def test_lists_leave_out_other_peoples_objects(
    target: Target, http: httpx.Client, theirs: dict[str, int]
) -> None:
    """Another deputy's opinion is not in a deputy's list of opinions, and another unit's
    item is not in a unit's list of items; the owner's lists do hold them."""
    w = target.world

    def ids(user: int, url: str) -> set[int]:
        r = http.get(url, headers=bearer(w.tok(user)))
        assert r.status_code == 200, r.text
        return {x["id"] for x in _items(r.json())}

    assert theirs["opinion"] not in ids(w.deputies[0], "/api/opinions")
    assert theirs["opinion"] in ids(w.deputies[1], "/api/opinions")
    assert theirs["item"] not in ids(w.unit_users[0], "/api/items")
    assert theirs["item"] in ids(w.unit_users[1], "/api/items")


def _bodies(http: httpx.Client) -> dict[tuple[str, str], Any]:
    """A plausible JSON body and query for each operation, built from its documented
    schema, so that a request is refused for who sends it and not for what it holds."""
    doc = http.get("/openapi.json").json()
    defs = doc["components"]["schemas"]
    out: dict[tuple[str, str], Any] = {}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            content = op.get("requestBody", {}).get("content", {})
            schema = content.get("application/json", {}).get("schema")
            query = {
                p["name"]: _example(p.get("schema", {}), defs)
                for p in op.get("parameters", [])
                if p["in"] == "query" and p.get("required")
            }
            if "filename" in query:
                query["filename"] = "报告.pdf"
            out[(method.upper(), path)] = (_example(schema or {"type": "object"}, defs), query)
    return out


def _example(schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    """A value the schema accepts; ``defs`` holds the components its ``$ref``s name."""
    if "$ref" in schema:
        return _example(defs[schema["$ref"].rsplit("/", 1)[1]], defs)
    if "anyOf" in schema:
        return _example(schema["anyOf"][0], defs)
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(_example(part, defs))
        return merged
    if "enum" in schema:
        return schema["enum"][0]
    t = schema.get("type")
    t = t[0] if isinstance(t, list) else t
    if t == "object" or "properties" in schema:
        props = schema.get("properties", {})
        required = schema.get("required", [])
        return {k: _example(v, defs) for k, v in props.items() if k in required}
    if t == "array":
        has = schema.get("minItems") and "items" in schema
        return [_example(schema["items"], defs)] if has else []
    if t == "integer":
        return max(1, schema.get("minimum", 1))
    if t == "boolean":
        return False
    if t == "number":
        return 1
    fmt = schema.get("format")
    if fmt == "date-time":
        return "2026-03-01T09:00:00+08:00"
    if fmt == "date":
        return "2026-03-01"
    return "x" * max(1, schema.get("minLength", 1))


def _items(d: Any) -> list[dict[str, Any]]:
    if isinstance(d, list):
        return d
    for v in d.values():
        if isinstance(v, list):
            return v
    return []


def test_errors_echoing_user_text_are_json_not_html(target: Target, http: httpx.Client) -> None:
    """Error answers that quote what the user sent are JSON (`application/json`), never a
    page a browser would render: markup in a channel name or path stays inert text."""
    w = target.world
    h = bearer(w.tok(w.secretariat))
    for method, url in [
        ("GET", "/api/channels/<script>alert(1)<%2Fscript>/messages"),
        ("GET", "/api/<img src=x onerror=alert(1)>"),
        ("POST", "/api/channels/meeting:<b>1<%2Fb>/messages"),
    ]:
        r = http.request(method, url, headers=h, json={"kind": "<script>"})
        assert r.status_code in (400, 404), r.text
        assert r.headers["content-type"].startswith("application/json"), r.headers
        assert r.json()["code"] in ("bad_request", "not_found")


# -- browsers: cross-site WebSocket hijacking ----------------------------------------------


async def test_cross_site_websocket_refused_and_allowed_origins(
    sqlite_url: str, tmp_path: Path
) -> None:
    """A browser page on another site cannot open /ws with the user's credentials: its
    Origin is refused. The hub's own origin, origins listed in HUB_ALLOWED_ORIGINS, and
    clients that send no Origin (native apps) are let in."""
    from hub.config import Settings

    w = await make_world(sqlite_url)
    env = {"HUB_ALLOWED_ORIGINS": " https://hub.example.cn , https://app.example.cn"}
    allowed = Settings.from_env(env).allowed_origins
    assert allowed == ("https://hub.example.cn", "https://app.example.cn")
    async with running_hub(settings_for(sqlite_url, tmp_path, allowed_origins=allowed)) as h:
        host = h.url.removeprefix("http://")
        token = w.tok(w.deputies[0])
        for origin in ("https://evil.example", "http://hub.example.cn", "null", f"https://{host}x"):
            with pytest.raises(websockets.InvalidStatus) as refused:
                await Client.connect(h.ws_url, token, origin=origin)
            assert refused.value.response.status_code == 403, origin
        for origin in ("https://hub.example.cn", "https://app.example.cn", f"http://{host}", None):
            c = await Client.connect(h.ws_url, token, **({"origin": origin} if origin else {}))
            assert c.welcome["user"]["id"] == w.deputies[0], origin
            await c.close()
    async with running_hub(settings_for(sqlite_url, tmp_path)) as h:
        with pytest.raises(websockets.InvalidStatus):
            await Client.connect(h.ws_url, token, origin="https://hub.example.cn")


# -- login ----------------------------------------------------------------------------------


async def test_passwords_never_logged(
    sqlite_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Logging in (right and wrong), creating accounts over HTTP (also with bad fields)
    and with `hub user add`: the password appears in no log record and no output, and
    the database holds only an argon2 hash."""
    import sqlalchemy as sa

    from hub.session.schema import users

    w = await make_world(sqlite_url)
    secret_pw = "Pa55-不要记录-" + "z" * 8
    caplog.set_level(logging.DEBUG)
    async with (
        running_hub(settings_for(sqlite_url, tmp_path)) as h,
        httpx.AsyncClient(base_url=h.url) as http,
    ):
        adm = bearer(w.tok(w.admin))
        r = await http.post(
            "/api/admin/users",
            headers=adm,
            json={"username": "newsec", "name": "新", "role": "secretariat", "password": secret_pw},
        )
        assert r.status_code == 201
        bad = {"username": "x" * 200, "name": "n", "role": "deputy", "password": secret_pw}
        assert (await http.post("/api/admin/users", headers=adm, json=bad)).status_code == 400
        bad = {"username": "newsec", "name": "n", "role": "secretariat", "password": secret_pw}
        assert (await http.post("/api/admin/users", headers=adm, json=bad)).status_code == 409
        assert secret_pw not in r.text
        ok = await http.post("/api/login", json={"username": "newsec", "password": secret_pw})
        assert ok.status_code == 200 and secret_pw not in ok.text
        wrong = await http.post(
            "/api/login", json={"username": "newsec", "password": secret_pw + "!"}
        )
        assert wrong.status_code == 401 and secret_pw not in wrong.text
        odd = await http.post("/api/login", json={"username": 5, "password": secret_pw})
        assert odd.status_code == 400 and secret_pw not in odd.text
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "hub",
            "user",
            "add",
            "--username",
            "clisec",
            "--role",
            "secretariat",
            "--password",
            secret_pw,
        ],
        env={
            "HUB_DATABASE_URL": sqlite_url,
            "HUB_SECRET": SECRET,
            "HUB_DATA_DIR": str(tmp_path),
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 3,
    )
    assert cli.returncode == 0, cli.stderr
    assert secret_pw not in cli.stdout + cli.stderr
    logged = "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records)
    assert caplog.records, "logging was captured"
    assert secret_pw not in logged
    engine = make_engine(sqlite_url)
    try:
        async with engine.connect() as conn:
            hashes = (await conn.execute(sa.select(users.c.password_hash))).scalars().all()
    finally:
        await engine.dispose()
    assert all(secret_pw not in (x or "") for x in hashes)
    assert sum(1 for x in hashes if x and x.startswith("$argon2")) >= 3

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
        f"desk:{w.meeting}": (staff, {"secretariat", "deputy"}),
        f"desk:{w.other_meeting}": (staff, {"secretariat", "outsider"}),
        f"deputy:{w.deputies[0]}": (staff | {"deputy"}, {"secretariat"}),
        f"deputy:{w.deputies[1]}": (staff, {"secretariat"}),
        f"unit:{w.units[0]}": (staff | {"unit"}, {"secretariat"}),
        f"unit:{w.units[1]}": (staff, {"secretariat"}),
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


# -- staff-only operations, by every role that must not reach them ----------------------

STAFF = {"secretariat", "supervisor", "admin"}
# Operations limited by role, as the document names them, and who may use each. An
# operation that is not (yet) in the document is skipped: its workflow has not landed.
GATED: list[tuple[str, str, set[str]]] = [
    ("GET", "/api/admin/users", STAFF),
    ("POST", "/api/admin/users", {"admin"}),
    ("POST", "/api/admin/users/{id}/deactivate", {"admin"}),
    ("POST", "/api/admin/users/{id}/activate", {"admin"}),
    ("POST", "/api/meetings/{id}/sittings", {"secretariat"}),
    ("POST", "/api/meetings/{id}/agenda", {"secretariat"}),
    ("POST", "/api/meetings/{id}/notices", {"secretariat"}),
    ("POST", "/api/meetings/{id}/documents", {"secretariat"}),
    ("GET", "/api/documents/{id}/opens", STAFF),
    ("GET", "/api/sittings/{id}/attendance", STAFF),
    ("POST", "/api/leave/{id}/approve", {"secretariat"}),
    ("POST", "/api/leave/{id}/refuse", {"secretariat"}),
    ("PUT", "/api/sittings/{id}/speakers/order", {"secretariat"}),
    ("POST", "/api/speakers/{id}/start", {"secretariat"}),
    ("POST", "/api/speakers/{id}/end", {"secretariat"}),
    ("GET", "/api/archive/messages", {"supervisor", "admin"}),
    ("GET", "/api/archive/export/{dataset}", {"supervisor", "admin"}),
    ("GET", "/api/archive/verify", {"supervisor", "admin"}),
    ("POST", "/api/registrations/{id}/confirm", {"supervisor"}),
    ("POST", "/api/registrations/{id}/reject", {"supervisor"}),
    ("POST", "/api/points/rules", {"admin"}),
    ("DELETE", "/api/points/rules/{id}", {"admin"}),
    ("POST", "/api/points/disputes/{id}/resolve", {"admin"}),
    ("GET", "/api/points", STAFF),
    ("POST", "/api/opinions/{id}/note", {"secretariat"}),
    ("POST", "/api/opinions/{id}/merge", {"secretariat"}),
    ("POST", "/api/items", {"secretariat"}),
    ("POST", "/api/items/{id}/reassign", {"secretariat"}),
    ("POST", "/api/items/{id}/approve_extension", {"secretariat"}),
    ("POST", "/api/items/{id}/refuse_extension", {"secretariat"}),
    ("POST", "/api/suggestions/{id}/accept", {"secretariat"}),
    ("POST", "/api/suggestions/{id}/not_accept", {"secretariat"}),
    ("POST", "/api/suggestions/{id}/hand_over", {"secretariat"}),
    ("PUT", "/api/admin/calendar/{year}", {"admin"}),
    ("PUT", "/api/admin/deadline-rules/{name}", {"admin"}),
]


def _documented(http: httpx.Client) -> set[tuple[str, str]]:
    doc = http.get("/openapi.json").json()
    return {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}


def _bodies(http: httpx.Client) -> dict[tuple[str, str], Any]:
    """A plausible JSON body for each operation, built from its documented schema, so that
    a request is refused for who sends it and not for what it holds."""
    doc = http.get("/openapi.json").json()
    out: dict[tuple[str, str], Any] = {}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            content = op.get("requestBody", {}).get("content", {})
            schema = content.get("application/json", {}).get("schema")
            query = {
                p["name"]: _example(p.get("schema", {}))
                for p in op.get("parameters", [])
                if p["in"] == "query" and p.get("required")
            }
            if "filename" in query:
                query["filename"] = "报告.pdf"
            out[(method.upper(), path)] = (_example(schema or {"type": "object"}), query)
    return out


def _example(schema: dict[str, Any]) -> Any:
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(_example(part))
        return merged
    if "enum" in schema:
        return schema["enum"][0]
    t = schema.get("type")
    t = t[0] if isinstance(t, list) else t
    if t == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {k: _example(v) for k, v in props.items() if k in schema.get("required", [])}
    if t == "array":
        return [_example(schema["items"])] if schema.get("minItems") and "items" in schema else []
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


def _fill(path: str, w: World) -> str:
    """A path with real values: the meeting, another deputy's account, existing ids."""
    values = {"year": "2026", "name": "reply", "dataset": "messages", "user_id": "1"}
    if path.startswith("/api/meetings/"):
        values["id"] = str(w.meeting)
    elif path.startswith("/api/admin/users/"):
        values["id"] = str(w.deputies[1])
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "1"), path)


@pytest.mark.parametrize("role", ["deputy", "outsider", "unit", "supervisor", "secretariat"])
def test_role_limited_operations_refuse_other_roles(
    target: Target, http: httpx.Client, role: str
) -> None:
    """Each operation limited to some roles answers 403 (or 404: nothing to show) to every
    other role, whatever the body; never a success."""
    w = target.world
    h = bearer(w.tok(user_of(w, role)))
    bodies = _bodies(http)
    tried = 0
    for method, path, allowed in GATED:
        if (method, path) not in bodies or role in allowed:
            continue
        url = _fill(path, w)
        body, query = bodies[(method, path)]
        r = http.request(method, url, headers=h, json=body, params=query)
        assert r.status_code in (403, 404), (role, method, url, r.status_code, r.text)
        tried += 1
    assert tried > 0


def test_supervisor_changes_nothing(target: Target, http: httpx.Client) -> None:
    """A supervisor reads everything and changes nothing: every write operation in the
    document (but confirming or rejecting a performance registration, the supervisor's
    own duty, and the supervisor's own login: logout, password, download links) is refused
    to a supervisor."""
    w = target.world
    h = bearer(w.tok(w.supervisor))
    own_duty = {"/api/registrations/{id}/confirm", "/api/registrations/{id}/reject"}
    own_duty |= {"/api/logout", "/api/password", "/api/downloads"}
    for (method, path), (body, query) in _bodies(http).items():
        if method == "GET" or path == "/api/login" or path in own_duty:
            continue
        url = _fill(path, w).replace("/api/channels/1/", f"/api/channels/meeting:{w.meeting}/")
        r = http.request(method, url, headers=h, json=body, params=query)
        assert r.status_code in (403, 404), (method, url, r.status_code, r.text)


# -- other people's objects (IDOR) -------------------------------------------------------


def _created(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code in (200, 201), r.text
    d: dict[str, Any] = r.json()
    return d


def test_other_peoples_objects_are_not_reachable(target: Target, http: httpx.Client) -> None:
    """A deputy's opinion, points, performance file and presence; a unit's item; a meeting's
    documents, deputies and notices: each read by someone who must not (another deputy, the other
    unit, a non-participant) is 403 or 404, and lists do not include them."""
    w = target.world
    dep, other_dep, outsider = w.deputies[0], w.deputies[1], w.outsider
    unit1, unit2 = w.unit_users
    as_ = {u: bearer(w.tok(u)) for u in (dep, other_dep, outsider, unit1, unit2)}
    sec = bearer(w.tok(w.secretariat))
    served = {p for _, p in _documented(http)}

    def refused(user: int, method: str, url: str, **kw: Any) -> None:
        r = http.request(method, url, headers=as_[user], **kw)
        assert r.status_code in (403, 404), (user, method, url, r.status_code, r.text)

    if "/api/deputies/{id}/file" in served:
        refused(other_dep, "GET", f"/api/deputies/{dep}/file")
    if "/api/deputies/{id}/points" in served:
        for u in (other_dep, unit1, outsider):
            refused(u, "GET", f"/api/deputies/{dep}/points")
    if "/api/presence/{user_id}/at" in served:
        refused(other_dep, "GET", f"/api/presence/{dep}/at", params={"ts": "2026-01-01T00:00:00Z"})
    if "/api/meetings/{id}" in served:
        refused(outsider, "GET", f"/api/meetings/{w.meeting}")
        refused(unit1, "GET", f"/api/meetings/{w.meeting}/documents")
        refused(outsider, "GET", f"/api/meetings/{w.meeting}/documents")
    if "/api/meetings/{id}/deputies" in served:
        refused(unit1, "GET", f"/api/meetings/{w.meeting}/deputies")
        refused(outsider, "GET", f"/api/meetings/{w.meeting}/deputies")
    if "/api/meetings/{id}/notices" in served:
        n = _created(
            http.post(f"/api/meetings/{w.meeting}/notices", headers=sec, json={"title": "改在二楼"})
        )
        nid = n.get("id") or n.get("notice", {}).get("id")
        refused(outsider, "GET", f"/api/meetings/{w.meeting}/notices")
        for u in (dep, outsider, unit1):
            refused(u, "GET", f"/api/notices/{nid}/tally")
    if "/api/opinions/{id}" in served:
        op = _created(
            http.post(
                "/api/opinions",
                headers=as_[dep],
                json={"meeting_id": w.meeting, "text": "建议增加公交线路"},
            )
        )
        oid = op.get("id") or op.get("opinion", {}).get("id")
        for u in (other_dep, outsider, unit1):
            refused(u, "GET", f"/api/opinions/{oid}")
        theirs = http.get("/api/opinions", headers=as_[other_dep])
        assert theirs.status_code == 200 and f'"id":{oid},' not in theirs.text.replace(" ", "")
        if "/api/items/{id}" in served:
            it = _created(
                http.post(
                    "/api/items",
                    headers=sec,
                    json={
                        "opinion_ids": [oid],
                        "title": "公交线路",
                        "lead_unit_id": w.units[0],
                    },
                )
            )
            iid = it.get("id") or it.get("item", {}).get("id")
            for u in (unit2, other_dep, outsider):
                refused(u, "GET", f"/api/items/{iid}")
                refused(u, "GET", f"/api/items/{iid}/events")
            refused(unit2, "POST", f"/api/items/{iid}/sign", json={})
            refused(unit2, "POST", f"/api/items/{iid}/return", json={"reason": "不归我"})
            refused(other_dep, "POST", f"/api/items/{iid}/evaluate", json={"result": "satisfied"})
            listed = http.get("/api/items", headers=as_[unit2])
            assert listed.status_code == 200
            assert all(i.get("id") != iid for i in _items(listed.json()))
            mine = http.get(f"/api/items/{iid}", headers=as_[unit1])
            assert mine.status_code == 200, "the lead unit does see it"


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

    from hub.store.schema import users

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

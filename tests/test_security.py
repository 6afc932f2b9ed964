"""Trust at the surface, against real servers: tokens never in URLs but short-lived
download tokens for one path; logout per device and password change or reset revoking
tokens (HTTP and /ws, across nodes); login back-off that never refuses a right password
for others' failures, and one answer after one argon2 check; security headers; private
files; /metrics, document opens, Origin, password policy and the demo password."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import websockets
from argon2 import PasswordHasher

import hub.auth
from hub.identity import set_active
from hub.store.engine import make_engine
from tests.utils import TIMEOUT
from tests.utils.client import Client
from tests.utils.factories import PASSWORD, SECRET, World, make_world
from tests.utils.servers import HubProcess, RunningHub, running_hub, settings_for

STRONG = "Lantern-Quay-2026"


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.fixture
async def world(sqlite_url: str) -> World:
    return await make_world(sqlite_url)


@pytest.fixture
async def node(sqlite_url: str, tmp_path: Path, world: World) -> AsyncIterator[RunningHub]:
    async with running_hub(settings_for(sqlite_url, tmp_path, account_check=0.2)) as h:
        yield h


async def login(http: httpx.AsyncClient, username: str, password: str = PASSWORD) -> str:
    r = await http.post("/api/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    token: str = r.json()["token"]
    return token


async def upload(http: httpx.AsyncClient, w: World, name: str, data: bytes) -> int:
    r = await http.post(
        f"/api/meetings/{w.meeting}/documents",
        params={"filename": name},
        content=data,
        headers={**bearer(w.tok(w.secretariat)), "content-type": "text/plain"},
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def alive(c: Client) -> bool:
    """The socket still answers a ping."""
    try:
        return (await c.request({"type": "ping"}))["type"] == "pong"
    except websockets.ConnectionClosed:
        return False


# -- 5. tokens in URLs, downloads, logout, password change and reset -----------------------


async def test_session_token_is_never_read_from_the_url(node: RunningHub, world: World) -> None:
    """A session token in the query (`access_token=` or `download=`) authenticates nothing,
    not even a GET download route; only the Authorization header does."""
    tok = world.tok(world.deputies[0])
    async with httpx.AsyncClient(base_url=node.url) as http:
        doc = await upload(http, world, "a.txt", b"A")
        assert (await http.get("/api/me", params={"access_token": tok})).status_code == 401
        r = await http.get(f"/api/documents/{doc}", params={"access_token": tok})
        assert r.status_code == 401
        r = await http.get(f"/api/documents/{doc}", params={"download": tok})
        assert r.status_code == 401
        assert (await http.get("/api/me", headers=bearer(tok))).status_code == 200


async def test_download_token_opens_one_resource_with_get_for_a_minute(
    node: RunningHub, world: World
) -> None:
    """A download link's token opens its one document with GET; it cannot open another
    document, post an opinion (in the query or as a bearer), read /api/me, authenticate
    on /ws (4401), PUT on its own path, and it expires."""
    dep = world.tok(world.deputies[0])
    async with httpx.AsyncClient(base_url=node.url) as http:
        a = await upload(http, world, "a.txt", b"document A")
        b = await upload(http, world, "b.txt", b"document B")
        r = await http.post(
            "/api/downloads", headers=bearer(dep), json={"path": f"/api/documents/{a}"}
        )
        assert r.status_code == 200, r.text
        assert r.json()["expires_in"] <= 300
        url = r.json()["url"]
        token = url.split("download=")[1]
        got = await http.get(url)
        assert got.status_code == 200 and got.content == b"document A"
        r = await http.get(f"/api/documents/{b}", params={"download": token})
        assert r.status_code == 401 and "another resource" in r.json()["message"]
        opinion = {"meeting_id": world.meeting, "text": "以代表名义提交"}
        r = await http.post("/api/opinions", params={"download": token}, json=opinion)
        assert r.status_code == 401
        r = await http.post("/api/opinions", headers=bearer(token), json=opinion)
        assert r.status_code == 401
        assert (await http.get("/api/me", headers=bearer(token))).status_code == 401
        ws = await Client.connect(node.ws_url)
        await ws.send({"type": "auth", "token": token})
        assert (await ws.recv())["code"] == "unauthorized"
        assert await ws.closed_with() == 4401
        # a download route that also takes a PUT (an attachment): the token is GET only
        path = "/api/registrations/1/attachment"
        r = await http.post("/api/downloads", headers=bearer(dep), json={"path": path})
        assert (await http.put(r.json()["url"], content=b"evidence")).status_code == 401
        r = await http.post("/api/downloads", headers=bearer(dep), json={"path": "/api/opinions"})
        assert r.status_code == 400 and r.json()["code"] == "bad_request"
        # the same deputy's session token does post the opinion: the refusals above are
        # the download token's, not the deputy's
        r = await http.post("/api/opinions", headers=bearer(dep), json=opinion)
        assert r.status_code == 201, r.text
        tokens = node.services.tokens
        real = tokens.clock
        tokens.clock = lambda: real() + 61
        try:
            r = await http.get(url)
            assert r.status_code == 401 and "expired" in r.json()["message"]
        finally:
            tokens.clock = real


async def test_logout_revokes_this_device_on_every_node(
    sqlite_url: str, tmp_path: Path, world: World
) -> None:
    """Logging out revokes that device's token on every node: its sockets close with 4401
    (on this node at once, on another at its account check) and its token and download
    links are refused; the same account's other device stays connected."""
    settings = settings_for(sqlite_url, tmp_path, account_check=0.2)
    async with (
        running_hub(settings) as one,
        running_hub(settings) as two,
        httpx.AsyncClient(base_url=one.url) as h1,
        httpx.AsyncClient(base_url=two.url) as h2,
    ):
        doc = await upload(h1, world, "a.txt", b"A")
        phone, laptop = await login(h1, "sec"), await login(h1, "sec")
        r = await h1.post(
            "/api/downloads", headers=bearer(phone), json={"path": f"/api/documents/{doc}"}
        )
        link = r.json()["url"]
        phone_ws1 = await Client.connect(one.ws_url, phone)
        phone_ws2 = await Client.connect(two.ws_url, phone)
        laptop_ws = await Client.connect(two.ws_url, laptop)
        laptop_here = await Client.connect(one.ws_url, laptop)
        r = await h1.post("/api/logout", headers=bearer(phone))
        assert r.status_code == 200, r.text
        assert await phone_ws1.closed_with() == 4401
        assert await phone_ws2.closed_with() == 4401
        for http in (h1, h2):
            assert (await http.get("/api/me", headers=bearer(phone))).status_code == 401
            assert (await http.get(link)).status_code == 401
        again = await Client.connect(two.ws_url)
        await again.send({"type": "auth", "token": phone})
        assert (await again.recv())["code"] == "unauthorized"
        assert await again.closed_with() == 4401
        assert await alive(laptop_ws) and await alive(laptop_here)
        assert (await h2.get("/api/me", headers=bearer(laptop))).status_code == 200
        await laptop_ws.close()
        await laptop_here.close()


async def test_password_change_needs_the_current_one_and_revokes_every_token(
    node: RunningHub, world: World
) -> None:
    """Changing one's password needs the current password (403 otherwise) and a password
    that meets the policy (400); then every earlier token of every device is refused, its
    sockets close with 4401, and only the new password logs in."""
    async with httpx.AsyncClient(base_url=node.url) as http:
        a, b = await login(http, "sec"), await login(http, "sec")
        ws = await Client.connect(node.ws_url, b)
        r = await http.post(
            "/api/password", headers=bearer(a), json={"current": "nope", "new": STRONG}
        )
        assert r.status_code == 403 and r.json()["code"] == "forbidden"
        r = await http.post(
            "/api/password", headers=bearer(a), json={"current": PASSWORD, "new": "short"}
        )
        assert r.status_code == 400 and "characters" in r.json()["message"]
        assert (await http.get("/api/me", headers=bearer(b))).status_code == 200
        r = await http.post(
            "/api/password", headers=bearer(a), json={"current": PASSWORD, "new": STRONG}
        )
        assert r.status_code == 200, r.text
        assert await ws.closed_with() == 4401
        for old in (a, b):
            assert (await http.get("/api/me", headers=bearer(old))).status_code == 401
        bad = await http.post("/api/login", json={"username": "sec", "password": PASSWORD})
        assert bad.status_code == 401
        assert await login(http, "sec", STRONG)


async def test_admin_password_reset_revokes_the_accounts_tokens(
    node: RunningHub, world: World
) -> None:
    """An admin's reset sets a password that meets the policy and revokes every earlier
    token of that account (its sockets close 4401); the secretariat may not reset another
    account's password (403), and the admin's own token keeps working."""
    sec = world.tok(world.secretariat)
    adm = world.tok(world.admin)
    url = f"/api/admin/users/{world.secretariat}/password"
    async with httpx.AsyncClient(base_url=node.url) as http:
        ws = await Client.connect(node.ws_url, sec)
        r = await http.post(
            f"/api/admin/users/{world.admin}/password",
            headers=bearer(sec),
            json={"password": STRONG},
        )
        assert r.status_code == 403 and r.json()["code"] == "forbidden"
        r = await http.post(url, headers=bearer(adm), json={"password": "aaaaaaaaaaaa"})
        assert r.status_code == 400 and "different characters" in r.json()["message"]
        r = await http.post(url, headers=bearer(adm), json={"password": STRONG})
        assert r.status_code == 200, r.text
        assert await ws.closed_with() == 4401
        assert (await http.get("/api/me", headers=bearer(sec))).status_code == 401
        assert (await http.get("/api/me", headers=bearer(adm))).status_code == 200
        assert await login(http, "sec", STRONG)


async def test_password_policy_for_accounts_made_over_http_and_the_cli(
    node: RunningHub, world: World, sqlite_url: str, tmp_path: Path
) -> None:
    """A new account's password must meet the policy, over HTTP (400 saying what is wrong)
    and with `hub user add` (exit 2, nothing created); demo passwords are not accepted."""
    adm = bearer(world.tok(world.admin))
    new = {"name": "新", "role": "secretariat"}
    async with httpx.AsyncClient(base_url=node.url) as http:
        for pw, why in (
            ("demo2026", "characters"),
            ("newsec-Harbour-7", "username"),
            ("demo2026-abc", "common"),
        ):
            r = await http.post(
                "/api/admin/users", headers=adm, json={**new, "username": "newsec", "password": pw}
            )
            assert r.status_code == 400 and why in r.json()["message"], (pw, r.text)
        r = await http.post(
            "/api/admin/users", headers=adm, json={**new, "username": "newsec", "password": STRONG}
        )
        assert r.status_code == 201
    env = {"HUB_DATABASE_URL": sqlite_url, "HUB_SECRET": SECRET, "HUB_DATA_DIR": str(tmp_path)}
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
            "pw",
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=TIMEOUT * 4,
    )
    assert cli.returncode == 2 and "bad_request" in cli.stderr, cli.stderr


# -- 7. login back-off -----------------------------------------------------------------------


def _from(address: str) -> dict[str, str]:
    return {"x-forwarded-for": address}


@pytest.fixture
async def proxied(sqlite_url: str, tmp_path: Path, world: World) -> AsyncIterator[RunningHub]:
    """A hub behind a (trusted) proxy on 127.0.0.1: X-Forwarded-For names the client."""
    s = settings_for(sqlite_url, tmp_path, trusted_proxies=("127.0.0.1",), login_rate=3)
    async with running_hub(s.with_(login_address_rate=40)) as h:
        yield h


async def test_failures_from_elsewhere_never_refuse_a_right_password(proxied: RunningHub) -> None:
    """Thirty wrong guesses for an account from one address neither lock nor slow the
    account's login from another address: the right password gets in at once."""
    async with httpx.AsyncClient(base_url=proxied.url) as http:
        for _ in range(30):
            r = await http.post(
                "/api/login",
                headers=_from("203.0.113.9"),
                json={"username": "sec", "password": "guess"},
            )
            assert r.status_code in (401, 429)
        r = await http.post(
            "/api/login",
            headers=_from("198.51.100.7"),
            json={"username": "sec", "password": PASSWORD},
        )
        assert r.status_code == 200, r.text


async def test_guesses_from_one_address_back_off_progressively(proxied: RunningHub) -> None:
    """After HUB_LOGIN_RATE failures of one username from one address, the next attempt
    from there waits (429, saying how long), the wait grows, and a wait served lets one
    attempt through; other usernames from that address are not slowed."""
    body = {"username": "sec", "password": "guess"}
    here = _from("203.0.113.9")
    async with httpx.AsyncClient(base_url=proxied.url) as http:
        for _ in range(3):
            assert (await http.post("/api/login", headers=here, json=body)).status_code == 401
        r = await http.post("/api/login", headers=here, json=body)
        assert r.status_code == 429 and r.json()["code"] == "rate_limited"
        assert "try again in 1 s" in r.json()["message"], r.text
        await asyncio.sleep(1.1)
        assert (await http.post("/api/login", headers=here, json=body)).status_code == 401
        r = await http.post("/api/login", headers=here, json=body)
        assert r.status_code == 429 and "try again in 2 s" in r.json()["message"], r.text
        r = await http.post(
            "/api/login", headers=here, json={"username": "adm", "password": PASSWORD}
        )
        assert r.status_code == 200


async def test_a_hall_behind_one_address_is_limited_only_in_bulk(proxied: RunningHub) -> None:
    """A hall behind one NAT address: many people mistyping once each do not stop the next
    one logging in; only HUB_LOGIN_ADDRESS_RATE failures a minute from it are refused."""
    hall = _from("192.0.2.1")
    async with httpx.AsyncClient(base_url=proxied.url) as http:
        for i in range(39):
            r = await http.post(
                "/api/login", headers=hall, json={"username": f"dep{i}", "password": "typo"}
            )
            assert r.status_code == 401, (i, r.text)
        r = await http.post(
            "/api/login", headers=hall, json={"username": "sec", "password": PASSWORD}
        )
        assert r.status_code == 200, r.text
        await http.post("/api/login", headers=hall, json={"username": "x", "password": "typo"})
        r = await http.post(
            "/api/login", headers=hall, json={"username": "adm", "password": PASSWORD}
        )
        assert r.status_code == 429 and "from your address" in r.json()["message"], r.text


async def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(
    sqlite_url: str, tmp_path: Path, world: World
) -> None:
    """Without HUB_TRUSTED_PROXIES a client cannot pose as many addresses by sending
    X-Forwarded-For: its guesses all count against its own address."""
    async with (
        running_hub(settings_for(sqlite_url, tmp_path, login_rate=3)) as h,
        httpx.AsyncClient(base_url=h.url) as http,
    ):
        for i in range(3):
            r = await http.post(
                "/api/login",
                headers=_from(f"203.0.113.{i}"),
                json={"username": "sec", "password": "g"},
            )
            assert r.status_code == 401
        r = await http.post(
            "/api/login", headers=_from("203.0.113.99"), json={"username": "sec", "password": "g"}
        )
        assert r.status_code == 429


# -- 10. one answer, one argon2 verification -------------------------------------------------


class CountingHasher(PasswordHasher):
    def __init__(self) -> None:
        super().__init__()
        self.verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.verified += 1
        return super().verify(hash, password)


async def test_login_answers_alike_after_one_verification(
    node: RunningHub, world: World, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unknown username, a wrong password and a deactivated account with its right
    password get the same status and body, each after exactly one argon2 verification."""
    hasher = CountingHasher()
    monkeypatch.setattr(hub.auth, "_hasher", hasher)
    engine = make_engine(sqlite_url)
    try:
        await set_active(engine, world.admin, False)
    finally:
        await engine.dispose()
    answers = []
    async with httpx.AsyncClient(base_url=node.url) as http:
        for username, password in (("nobody", PASSWORD), ("sec", "wrong"), ("adm", PASSWORD)):
            before = hasher.verified
            r = await http.post("/api/login", json={"username": username, "password": password})
            assert hasher.verified - before == 1, username
            answers.append((r.status_code, r.content))
        before = hasher.verified
        assert (
            await http.post("/api/login", json={"username": "sec", "password": PASSWORD})
        ).status_code == 200
        assert hasher.verified - before == 1
    assert answers[0] == answers[1] == answers[2], answers
    assert answers[0][0] == 401


# -- 11. security headers ----------------------------------------------------------------


async def test_pages_and_api_carry_the_security_headers(node: RunningHub) -> None:
    """Pages, API answers (also errors) and files carry CSP (no framing), nosniff,
    X-Frame-Options and Referrer-Policy; a document keeps its own sandbox policy."""
    async with httpx.AsyncClient(base_url=node.url) as http:
        for path in (
            "/static/index.html",
            "/static/js/api.js",
            "/api/me",
            "/api/nothing",
            "/healthz",
        ):
            h = (await http.get(path)).headers
            assert "frame-ancestors 'none'" in h["content-security-policy"], path
            assert "script-src 'self'" in h["content-security-policy"], path
            assert h["x-content-type-options"] == "nosniff", path
            assert h["x-frame-options"] == "DENY", path
            assert h["referrer-policy"] == "no-referrer", path


# -- 12. private files -------------------------------------------------------------------


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


async def test_database_wal_secret_and_uploads_are_private(tmp_path: Path) -> None:
    """`hub migrate`, `hub demo` and `hub serve` create the data directory 0700 and the
    database, its WAL, the secret and uploaded files 0600, whatever the caller's umask."""
    data = tmp_path / "data"
    env = {**os.environ, "HUB_DATA_DIR": str(data)}
    env.pop("HUB_SECRET", None)
    env.pop("HUB_DATABASE_URL", None)
    old = os.umask(0o022)
    try:
        for cmd in (["migrate"], ["demo"]):
            done = subprocess.run(
                [sys.executable, "-m", "hub", *cmd],
                env=env,
                capture_output=True,
                timeout=TIMEOUT * 6,
            )
            assert done.returncode == 0, done.stderr
        proc = await HubProcess(env).start()
        try:
            async with httpx.AsyncClient(base_url=proc.url) as http:
                assert (await http.get("/readyz")).status_code == 200
                created = sorted(p.relative_to(data).as_posix() for p in data.rglob("*"))
                assert "hub.sqlite3-wal" in created and "secret" in created, created
                assert any(p.startswith("files/") for p in created), created
                for p in data.rglob("*"):
                    want = 0o700 if p.is_dir() else 0o600
                    assert _mode(p) == want, (p, oct(_mode(p)))
                assert _mode(data) == 0o700
        finally:
            proc.terminate()
            await proc.wait()
    finally:
        os.umask(old)


def test_generated_secret_is_never_readable_by_others(tmp_path: Path) -> None:
    """The secret a hub generates is created 0600 even under a permissive umask (a hub
    started without the `hub` command), not written first and chmod-ed after."""
    from hub.config import Settings
    from hub.services import load_secret

    old = os.umask(0o022)
    try:
        secret = load_secret(Settings(data_dir=tmp_path / "data"))
    finally:
        os.umask(old)
    path = tmp_path / "data" / "secret"
    assert path.read_text() == secret and _mode(path) == 0o600


# -- 14. /metrics, document opens, Origin, the demo password ---------------------------------


async def test_metrics_need_a_local_request_or_the_configured_bearer(
    sqlite_url: str, tmp_path: Path, world: World
) -> None:
    """Without HUB_METRICS_TOKEN, /metrics answers a request made on this machine but not
    one relayed by a proxy (403); with it, only that bearer token (401 otherwise)."""
    async with (
        running_hub(settings_for(sqlite_url, tmp_path)) as h,
        httpx.AsyncClient(base_url=h.url) as http,
    ):
        assert (await http.get("/metrics")).status_code == 200
        r = await http.get("/metrics", headers=_from("203.0.113.9"))
        assert r.status_code == 403 and "HUB_METRICS_TOKEN" in r.json()["message"]
    async with (
        running_hub(settings_for(sqlite_url, tmp_path, metrics_token="scrape-me")) as h,
        httpx.AsyncClient(base_url=h.url) as http,
    ):
        assert (await http.get("/metrics")).status_code == 401
        assert (await http.get("/metrics", headers=bearer("wrong"))).status_code == 401
        assert (
            await http.get("/metrics", headers=bearer(world.tok(world.admin)))
        ).status_code == 401
        r = await http.get("/metrics", headers=bearer("scrape-me"))
        assert r.status_code == 200 and "hub_" in r.text


async def test_opening_a_document_again_within_a_minute_is_recorded_once(
    node: RunningHub, world: World
) -> None:
    """One person opening a document five times in a minute is one recorded open; another
    person's open is recorded too."""
    d0, d1 = world.tok(world.deputies[0]), world.tok(world.deputies[1])
    async with httpx.AsyncClient(base_url=node.url) as http:
        doc = await upload(http, world, "a.txt", b"A")
        for _ in range(5):
            assert (await http.get(f"/api/documents/{doc}", headers=bearer(d0))).status_code == 200
        assert (await http.get(f"/api/documents/{doc}", headers=bearer(d1))).status_code == 200
        r = await http.get(
            f"/api/documents/{doc}/opens", headers=bearer(world.tok(world.secretariat))
        )
        opens = r.json()["opens"]
        assert sorted(o["user"]["id"] for o in opens) == sorted(
            [world.deputies[0], world.deputies[1]]
        )


async def _upgrade(url: str, host: str, origin: str) -> int:
    """The status of a raw WebSocket handshake with these Host and Origin headers."""
    port = int(url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        (
            f"GET /ws HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    line = await asyncio.wait_for(reader.readline(), TIMEOUT)
    writer.close()
    return int(line.split()[1])


async def test_origin_is_not_trusted_because_it_matches_host(
    sqlite_url: str, tmp_path: Path, world: World
) -> None:
    """A page on a name that DNS rebinding points at the hub (Origin and Host both that
    name) is refused /ws; the hub's own address, localhost and configured origins are let in."""
    async with running_hub(settings_for(sqlite_url, tmp_path)) as h:
        port = h.url.rsplit(":", 1)[1]
        assert await _upgrade(h.url, f"evil.example:{port}", f"http://evil.example:{port}") == 403
        assert await _upgrade(h.url, f"127.0.0.1:{port}", f"http://127.0.0.1:{port}") == 101
        assert await _upgrade(h.url, f"localhost:{port}", f"http://localhost:{port}") == 101
    hub_origin = "https://hub.example.cn"
    async with running_hub(settings_for(sqlite_url, tmp_path, allowed_origins=(hub_origin,))) as h:
        assert await _upgrade(h.url, "hub.example.cn", hub_origin) == 101


async def test_demo_password_is_served_only_under_demo(
    sqlite_url: str, tmp_path: Path, world: World
) -> None:
    """A hub not started with --demo tells nobody the demo password: not the login page,
    its scripts or strings, nor /api/login/demo (204, empty); under --demo that endpoint does."""
    async with (
        running_hub(settings_for(sqlite_url, tmp_path)) as h,
        httpx.AsyncClient(base_url=h.url) as http,
    ):
        r = await http.get("/api/login/demo")
        assert r.status_code == 204 and r.content == b""
        for path in ("/static/index.html", "/static/js/login.js", "/static/js/i18n.js"):
            r = await http.get(path)
            assert r.status_code == 200 and "demo2026" not in r.text, path
    async with (
        running_hub(settings_for(sqlite_url, tmp_path, demo=True)) as h,
        httpx.AsyncClient(base_url=h.url) as http,
    ):
        r = await http.get("/api/login/demo")
        assert r.status_code == 200 and r.json()["password"] == "demo2026"
        assert {"username": "mishu", "who": "大会秘书处 · 孙敏"} in r.json()["accounts"]

"""A browser's lasting login (hub/devices.py, hub/api/devices.py), against a real hub on
SQLite and PostgreSQL: the device cookie, its rotation, reuse detection, the device list
and signing a device out, an admin signing out all of a person's devices, logout and a
password change."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from hub.devices import COOKIE, COOKIE_PATH
from tests.utils.factories import PASSWORD, World
from tests.utils.servers import RunningHub

REFRESH = f"{COOKIE_PATH}/refresh"
STRONG = "Lantern-Quay-2026"


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@asynccontextmanager
async def browser(hub: RunningHub, username: str = "sec") -> AsyncIterator[httpx.AsyncClient]:
    """A client with its own cookie jar, logged in as ``username`` (its token in
    ``.token``)."""
    async with httpx.AsyncClient(base_url=hub.url) as c:
        r = await c.post("/api/login", json={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        c.token = r.json()["token"]  # type: ignore[attr-defined]
        yield c


async def refresh(c: httpx.AsyncClient, credential: str | None = None) -> httpx.Response:
    """POST the refresh with the jar's cookie, or with ``credential`` alone."""
    if credential is None:
        return await c.post(REFRESH)
    jar = c.cookies
    c.cookies = httpx.Cookies()
    try:
        return await c.post(REFRESH, headers={"cookie": f"{COOKIE}={credential}"})
    finally:
        c.cookies = jar


async def test_login_sets_a_lasting_login_cookie_that_refreshes(
    hub: RunningHub, world: World
) -> None:
    """Logging in sets the device cookie httpOnly, SameSite=Strict, scoped to the refresh
    path; refreshing with it gives a token for the same person; without one, 204 (nothing
    to renew); with a forged one, 401."""
    async with browser(hub) as c:
        r = await c.post("/api/login", json={"username": "sec", "password": PASSWORD})
        header = r.headers["set-cookie"]
        assert header.startswith(f"{COOKIE}=")
        attrs = {a.strip().lower() for a in header.split(";")[1:]}
        assert "httponly" in attrs and "samesite=strict" in attrs
        assert f"path={COOKIE_PATH}" in attrs
        assert any(a.startswith("max-age=") for a in attrs)
        r = await refresh(c)
        assert r.status_code == 200, r.text
        assert r.json()["user"]["id"] == world.secretariat
        me = await c.get("/api/me", headers=bearer(r.json()["token"]))
        assert me.status_code == 200 and me.json()["id"] == world.secretariat
    async with httpx.AsyncClient(base_url=hub.url) as nobody:
        assert (await nobody.post(REFRESH)).status_code == 204  # never logged in here
        r = await refresh(nobody, "forged.0.credential")
        assert r.status_code == 401 and r.json()["code"] == "unauthorized"


async def test_each_credential_works_once_and_reuse_signs_the_device_out(
    hub: RunningHub, world: World
) -> None:
    """Each refresh rotates the credential; the one just rotated still refreshes for a
    moment (two tabs at once) without a new cookie; an older one presented again signs
    the device out: its newest credential and its access tokens stop working."""
    async with browser(hub) as c:
        first = c.cookies[COOKIE]
        r = await refresh(c)
        assert r.status_code == 200
        second = c.cookies[COOKIE]
        assert second != first and second.split(".")[1] == "1"
        r = await refresh(c)
        third = c.cookies[COOKIE]
        token = r.json()["token"]
        assert third.split(".")[1] == "2"
        r = await refresh(c, second)  # a second tab that sent the previous cookie
        assert r.status_code == 200 and "set-cookie" not in r.headers
        assert (await c.get("/api/me", headers=bearer(token))).status_code == 200
        r = await refresh(c, first)  # a stolen, long rotated credential
        assert r.status_code == 401 and r.json()["reason"] == "reused"
        assert (await refresh(c, third)).status_code == 401
        assert (await c.get("/api/me", headers=bearer(token))).status_code == 401
        assert (await c.get("/api/me", headers=bearer(c.token))).status_code == 401  # type: ignore[attr-defined]


async def test_a_person_sees_their_devices_and_signs_one_out(hub: RunningHub, world: World) -> None:
    """Two browsers are two devices; the list marks the current one; signing the other
    out ends its refresh and its token at once; a device not one's own is 404."""
    async with browser(hub) as a, browser(hub) as b:
        r = await a.get("/api/devices", headers=bearer(a.token))  # type: ignore[attr-defined]
        assert r.status_code == 200, r.text
        listed = r.json()["devices"]
        assert len(listed) == 2 and [d["current"] for d in listed].count(True) == 1
        other = next(d["id"] for d in listed if not d["current"])
        async with browser(hub, "adm") as admin:
            theirs = (await admin.get("/api/devices", headers=bearer(admin.token))).json()  # type: ignore[attr-defined]
            r = await a.post(
                f"/api/devices/{theirs['devices'][0]['id']}/sign-out",
                headers=bearer(a.token),  # type: ignore[attr-defined]
            )
            assert r.status_code == 404 and r.json()["code"] == "not_found"
        r = await a.post(f"/api/devices/{other}/sign-out", headers=bearer(a.token))  # type: ignore[attr-defined]
        assert r.status_code == 200 and r.json() == {"signed_out": 1}
        assert (await b.get("/api/me", headers=bearer(b.token))).status_code == 401  # type: ignore[attr-defined]
        assert (await refresh(b)).status_code == 401
        assert (await refresh(a)).status_code == 200
        r = await a.get("/api/devices", headers=bearer(a.token))  # type: ignore[attr-defined]
        assert [d["id"] for d in r.json()["devices"]] != [other]
        assert len(r.json()["devices"]) == 1


async def test_an_admin_signs_out_all_of_a_persons_devices(hub: RunningHub, world: World) -> None:
    """Only an admin signs out every device of a person (403 for anyone else); then none
    of them refreshes."""
    async with browser(hub) as a, browser(hub) as b, browser(hub, "adm") as admin:
        path = f"/api/users/{world.secretariat}/devices/sign-out"
        r = await a.post(path, headers=bearer(a.token))  # type: ignore[attr-defined]
        assert r.status_code == 403 and r.json()["code"] == "forbidden"
        r = await admin.post(path, headers=bearer(admin.token))  # type: ignore[attr-defined]
        assert r.status_code == 200 and r.json() == {"signed_out": 2}
        assert (await refresh(a)).status_code == 401
        assert (await refresh(b)).status_code == 401
        assert (await refresh(admin)).status_code == 200


async def test_logout_and_a_password_change_end_lasting_logins(
    hub: RunningHub, world: World
) -> None:
    """Logging out ends this device's lasting login and clears its cookie; a password
    change ends every other device's, and keeps the one it was made on logged in with a
    new token (the old one dead)."""
    async with browser(hub) as a, browser(hub) as b, browser(hub) as c:
        kept = c.cookies[COOKIE]
        r = await c.post("/api/logout", headers=bearer(c.token))  # type: ignore[attr-defined]
        assert r.status_code == 200
        assert "max-age=0" in r.headers["set-cookie"].lower()
        assert COOKIE not in c.cookies
        assert (await refresh(c, kept)).status_code == 401
        r = await a.post(
            "/api/password",
            headers=bearer(a.token),  # type: ignore[attr-defined]
            json={"current": PASSWORD, "new": STRONG},
        )
        assert r.status_code == 200, r.text
        fresh = r.json()["token"]
        assert (await a.get("/api/me", headers=bearer(a.token))).status_code == 401  # type: ignore[attr-defined]
        assert (await a.get("/api/me", headers=bearer(fresh))).status_code == 200
        assert (await refresh(a)).status_code == 200  # this browser stays logged in
        assert (await refresh(b)).status_code == 401  # the others are signed out

"""The web client's files over HTTP (``hub.assets``): a page names every script and the
stylesheet by a versioned URL, carries an import map for every module and preloads the
modules it needs; a versioned URL is cached for a year, anything else is revalidated by
its ETag; text is sent gzip-compressed to a client that accepts it, and so are large API
answers, but not the archive's exports; the CSP allows exactly the import map."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from hub.app import STATIC
from tests.utils.factories import World, make_world
from tests.utils.servers import RunningHub, running_hub, settings_for

PAGES = (
    "index.html",
    "deputy.html",
    "unit.html",
    "secretariat.html",
    "supervisor.html",
    "admin.html",
)
IMPORT_MAP = re.compile(r'<script type="importmap">(.*?)</script>', re.S)


@pytest.fixture
async def hub(sqlite_url: str, tmp_path: Path) -> AsyncIterator[RunningHub]:
    async with running_hub(settings_for(sqlite_url, tmp_path)) as h:
        yield h


def plain(client: httpx.AsyncClient) -> httpx.AsyncClient:
    client.headers["accept-encoding"] = "identity"
    return client


def imports_of(name: str) -> set[str]:
    """What a module under static/js imports, read from the file on disk."""
    text = (STATIC / "js" / name).read_text()
    return set(re.findall(r"""^\s*(?:import|export)\b[^;'"]*?["']\./([^"']+)["']""", text, re.M))


def module_graph(entry: str) -> set[str]:
    seen: set[str] = set()
    todo = [entry]
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo += imports_of(m)
    return seen


async def test_pages_name_versioned_files_and_preload_their_modules(hub: RunningHub) -> None:
    """Each page names its scripts, stylesheet and icon by ``?v=<version>`` URLs; its
    import map maps every module to its versioned URL; it preloads its entry module's
    whole import graph; each versioned URL serves the file on disk."""
    async with plain(httpx.AsyncClient(base_url=hub.url)) as http:
        for page in PAGES:
            r = await http.get(f"/static/{page}")
            assert r.status_code == 200
            html = r.text
            refs = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
            assert refs and all("?v=" in ref for ref in refs), (page, refs)
            m = IMPORT_MAP.search(html)
            assert m is not None, page
            mapping = json.loads(m.group(1))["imports"]
            on_disk = {p.name for p in (STATIC / "js").glob("*.js")}
            assert {k.removeprefix("/static/js/") for k in mapping} == on_disk
            entry = re.search(r'<script type="module" src="/static/js/([^"?]+)\?v=', html)
            assert entry is not None, page
            preloaded = set(re.findall(r'rel="modulepreload" href="/static/js/([^"?]+)\?v=', html))
            assert preloaded == module_graph(entry.group(1)), page
            for ref in refs:
                f = await http.get(ref)
                assert f.status_code == 200, ref
                assert (
                    f.content == (STATIC / ref.split("?")[0].removeprefix("/static/")).read_bytes()
                )


async def test_versioned_files_are_immutable_others_revalidate(hub: RunningHub) -> None:
    """A URL with the file's current version is cached for a year; a page, a plain URL
    and an old version get ``no-cache`` and an ETag, and a matching ETag gets 304."""
    async with plain(httpx.AsyncClient(base_url=hub.url)) as http:
        html = (await http.get("/static/deputy.html")).text
        versioned = re.search(r'src="(/static/js/api\.js\?v=[0-9a-f]+)"', html)
        assert versioned is None  # api.js is imported, not named by a script tag
        url = json.loads(IMPORT_MAP.search(html).group(1))["imports"]["/static/js/api.js"]  # type: ignore[union-attr]
        r = await http.get(url)
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
        for other in (
            "/static/js/api.js",
            "/static/js/api.js?v=0123456789ab",
            "/static/deputy.html",
        ):
            r = await http.get(other)
            assert r.status_code == 200, other
            assert r.headers["cache-control"] == "no-cache", other
            etag = r.headers["etag"]
            again = await http.get(other, headers={"if-none-match": etag})
            assert again.status_code == 304, other
            assert again.content == b""
        assert (await http.get("/static/js/nothing.js")).status_code == 404
        assert (await http.get("/static/../hub/app.py")).status_code == 404


async def test_text_is_gzipped_for_a_client_that_accepts_it(hub: RunningHub) -> None:
    """Scripts, pages and styles come gzip-compressed when asked for, and decompress to
    the same bytes; an image does not; a client that does not accept gzip gets them
    plain."""
    async with httpx.AsyncClient(base_url=hub.url) as http:
        for path in ("/static/js/i18n.js", "/static/css/hub.css", "/static/index.html"):
            raw = await http.get(path, headers={"accept-encoding": "gzip"})
            assert raw.headers["content-encoding"] == "gzip", path
            assert raw.headers["vary"] == "accept-encoding"
            plain_r = await http.get(path, headers={"accept-encoding": "identity"})
            assert "content-encoding" not in plain_r.headers
            assert raw.content == plain_r.content  # httpx decoded it
            assert int(raw.headers["content-length"]) < len(plain_r.content) / 2, path
        # ``stream`` keeps the bytes as sent
        async with http.stream(
            "GET", "/static/js/i18n.js", headers={"accept-encoding": "gzip"}
        ) as s:
            sent = b"".join([c async for c in s.aiter_raw()])
        assert gzip.decompress(sent) == (STATIC / "js" / "i18n.js").read_bytes()


async def test_csp_allows_exactly_the_import_map(hub: RunningHub) -> None:
    """The pages' CSP names the SHA-256 of the import map, the one inline script, and
    nothing else inline."""
    async with plain(httpx.AsyncClient(base_url=hub.url)) as http:
        r = await http.get("/static/secretariat.html")
        csp = r.headers["content-security-policy"]
        script_src = re.search(r"script-src ([^;]+)", csp).group(1).split()  # type: ignore[union-attr]
        body = IMPORT_MAP.search(r.text).group(1)  # type: ignore[union-attr]
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert script_src == ["'self'", f"'sha256-{digest}'"]
        assert "unsafe-inline" not in csp


@pytest.fixture
async def world(sqlite_url: str) -> World:
    return await make_world(sqlite_url)


async def test_large_api_answers_are_gzipped_exports_are_not(
    world: World, sqlite_url: str, tmp_path: Path
) -> None:
    """A JSON answer over 1 KiB is gzip-compressed for a client that accepts it; the
    archive's CSV export is not (it streams megabytes, encoded off the event loop)."""
    async with (
        running_hub(settings_for(sqlite_url, tmp_path)) as h,
        httpx.AsyncClient(base_url=h.url) as http,
    ):
        http.headers["authorization"] = f"Bearer {world.tok(world.supervisor)}"
        http.headers["accept-encoding"] = "gzip"
        r = await http.get("/openapi.json")
        assert r.headers["content-encoding"] == "gzip"
        r = await http.get(f"/api/archive/export/messages?meeting_id={world.meeting}&format=csv")
        assert r.status_code == 200, r.text
        assert "content-encoding" not in r.headers

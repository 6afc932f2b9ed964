"""The site icon: /favicon.ico and the icon every page names are served, not 404."""

from __future__ import annotations

import httpx

from tests.utils.servers import RunningHub


async def test_favicon_is_served(hub: RunningHub) -> None:
    """GET /favicon.ico and /static/favicon.svg answer 200 with an SVG image."""
    async with httpx.AsyncClient(base_url=hub.url) as http:
        for path in ("/favicon.ico", "/static/favicon.svg"):
            r = await http.get(path)
            assert r.status_code == 200, path
            assert r.headers["content-type"].startswith("image/svg+xml"), path
            assert r.content.startswith(b"<svg"), path

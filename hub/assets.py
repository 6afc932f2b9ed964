"""The web client's files (``static/``), served so a page costs one round trip on a
congested hall network.

The files are read once, when the hub starts (a changed file is served after a restart):

- Every file gets a content version, the start of its SHA-256. A URL that names the
  current version (``/static/js/ui.js?v=1a2b3c4d5e6f``) is cached for a year as
  ``immutable``: a repeat visit asks the network for nothing but the page itself.
- A page (``*.html``) is served with ``no-cache`` (revalidated by its ETag each time) and
  rewritten to name its scripts and stylesheet by versioned URLs. Modules import each
  other by relative names (``./ui.js``), so each page also carries one import map from
  every module's plain URL to its versioned one, and a ``modulepreload`` link for each
  module the page needs, so the browser fetches the whole module graph at once instead
  of discovering it one level per round trip.
- A URL without the current version (an old link, a tool) gets the file with ``no-cache``
  and its ETag, so it is never served stale.
- Text files are kept gzip-compressed as well, and sent so to a browser that accepts it.

- ``sw.js``, the service worker (scope ``/static/``), is written here with the list of what
  it keeps on the device: every page by its plain URL and every other file by its
  versioned URL, and a version naming them all. A deploy that changes any file changes
  ``sw.js``; the browser installs it, and it drops the previous copy.

The import map is an inline script; :attr:`Assets.script_hashes` are the CSP hashes that
allow exactly it.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import mimetypes
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
COMPRESSIBLE = (".html", ".js", ".css", ".svg", ".json", ".webmanifest")
VERSION_CHARS = 12

_IMPORT = re.compile(r"""(?:^|\n)\s*(?:import|export)\b[^;'"]*?["'](\.{1,2}/[^"']+)["']""")
_REFERENCE = re.compile(r"""(src|href)="/static/([^"?#]+)\"""")
_PRECACHE = re.compile(r"^const VERSION = .*;\nconst PRECACHE = .*;$", re.M)
WORKER = "sw.js"
_ENTRY = re.compile(r"""<script type="module" src="/static/([^"?#]+)"></script>""")


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes | None
    media_type: str
    version: str

    @property
    def etag(self) -> str:
        return f'"{self.version}"'


def _version(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:VERSION_CHARS]


def _asset(path: Path, body: bytes) -> Asset:
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if media_type.startswith("text/") or media_type == "application/javascript":
        media_type += "; charset=utf-8"
    gzipped = None
    if path.suffix in COMPRESSIBLE:
        packed = gzip.compress(body, 9, mtime=0)
        gzipped = packed if len(packed) < len(body) else None
    return Asset(body, gzipped, media_type, _version(body))


def _imports(name: str, text: str) -> list[str]:
    """The modules a module imports statically, as paths under ``static/``."""
    folder = name.split("/")[:-1]
    out = []
    for spec in _IMPORT.findall(text):
        parts = list(folder)
        for seg in spec.split("/"):
            if seg == "..":
                parts.pop()
            elif seg != ".":
                parts.append(seg)
        out.append("/".join(parts))
    return out


class Assets:
    """The files under ``root``, versioned and compressed; :meth:`serve` is the route."""

    def __init__(self, root: Path) -> None:
        raw = {
            p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.startswith(".")
        }
        self.files = {name: _asset(Path(name), body) for name, body in raw.items()}
        self.modules = {
            name: _imports(name, body.decode())
            for name, body in raw.items()
            if name.endswith(".js") and name != WORKER
        }
        import_map = json.dumps(
            {"imports": {f"/static/{m}": self.url(m) for m in sorted(self.modules)}},
            separators=(",", ":"),
        )
        digest = base64.b64encode(hashlib.sha256(import_map.encode()).digest()).decode()
        self.script_hashes = (f"'sha256-{digest}'",)
        for name, body in raw.items():
            if name.endswith(".html"):
                page = self._page(body.decode(), import_map)
                self.files[name] = _asset(Path(name), page.encode())
        if WORKER in raw:
            self.files[WORKER] = _asset(Path(WORKER), self._worker(raw[WORKER].decode()).encode())

    def url(self, name: str) -> str:
        """The versioned URL of the file ``name`` (a path under ``static/``)."""
        return f"/static/{name}?v={self.files[name].version}"

    def _worker(self, source: str) -> str:
        """The service worker with the current precache list and its version."""
        shell = [
            f"/static/{n}" if n.endswith(".html") else self.url(n)
            for n in sorted(self.files)
            if n != WORKER
        ]
        version = _version(
            "\n".join(f"{n} {a.version}" for n, a in sorted(self.files.items())).encode()
        )
        lines = f"const VERSION = {json.dumps(version)};\nconst PRECACHE = {json.dumps(shell)};"
        out, found = _PRECACHE.subn(lambda _: lines, source)
        if found != 1:
            raise ValueError(
                f"{WORKER} must hold the lines `const VERSION = …;` `const PRECACHE = …;`"
            )
        return out

    def _graph(self, entries: list[str]) -> list[str]:
        """Every module the entry modules need, each once."""
        graph: list[str] = []
        todo = list(entries)
        while todo:
            name = todo.pop(0)
            if name not in graph and name in self.modules:
                graph.append(name)
                todo += self.modules[name]
        return graph

    def _page(self, html: str, import_map: str) -> str:
        """The page with versioned references, the import map and its modules preloaded."""
        head = [f'<script type="importmap">{import_map}</script>']
        head += [
            f'<link rel="modulepreload" href="{self.url(m)}">'
            for m in self._graph(_ENTRY.findall(html))
        ]
        html = _REFERENCE.sub(
            lambda m: f'{m.group(1)}="{self.url(m.group(2))}"' if m.group(2) in self.files
            else m.group(0),
            html,
        )  # fmt: skip
        first_script = html.index("<script")
        return html[:first_script] + "\n  ".join(head) + "\n  " + html[first_script:]

    async def serve(self, request: Request) -> Response:
        """``GET /static/{path}``: the file, versioned, compressed, with its cache policy."""
        name = request.path_params["path"]
        if name == "" or name.endswith("/"):
            name += "index.html"
        return self.response(request, name)

    def serve_file(self, name: str) -> Callable[[Request], Awaitable[Response]]:
        """A route that answers with the file ``name`` whatever its path."""

        async def serve(request: Request) -> Response:
            return self.response(request, name)

        return serve

    def response(self, request: Request, name: str) -> Response:
        asset = self.files.get(name)
        if asset is None:
            return Response("Not Found", status_code=404, media_type="text/plain")
        pinned = request.query_params.get("v") == asset.version and not name.endswith(".html")
        headers = {
            "cache-control": IMMUTABLE if pinned else REVALIDATE,
            "etag": asset.etag,
            "vary": "accept-encoding",
        }
        if asset.etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        body = asset.body
        if asset.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
            body = asset.gzipped
            headers["content-encoding"] = "gzip"
        return Response(body, headers=headers, media_type=asset.media_type)

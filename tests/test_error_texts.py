"""Every error code has a text in every language of the web client, and the shared field
helpers name the field at fault in a machine-readable ``field``."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from hub.errors import HTTP_STATUS
from hub.session.attendance import CHECKIN_CODE_REASONS, CHECKIN_WINDOW_REASONS
from hub.session.meetings import ENDED_REASONS
from hub.session.members import CONTACTS
from hub.session.roster import FIELDS, ROW_ERRORS
from hub.session.roster_sheet import FILE_REASONS
from tests.utils.factories import PASSWORD, World
from tests.utils.servers import RunningHub

I18N = Path(__file__).resolve().parents[1] / "static" / "js" / "i18n.js"


def tables() -> dict[str, set[str]]:
    """The keys of each language table in i18n.js (``const zh = {…}``, ``const en = {…}``)."""
    src = I18N.read_text(encoding="utf-8")
    found = {}
    for name, body in re.findall(r"^const (\w+) = \{\n(.*?)^\};", src, re.S | re.M):
        found[name] = set(re.findall(r'^\s+"([^"]+)":', body, re.M))
    assert set(found) >= {"zh", "en"}, found.keys()
    return found


def test_every_error_code_has_a_text_in_every_language() -> None:
    """hub/errors.py's codes (and the client's own `network` and fallback `unknown`) each
    have an `error.<code>` string in the zh-CN and the English table."""
    wanted = {f"error.{c}" for c in [*HTTP_STATUS, "network", "unknown"]}
    for name, keys in tables().items():
        assert wanted <= keys, f"{name} lacks {sorted(wanted - keys)}"


def test_every_conflict_reason_has_a_text_in_every_language() -> None:
    """A conflict about a sitting's end names its `reason`; the pages say which, in each
    language (`conflict.<reason>`), instead of the generic conflict text."""
    wanted = {f"conflict.{r}" for r in (*ENDED_REASONS, *CHECKIN_WINDOW_REASONS)}
    wanted |= {f"bad_request.{r}" for r in CHECKIN_CODE_REASONS}
    for name, keys in tables().items():
        assert wanted <= keys, f"{name} lacks {sorted(wanted - keys)}"
    src = I18N.read_text(encoding="utf-8")
    assert "`conflict.${p.reason}`" in src  # errorText reads them


def test_every_roster_reason_has_a_text_in_every_language() -> None:
    """The roster import's row errors (`roster.err.<code>`), its file problems
    (`bad_request.<reason>`) and its conflicts have a text in each language; errorText
    reads a bad_request's reason."""
    wanted = {f"roster.err.{c}" for c in ROW_ERRORS}
    wanted |= {f"bad_request.{r}" for r in FILE_REASONS}
    wanted |= {"conflict.roster_errors", "conflict.roster_changed"}
    wanted |= {f"contact.{c}" for c in CONTACTS}
    wanted |= {f"roster.field.{f}" for f in FIELDS}
    for name, keys in tables().items():
        assert wanted <= keys, f"{name} lacks {sorted(wanted - keys)}"
    assert "`bad_request.${p.reason}`" in I18N.read_text(encoding="utf-8")


async def test_bad_fields_and_parameters_name_the_field(hub: RunningHub, world: World) -> None:
    """A missing body field, a mistyped one and a bad query parameter are 400s whose body
    holds `field` next to `code` and `message`."""
    async with httpx.AsyncClient(base_url=hub.url) as http:
        r = await http.post("/api/login", json={"username": "sec"})
        assert r.status_code == 400
        assert r.json() == {
            "code": "bad_request",
            "message": "missing `password`",
            "field": "password",
        }
        r = await http.post("/api/login", json={"username": 5, "password": "x"})
        assert r.json()["field"] == "username"
        login = await http.post("/api/login", json={"username": "sec", "password": PASSWORD})
        auth = {"authorization": f"Bearer {login.json()['token']}"}
        r = await http.get("/api/opinions?deputy_id=abc", headers=auth)
        assert r.status_code == 400 and r.json()["field"] == "deputy_id", r.text
        r = await http.get("/api/opinions?limit=0", headers=auth)
        assert r.status_code == 400 and r.json()["field"] == "limit", r.text

"""Forged workflow messages: nobody, the secretariat included, publishes a kind the
workflows publish (a notice's tally, an opinion, an item's step …) raw, over HTTP or /ws,
on any real channel of a meeting they take part in; nothing is stored."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.hostile.conftest import SyncClient, Target
from tests.session.test_kinds import appended_kinds
from tests.utils import TIMEOUT
from tests.utils.factories import World

ROLES = ("secretariat", "deputy", "unit", "supervisor", "admin")


def forged_kinds() -> list[str]:
    """Every kind a workflow appends (read from the code), each family's bare name and a
    made-up member of each family."""
    found = {k + "forged" if k.endswith(".") else k for k in appended_kinds()}
    families = {k.split(".", 1)[0] for k in found}
    return sorted(found | families | {f + ".forged" for f in families})


KINDS = forged_kinds()


def user_of(w: World, role: str) -> int:
    return {
        "secretariat": w.secretariat,
        "deputy": w.deputies[0],
        "unit": w.unit_users[0],
        "supervisor": w.supervisor,
        "admin": w.admin,
    }[role]


def real_channels(w: World) -> list[str]:
    """The meeting's channels the workflows publish on: its desk and the meeting, the
    delegation, inbox and unit of the participants used here."""
    return [
        f"desk:{w.meeting}",
        f"meeting:{w.meeting}",
        f"delegation:{w.delegations[0]}",
        f"deputy:{w.deputies[0]}",
        f"unit:{w.units[0]}",
    ]


def heads(http: httpx.Client, w: World) -> dict[str, int]:
    h = {"Authorization": f"Bearer {w.tok(w.secretariat)}"}
    return {
        ch: int(http.get(f"/api/channels/{ch}/messages", headers=h).json()["head"])
        for ch in real_channels(w)
    }


def stored_since(http: httpx.Client, w: World, before: dict[str, int]) -> list[dict[str, object]]:
    """What was stored on the channels after ``before`` by anyone but the hub itself (a
    connection makes the hub publish `presence.changed` on the desk)."""
    h = {"Authorization": f"Bearer {w.tok(w.secretariat)}"}
    out = []
    for ch, since in before.items():
        r = http.get(f"/api/channels/{ch}/messages", params={"since": since}, headers=h)
        out += [m for m in r.json()["messages"] if m["sender"]["role"] != "system"]
    return out


@pytest.fixture
def http(target: Target) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=target.node.url, timeout=TIMEOUT) as c:
        yield c


def test_the_kinds_tried_cover_every_family() -> None:
    """The forged kinds include tallies, opinions, items, suggestions and presence."""
    for k in ("notice.tally", "opinion.submitted", "item.evaluated", "suggestion.accepted"):
        assert k in KINDS
    assert "presence.changed" in KINDS and "registration.forged" in KINDS


@pytest.mark.parametrize("role", ROLES)
def test_reserved_kinds_refused_over_http(target: Target, http: httpx.Client, role: str) -> None:
    """POST /api/channels/{c}/messages of any reserved kind is 403 `forbidden` for every
    role on every real channel of the meeting, and stores nothing."""
    w = target.world
    h = {"Authorization": f"Bearer {w.tok(user_of(w, role))}"}
    before = heads(http, w)
    for ch in real_channels(w):
        for kind in KINDS:
            body = {"kind": kind, "body": {"notice": 1, "delivered": 10, "read": 10}}
            r = http.post(f"/api/channels/{ch}/messages", headers=h, json=body)
            assert (r.status_code, r.json().get("code")) == (403, "forbidden"), (role, ch, kind)
            if role == "secretariat":
                assert "reserved for the hub's workflows" in r.json()["message"], r.text
    assert stored_since(http, w, before) == []


@pytest.mark.parametrize("role", ROLES)
def test_reserved_kinds_refused_over_ws(target: Target, http: httpx.Client, role: str) -> None:
    """A `publish` frame of any reserved kind is answered `forbidden` (with its ref) for
    every role on every real channel of the meeting, and stores nothing."""
    w = target.world
    before = heads(http, w)
    c = SyncClient(target.node.ws_url, w.tok(user_of(w, role)))
    try:
        for ch in real_channels(w):
            for i, kind in enumerate(KINDS):
                ref = f"{ch}#{i}"
                c.send({"type": "publish", "channel": ch, "kind": kind, "body": {}, "ref": ref})
                r = c.reply()
                assert (r["type"], r.get("code"), r.get("ref")) == ("error", "forbidden", ref), (
                    role,
                    ch,
                    kind,
                    r,
                )
    finally:
        c.close()
    assert stored_since(http, w, before) == []


def test_secretariat_still_publishes_other_kinds(target: Target, http: httpx.Client) -> None:
    """The refusal is about the kind: the secretariat's own `bulletin` on the desk is stored."""
    w = target.world
    h = {"Authorization": f"Bearer {w.tok(w.secretariat)}"}
    r = http.post(f"/api/channels/desk:{w.meeting}/messages", headers=h, json={"kind": "bulletin"})
    assert r.status_code == 201, r.text

"""Random, malformed, oversized-number, deeply nested, unicode, mistyped and out-of-order
frames thrown at a real server: each gets a documented answer, and a neighbour
connection goes on being served."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.errors import HTTP_STATUS
from hub.protocol import FRAME_TYPES
from tests.hostile.conftest import DERANDOMIZE, SyncClient, Target

DOCUMENTED = set(HTTP_STATUS) - {"internal"}  # `internal` is documented, but means a bug
REPLIES = {"subscribed", "unsubscribed", "published", "pong", "receipt", "error"}
SETTINGS = settings(
    max_examples=120,
    deadline=None,
    derandomize=DERANDOMIZE,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def check_reply(f: dict[str, Any], sent: str) -> None:
    assert f["type"] in REPLIES, (sent, f)
    if f["type"] == "error":
        assert f["code"] in DOCUMENTED, (sent, f)
        assert isinstance(f["message"], str) and f["message"], (sent, f)


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)


@st.composite
def channel_names(draw: st.DrawFn, target: Target) -> Any:
    w = target.world
    real = [
        f"meeting:{w.meeting}",
        f"meeting:{w.other_meeting}",
        f"desk:{w.meeting}",
        f"deputy:{w.deputies[0]}",
        f"deputy:{w.deputies[1]}",
        f"unit:{w.units[0]}",
        f"unit:{w.units[1]}",
        f"delegation:{w.delegations[0]}",
        "meeting:999999999999999999",
    ]
    return draw(
        st.sampled_from(real)
        | st.from_regex(r"\A(meeting|desk|deputy|unit|delegation|x):-?[0-9]{0,22}\Z")
        | st.text(max_size=30)
        | values
    )


@st.composite
def frames(draw: st.DrawFn, target: Target) -> str:
    """One text frame: mostly protocol-shaped with random or mistyped fields."""
    kind = draw(st.sampled_from(["shaped", "shaped", "shaped", "raw", "deep", "number"]))
    if kind == "raw":
        return draw(st.text(max_size=200))
    if kind == "deep":
        depth = draw(st.integers(1, 3000))
        inner = "[" * depth + "]" * depth
        return '{"type":"publish","channel":"desk:1","kind":"n","body":{"a":' + inner + "}}"
    if kind == "number":
        digits = draw(st.integers(1, 400))
        field = draw(st.sampled_from(["since", "seq", "ref", "body"]))
        t = draw(st.sampled_from(["subscribe", "ack", "read", "ping", "publish"]))
        return f'{{"type":"{t}","channel":"meeting:1","kind":"n","{field}":{"9" * digits}}}'
    frame: dict[str, Any] = {
        "type": draw(st.sampled_from(FRAME_TYPES) | st.text(max_size=12) | values)
    }
    optional = {
        "ref": st.text(max_size=70) | values,
        "token": st.text(max_size=60) | values,
        "channel": channel_names(target),
        "since": st.integers(-5, 2**64) | values,
        "kind": st.from_regex(r"\A[a-z][a-z0-9_.\-]{0,66}\Z") | values,
        "body": st.dictionaries(st.text(max_size=10), values, max_size=4) | values,
        "key": st.text(min_size=0, max_size=130) | values,
        "seq": st.integers(-5, 2**64) | values,
    }
    for name, strategy in optional.items():
        if draw(st.booleans()):
            frame[name] = draw(strategy)
    return json.dumps(frame, ensure_ascii=draw(st.booleans()))


@pytest.fixture(scope="module")
def neighbour(target: Target) -> Iterator[SyncClient]:
    """A deputy subscribed to the meeting all along."""
    c = SyncClient(target.node.ws_url, target.world.tok(target.world.deputies[0]))
    c.send({"type": "subscribe", "channel": f"meeting:{target.world.meeting}"})
    assert c.reply()["type"] == "subscribed"
    yield c
    c.close()


def _role(target: Target, i: int) -> int:
    w = target.world
    return [w.deputies[1], w.secretariat, w.supervisor, w.unit_users[0], w.outsider, w.admin][i]


@SETTINGS
@given(data=st.data())
def test_random_frames_get_documented_answers(
    target: Target, neighbour: SyncClient, data: st.DataObject
) -> None:
    """After `auth`, every frame gets one direct answer: a documented reply, or an `error`
    with a code from the table in hub/errors.py (never `internal`); the connection stays
    open, and the neighbour is still served."""
    who = _role(target, data.draw(st.integers(0, 5), label="role"))
    c = SyncClient(target.node.ws_url, target.world.tok(who))
    try:
        for text in data.draw(st.lists(frames(target), min_size=1, max_size=6), label="frames"):
            c.ws.send(text)
            check_reply(c.reply(), text)
    finally:
        c.close()
    neighbour.send({"type": "ping", "ref": "n"})
    assert neighbour.reply() == {"type": "pong", "ref": "n"}


@SETTINGS
@given(first=st.text(max_size=200) | st.binary(max_size=50) | st.builds(str, st.just("")))
def test_anything_before_auth_closes_4401(target: Target, first: str | bytes) -> None:
    """A first frame that is not a valid `auth` gets `unauthorized` and close 4401."""
    c = SyncClient(target.node.ws_url)
    c.ws.send(first)
    err = c.recv()
    assert (err["type"], err["code"]) == ("error", "unauthorized"), (first, err)
    with pytest.raises(websockets.ConnectionClosed) as closed:
        c.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


@SETTINGS
@given(
    token=st.text(max_size=120)
    | st.from_regex(r"\A[A-Za-z0-9_\-]{1,60}\.[^\n]{0,60}\Z")
    | st.builds(lambda a, b: f"{a}.{b}", st.text(max_size=40), st.text(max_size=40))
)
def test_garbage_tokens_close_4401(target: Target, token: str) -> None:
    """Any token that was not issued by the hub (unicode, dots, junk) is `unauthorized`,
    closed with 4401; never a server error."""
    c = SyncClient(target.node.ws_url)
    c.send({"type": "auth", "token": token})
    err = c.recv()
    assert (err["type"], err["code"]) in {("error", "unauthorized"), ("error", "bad_request")}
    with pytest.raises(websockets.ConnectionClosed) as closed:
        c.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


def test_neighbour_still_gets_live_notices(target: Target, neighbour: SyncClient) -> None:
    """After all the garbage, a notice still reaches the neighbour, in sequence."""
    w = target.world
    sec = SyncClient(target.node.ws_url, w.tok(w.secretariat))
    ch = f"meeting:{w.meeting}"
    sec.send({"type": "publish", "channel": ch, "kind": "bulletin", "body": {"t": "still here"}})
    published = sec.reply()
    assert published["type"] == "published"
    while True:
        m = neighbour.recv()
        if m["type"] == "message" and m["seq"] == published["seq"]:
            assert m["body"] == {"t": "still here"}
            break
    sec.close()


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "publish", "kind": "n", "body": {}, "key": "a\u0000b"},
        {"type": "publish", "kind": "n", "body": {"a": [[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]] * 8}},
        {"type": "publish", "kind": "n", "body": {"deep": json.loads("[" * 300 + "]" * 300)}},
    ],
)
def test_text_the_database_cannot_store_is_refused(target: Target, frame: dict[str, Any]) -> None:
    """A NUL in a stored string (PostgreSQL text cannot hold it) or a body nested past
    the limit is `bad_request`, not a server error; nothing is stored."""
    w = target.world
    c = SyncClient(target.node.ws_url, w.tok(w.secretariat))
    c.ws.send(json.dumps({**frame, "channel": f"meeting:{w.other_meeting}"}))
    r = c.reply()
    if frame["body"].get("a"):  # 17 levels: allowed
        assert r["type"] == "published"
    else:
        assert (r["type"], r["code"]) == ("error", "bad_request")
    c.close()

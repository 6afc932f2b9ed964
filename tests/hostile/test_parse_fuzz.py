"""``hub.protocol.parse`` on anything: a typed frame or a ``FrameError``, never another
exception, and an error message that stays short whatever the input."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub import protocol as p
from hub.protocol import FRAME_TYPES, FrameError, parse
from tests.hostile.conftest import DERANDOMIZE

FIELDS = ("type", "ref", "token", "channel", "since", "kind", "body", "key", "seq")

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=80)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
channels = st.one_of(
    st.sampled_from(["meeting:1", "desk:2", "deputy:3", "unit:4", "delegation:5"]),
    st.from_regex(r"\A(meeting|desk|deputy|unit|delegation|x):-?[0-9]{0,25}\Z"),
    st.text(max_size=70),
)
field_values = {
    "type": st.sampled_from(FRAME_TYPES) | st.text(max_size=20) | json_values,
    "ref": st.text(max_size=70) | json_values,
    "token": st.text(max_size=100) | json_values,
    "channel": channels | json_values,
    "since": st.integers() | json_values,
    "kind": st.from_regex(r"\A[a-z][a-z0-9_.\-]{0,70}\Z") | json_values,
    "body": st.dictionaries(st.text(max_size=8), json_values) | json_values,
    "key": st.text(max_size=140) | json_values,
    "seq": st.integers() | json_values,
}
frames = st.fixed_dictionaries({}, optional={f: field_values[f] for f in FIELDS}) | st.dictionaries(
    st.text(max_size=10), json_values
)

TYPED = (p.Auth, p.Subscribe, p.Unsubscribe, p.Publish, p.Receipt, p.Ping)


def _parse(data: str | bytes) -> p.Frame | FrameError:
    try:
        f = parse(data)
    except FrameError as e:
        assert e.code == "bad_request"
        assert 0 < len(e.message) < 400, e.message
        return e
    assert isinstance(f, TYPED)
    return f


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], derandomize=DERANDOMIZE)
@given(frames)
def test_frame_shaped_objects(frame: dict[str, Any]) -> None:
    """JSON objects with the protocol's fields holding any JSON value: a frame whose fields
    are valid, or a FrameError that echoes a valid `ref`."""
    out = _parse(json.dumps(frame, ensure_ascii=False))
    ref = frame.get("ref")
    decoded = not (isinstance(out, FrameError) and "not valid JSON" in out.message)
    if decoded and isinstance(out, FrameError) and isinstance(ref, str) and len(ref) <= 64:
        assert out.ref == ref, "the error echoes the frame's ref"
    if not isinstance(out, FrameError):
        assert out.ref == ref
        if isinstance(out, p.Subscribe | p.Receipt):
            n = out.since if isinstance(out, p.Subscribe) else out.seq
            assert n is None or 0 <= n <= p.MAX_SEQ


@settings(max_examples=300, derandomize=DERANDOMIZE)
@given(st.text(max_size=300))
def test_any_text(text: str) -> None:
    """Any text at all (unicode, control characters, lone surrogates)."""
    _parse(text)


@settings(max_examples=100, derandomize=DERANDOMIZE)
@given(st.binary(max_size=300))
def test_any_binary(data: bytes) -> None:
    """A binary frame is always refused."""
    assert isinstance(_parse(data), FrameError)


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000,
        '{"a":' * 100_000,
        '{"type":"ping","ref":"' + "x" * 1_000_000 + '"}',
        '{"type":"subscribe","channel":"meeting:1","since":' + "9" * 5000 + "}",
        '{"type":"ack","channel":"meeting:1","seq":1e999}',
        '{"type":"ack","channel":"meeting:1","seq":-0}',
        '{"type":"ack","channel":"meeting:1","seq":18446744073709551616}',
        '{"type":"ack","channel":"meeting:1","seq":9223372036854775808}',
        '{"type":"subscribe","channel":"meeting:1","since":NaN}',
        '{"type":"publish","channel":"desk:1","kind":"n","body":' + "[" * 2000 + "]" * 2000 + "}",
        '{"type":"publish","channel":"meeting:' + "9" * 30 + '","kind":"n"}',
        '{"type":"ping","type":"auth"}',
        '{"type":"\\ud800"}',
        '{"type":"ping"}\x00',
        "\ufeff{}",
        "",
        "null",
        '"ping"',
    ],
)
def test_extremes(text: str) -> None:
    """Deep nesting, huge numbers, huge strings, duplicate keys, lone surrogates."""
    _parse(text)

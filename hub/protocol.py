"""WebSocket protocol v1: parsing client frames and encoding server frames, without I/O.

``parse(text)`` turns one text frame into a typed frame or raises
:class:`~hub.errors.BadRequest` (whose ``ref`` is echoed when the frame carried a valid
one). The authoritative description is ``docs/protocol.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
import orjson
from msgspec import Meta

from hub.channels import Channel, parse_channel
from hub.errors import BadRequest, HubError
from hub.params import MAX_ID
from hub.shapes import KIND, NO_NUL, Body, Shape, Timestamp, bad_request

MAX_SEQ = MAX_ID  # a seq is a BIGINT, as ids are
MAX_DEPTH = 64  # nesting of a `body`; JSON encoders (and readers of the log) have limits


class Sender(Shape):
    id: int
    name: str
    role: str


class Message(Shape):
    """A stored message as a subscriber receives it (a ``message`` frame without its type)."""

    channel: str
    seq: int
    id: int
    kind: str
    sender: Sender
    body: dict[str, Any]
    ts: Timestamp


class PublishFields(Body):
    """What a publish carries besides its channel (a ``publish`` frame's fields, or the
    body of ``POST /api/channels/{channel}/messages``)."""

    kind: Annotated[str, Meta(pattern=KIND, description="the message's kind")]
    body: dict[str, Any] = msgspec.field(default_factory=dict)
    key: (
        Annotated[
            str,
            Meta(
                min_length=1,
                max_length=128,
                pattern=NO_NUL,
                description="idempotency key: a second publish with it stores nothing new",
            ),
        ]
        | None
    ) = None


@dataclass(frozen=True, slots=True)
class Auth:
    token: str
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Subscribe:
    channel: Channel
    since: int | None = None
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    channel: Channel
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Publish:
    channel: Channel
    kind: str
    body: dict[str, Any]
    key: str | None = None
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Receipt:
    """``ack`` (delivery: the client holds every message up to seq) or ``read``."""

    what: str
    channel: Channel
    seq: int
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Ping:
    ref: str | None = None


Frame = Auth | Subscribe | Unsubscribe | Publish | Receipt | Ping
FRAME_TYPES = ("auth", "subscribe", "unsubscribe", "publish", "ack", "read", "ping")


class FrameError(BadRequest):
    """A malformed frame; ``ref`` is the frame's ref when it had a valid one."""

    def __init__(self, message: str, ref: str | None = None, **extra: Any) -> None:
        super().__init__(message, **extra)
        self.ref = ref


def _ref(d: dict[str, Any]) -> str | None:
    ref = d.get("ref")
    if ref is None:
        return None
    if not isinstance(ref, str) or len(ref) > 64:
        raise FrameError("`ref` must be a string of at most 64 characters")
    return ref


def _int(d: dict[str, Any], name: str, minimum: int, ref: str | None) -> int:
    v = d.get(name)
    if isinstance(v, bool) or not isinstance(v, int):
        raise FrameError(f"`{name}` must be an integer >= {minimum}", ref)
    if v < minimum or v > MAX_SEQ:
        raise FrameError(f"`{name}` must be an integer between {minimum} and {MAX_SEQ}", ref)
    return v


def _channel(d: dict[str, Any], ref: str | None) -> Channel:
    if "channel" not in d:
        raise FrameError("missing `channel`", ref)
    try:
        return parse_channel(d["channel"])
    except BadRequest as e:
        raise FrameError(e.message, ref) from None


def _depth(value: Any) -> int:
    """How deep arrays and objects nest in ``value`` (without recursion)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, dict | list):
            deepest = max(deepest, depth)
            if depth <= MAX_DEPTH:
                stack.extend((x, depth + 1) for x in (v.values() if isinstance(v, dict) else v))
    return deepest


def parse_publish(d: dict[str, Any], ref: str | None = None) -> Publish:
    """Validate a publish frame."""
    return publish(_channel(d, ref), _publish_fields(d, ref), ref)


def parse_publish_body(raw: bytes, channel: Channel) -> Publish:
    """An HTTP publish on ``channel``: its body read as a frame is (an integer past 64 bits
    becomes a float, which the log can store) and checked as a frame's fields are."""
    try:
        d = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError as e:
        raise BadRequest(f"body is not valid JSON: {e.msg}") from None
    if not isinstance(d, dict):
        raise BadRequest("body must be a JSON object")
    return publish(channel, _publish_fields(d, None))


def _publish_fields(d: dict[str, Any], ref: str | None) -> PublishFields:
    try:
        return msgspec.convert(d, PublishFields)
    except msgspec.ValidationError as e:
        err = bad_request(e, PublishFields)
        raise FrameError(err.message, ref, **err.extra) from None


def publish(channel: Channel, f: PublishFields, ref: str | None = None) -> Publish:
    """A publish of ``f`` on ``channel``, its body nested no deeper than MAX_DEPTH."""
    if _depth(f.body) > MAX_DEPTH:
        raise FrameError(f"`body` nests deeper than {MAX_DEPTH} levels", ref)
    return Publish(channel, f.kind, f.body, f.key, ref)


def parse(data: str | bytes) -> Frame:
    """Parse and validate one client frame."""
    if isinstance(data, bytes):
        raise FrameError("frames must be JSON text frames, not binary")
    try:
        d = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise FrameError(f"frame is not valid JSON: {e.msg}") from None
    if not isinstance(d, dict):
        raise FrameError("a frame must be a JSON object with a `type`")
    ref = _ref(d)
    t = d.get("type")
    if t == "subscribe":
        since = None if d.get("since") is None else _int(d, "since", 0, ref)
        return Subscribe(_channel(d, ref), since, ref)
    if t == "publish":
        return parse_publish(d, ref)
    if t in ("ack", "read"):
        return Receipt(t, _channel(d, ref), _int(d, "seq", 1, ref), ref)
    if t == "unsubscribe":
        return Unsubscribe(_channel(d, ref), ref)
    if t == "ping":
        return Ping(ref)
    if t == "auth":
        token = d.get("token")
        if not isinstance(token, str) or not token:
            raise FrameError("`token` must be a non-empty string", ref)
        return Auth(token, ref)
    if not isinstance(t, str):
        raise FrameError("missing `type`: one of " + ", ".join(FRAME_TYPES), ref)
    raise FrameError(
        f"unknown frame type {t[:40]!r}: expected one of {', '.join(FRAME_TYPES)}", ref
    )


def iso(ts: datetime) -> str:
    """ISO-8601 in UTC with microseconds and a ``Z``: the one timestamp format on the wire.
    A naive ``ts`` is UTC (as SQLite gives back what the hub stored)."""
    if ts.tzinfo is UTC or (ts.tzinfo is not None and not ts.utcoffset()):
        return ts.isoformat(timespec="microseconds")[:26] + "Z"  # the common case, fast
    return utc(ts).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def iso_or_none(ts: datetime | None) -> str | None:
    return None if ts is None else iso(ts)


def utc(ts: datetime) -> datetime:
    """A timestamp read back from the database, as an aware UTC datetime (SQLite drops the
    zone; every timestamp the hub stores is UTC)."""
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def encode(frame: dict[str, Any]) -> str:
    return orjson.dumps(frame).decode()


def with_ref(frame: dict[str, Any], ref: str | None) -> dict[str, Any]:
    if ref is not None:
        frame["ref"] = ref
    return frame


def error_frame(err: HubError, ref: str | None = None) -> str:
    frame: dict[str, Any] = {"type": "error", "code": err.code, "message": err.message}
    frame.update(err.extra)
    return encode(with_ref(frame, ref))

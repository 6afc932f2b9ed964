"""What the opinion, item and suggestion workflows share: input fields and the writing
transaction of an action."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from hub.errors import BadRequest, Unavailable
from hub.node import Writer

if TYPE_CHECKING:
    from hub.services import Services

MAX_TEXT = 20_000


@asynccontextmanager
async def writing(s: Services) -> AsyncIterator[Writer]:
    """``node.writing()`` for a user's action: refused while the node drains, and counted
    in flight so a shutdown lets it finish and answer."""
    if s.draining:
        raise Unavailable("server shutting down: send the request again")
    with s.work():
        async with s.node.writing() as w:
            yield w


def aware(ts: datetime | None) -> datetime | None:
    """A timestamp read back from the database as aware UTC (SQLite drops the zone; every
    timestamp stored is UTC)."""
    if ts is None:
        return None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def text_field(d: dict[str, Any], name: str, required: bool = True, limit: int = MAX_TEXT) -> str:
    """A non-blank string of at most ``limit`` characters, stripped ("" if optional and
    absent)."""
    v = d.get(name)
    if v is None and not required:
        return ""
    if not isinstance(v, str) or (required and not v.strip()):
        raise BadRequest(f"`{name}` must be a non-empty string")
    if len(v) > limit:
        raise BadRequest(f"`{name}` is over {limit} characters")
    return v.strip()


def id_field(d: dict[str, Any], name: str, required: bool = True) -> int | None:
    v = d.get(name)
    if v is None:
        if required:
            raise BadRequest(f"missing `{name}`")
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise BadRequest(f"`{name}` must be a positive integer id")
    return v


def id_list(d: dict[str, Any], name: str, allow_empty: bool = True) -> list[int]:
    """A list of distinct positive ids (absent: empty)."""
    v = d.get(name)
    if v is None:
        v = []
    if (
        not isinstance(v, list)
        or not all(isinstance(i, int) and not isinstance(i, bool) and i > 0 for i in v)
        or len(set(v)) != len(v)
        or (not v and not allow_empty)
    ):
        what = "a list" if allow_empty else "a non-empty list"
        raise BadRequest(f"`{name}` must be {what} of distinct positive ids")
    return list(v)

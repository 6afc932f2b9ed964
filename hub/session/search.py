"""Data query (数据查询): one search over what is the caller's, by words and by state.

A deputy searches their own notices (those addressed to them), the documents of their
meetings, their opinions, and their suggestions and commit-to-do items; a unit's account
the items of its unit. (The secretariat searches the opinions and items of its meeting
with the filters of ``GET /api/opinions`` and ``GET /api/items``.)

Each ``q`` word must be in the title or the text (a document: its title or file name; an
opinion: its text) — a parameterised ``LIKE`` with the word escaped, the same on SQLite
and PostgreSQL. ``state`` is the state the result shows: a notice ``read`` or ``unread``
(by the caller), an opinion its status, an item or suggestion its state; a document has
none, so a ``state`` leaves documents out. Results come newest first across the kinds, a
bounded page (``limit`` ≤ 100, ``offset`` ≤ :data:`MAX_OFFSET`): each kind is asked for
at most ``offset + limit`` rows, newest first, and the pages merged, so no query reads more
than that; ``total`` counts every match, per kind in ``by_type``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

import sqlalchemy as sa
from msgspec import Meta
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.errors import BadRequest, Forbidden
from hub.protocol import iso, utc
from hub.session import lifecycle as lc
from hub.session.documents import documents
from hub.session.items import item_deputies, item_units, items
from hub.session.members import Member
from hub.session.notices import notice_deliveries, notices
from hub.session.opinions import STATUSES as OPINION_STATUSES
from hub.session.opinions import opinions
from hub.shapes import Body, Shape, Timestamp, Words

if TYPE_CHECKING:
    from hub.services import Services

Type = Literal["notice", "document", "opinion", "suggestion", "item"]
TYPES: tuple[str, ...] = get_args(Type)
NOTICE_STATES = ("read", "unread")
STATES: tuple[str, ...] = tuple(dict.fromkeys((*NOTICE_STATES, *OPINION_STATUSES, *lc.STATES)))
MAX_OFFSET = 10_000


class SearchQuery(Body):
    """What ``GET /api/search`` asks for."""

    q: Annotated[Words, Meta(description="words, each in the title or the text")] | None = None
    state: (
        Annotated[
            str,
            Meta(
                max_length=20,
                description="only results in this state: a notice read or unread, an "
                "opinion's status, an item's or suggestion's state (documents have none); "
                "one of " + ", ".join(STATES),
            ),
        ]
        | None
    ) = None
    type: Annotated[Type, Meta(description="only this kind of result")] | None = None
    limit: Annotated[int, Meta(ge=1, le=100, description="default 20")] = 20
    offset: Annotated[int, Meta(ge=0, le=MAX_OFFSET)] = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.state is not None and self.state not in STATES:
            raise BadRequest(
                f"`state` {self.state!r} is none of {', '.join(STATES)}", field="state"
            )


class SearchResult(Shape):
    type: Type
    id: int
    meeting_id: int
    title: Annotated[str, Meta(description="an opinion's: the start of its text")]
    state: Annotated[str | None, Meta(description="none for a document")]
    at: Annotated[Timestamp, Meta(description="when it was sent, added, submitted or created")]


class SearchPage(Shape):
    results: Annotated[list[SearchResult], Meta(description="newest first")]
    total: Annotated[int, Meta(description="every match, not only this page")]
    by_type: Annotated[dict[str, int], Meta(description="the matches per type")]


def _words(q: str | None, *columns: Any) -> list[sa.ColumnElement[bool]]:
    return [sa.or_(*(c.contains(w, autoescape=True) for c in columns)) for w in (q or "").split()]


# One kind: (its select of id, meeting_id, title, state, at with every condition; the
# number of matches), newest first.
Kind = tuple[sa.Select[Any], sa.Select[Any]]


def _page(base: sa.Select[Any], conds: Sequence[sa.ColumnElement[bool]], at: Any, key: Any) -> Kind:
    q = base.where(*conds)
    count = sa.select(sa.func.count()).select_from(q.subquery())
    return q.order_by(at.desc(), key.desc()), count


def _notices(me: Member, f: SearchQuery) -> Kind | None:
    read = sa.exists().where(
        notice_deliveries.c.notice_id == notices.c.id,
        notice_deliveries.c.user_id == me.id,
        notice_deliveries.c.read_at.is_not(None),
    )
    state = sa.case((read, "read"), else_="unread")
    conds = [
        notices.c.id.in_(
            sa.select(notice_deliveries.c.notice_id).where(notice_deliveries.c.user_id == me.id)
        ),
        *_words(f.q, notices.c.title, notices.c.text),
    ]
    if f.state is not None:
        if f.state not in NOTICE_STATES:
            return None
        conds.append(read if f.state == "read" else ~read)
    base = sa.select(
        sa.literal("notice").label("type"),
        notices.c.id,
        notices.c.meeting_id,
        notices.c.title,
        state.label("state"),
        notices.c.created_at.label("at"),
    )
    return _page(base, conds, notices.c.created_at, notices.c.id)


def _documents(me: Member, f: SearchQuery) -> Kind | None:
    if f.state is not None:
        return None
    conds = [
        documents.c.meeting_id.in_(sorted(me.meetings)),
        *_words(f.q, documents.c.title, documents.c.filename),
    ]
    base = sa.select(
        sa.literal("document").label("type"),
        documents.c.id,
        documents.c.meeting_id,
        documents.c.title,
        sa.null().label("state"),
        documents.c.created_at.label("at"),
    )
    return _page(base, conds, documents.c.created_at, documents.c.id)


def _opinions(me: Member, f: SearchQuery) -> Kind | None:
    if f.state is not None and f.state not in OPINION_STATUSES:
        return None
    conds = [opinions.c.deputy_id == me.id, *_words(f.q, opinions.c.text)]
    if f.state is not None:
        conds.append(opinions.c.status == f.state)
    base = sa.select(
        sa.literal("opinion").label("type"),
        opinions.c.id,
        opinions.c.meeting_id,
        sa.func.substr(opinions.c.text, 1, 60).label("title"),
        opinions.c.status.label("state"),
        opinions.c.created_at.label("at"),
    )
    return _page(base, conds, opinions.c.created_at, opinions.c.id)


def _items(me: Member, f: SearchQuery, kind: str) -> Kind | None:
    if f.state is not None and f.state not in lc.STATES:
        return None
    if me.role == "deputy":
        mine = sa.select(item_deputies.c.item_id).where(item_deputies.c.deputy_id == me.id)
    else:
        mine = sa.select(item_units.c.item_id).where(item_units.c.unit_id == me.unit_id)
    conds = [items.c.id.in_(mine), items.c.kind == kind, *_words(f.q, items.c.title, items.c.text)]
    if f.state is not None:
        conds.append(items.c.state == f.state)
    base = sa.select(
        sa.literal("item" if kind == lc.COMMIT else "suggestion").label("type"),
        items.c.id,
        items.c.meeting_id,
        items.c.title,
        items.c.state,
        items.c.created_at.label("at"),
    )
    return _page(base, conds, items.c.created_at, items.c.id)


async def search(s: Services, me: Member, f: SearchQuery) -> dict[str, Any]:
    """The caller's own notices, documents, opinions, suggestions and items matching ``f``
    (a unit's account: its items and suggestions), newest first."""
    if me.role == "deputy":
        kinds = {
            "notice": _notices(me, f),
            "document": _documents(me, f),
            "opinion": _opinions(me, f),
            "suggestion": _items(me, f, lc.SUGGESTION),
            "item": _items(me, f, lc.COMMIT),
        }
    elif me.role == "unit" and me.unit_id is not None:
        kinds = {"suggestion": _items(me, f, lc.SUGGESTION), "item": _items(me, f, lc.COMMIT)}
    else:
        raise Forbidden(
            f"a {me.role} searches with the lists' filters (GET /api/opinions, /api/items)"
        )
    wanted = {t: k for t, k in kinds.items() if k is not None and f.type in (None, t)}
    rows: list[Any] = []
    by_type: dict[str, int] = {}
    async with s.log.reading() as conn:
        for t, (q, count) in wanted.items():
            by_type[t] = int((await conn.execute(count)).scalar_one())
            if by_type[t]:
                rows += await _newest(conn, q, f.offset + f.limit)
    rows.sort(key=lambda r: (utc(r.at), r.id), reverse=True)
    page = rows[f.offset : f.offset + f.limit]
    return {
        "results": [
            {
                "type": r.type,
                "id": int(r.id),
                "meeting_id": int(r.meeting_id),
                "title": r.title,
                "state": r.state,
                "at": iso(utc(r.at)),
            }
            for r in page
        ],
        "total": sum(by_type.values()),
        "by_type": by_type,
    }


async def _newest(conn: AsyncConnection, q: sa.Select[Any], n: int) -> list[Any]:
    return list(await conn.execute(q.limit(n)))

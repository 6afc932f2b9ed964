"""Meeting documents (会议文件): uploaded by the secretariat, listed and opened by
participants; every open is recorded.

The bytes live under ``HUB_DATA_DIR/files/<aa>/<sha256>`` (content-addressed: the same
file uploaded twice is stored once); the metadata is in ``documents``. An upload is
checked (who may upload, to what) before its body is read, streamed to a temporary file
while it is hashed and counted, refused with ``too_large`` as soon as it passes
``HUB_UPLOAD_LIMIT``, and moved into the store only by the transaction that records it
(:class:`StagedBlob`): a refused or broken upload leaves no file behind. Adding a document publishes
``document.added`` ``{"document": …}`` on ``meeting:<id>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, Annotated, Any, Protocol

import sqlalchemy as sa
from msgspec import Meta

from hub.errors import BadRequest, NotFound, TooLarge
from hub.protocol import iso_or_none
from hub.session.common import check_meeting_reader, meeting_row, person, require_role
from hub.session.members import Member
from hub.session.schema import users
from hub.shapes import NO_NUL, Body, Named, Shape, Timestamp, Title
from hub.store.schema import BigId, metadata

if TYPE_CHECKING:
    from hub.node import Node, Writer


class StoredBlob(Protocol):
    """What a document records of its bytes."""

    @property
    def size(self) -> int: ...

    @property
    def sha256(self) -> str: ...


documents = sa.Table(
    "documents",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("meeting_id", BigId, sa.ForeignKey("meetings.id"), nullable=False),
    sa.Column("title", sa.String(300), nullable=False),
    sa.Column("filename", sa.String(255), nullable=False),
    sa.Column("content_type", sa.String(200), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("uploaded_by", BigId, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_documents_meeting", "meeting_id"),
)

document_opens = sa.Table(
    "document_opens",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("document_id", BigId, sa.ForeignKey("documents.id"), nullable=False),
    sa.Column("user_id", BigId, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_document_opens_document", "document_id", "ts"),
)


def blob_path(data_dir: Path, sha256: str) -> Path:
    return Path(data_dir) / "files" / sha256[:2] / sha256


def clean_filename(name: str) -> str:
    """The last path component of what the client sent, at most 255 characters."""
    base = PureWindowsPath(PurePosixPath(name).name).name.strip()
    if "\x00" in base:
        raise BadRequest("`filename` must not contain NUL characters")
    if not base or base in (".", ".."):
        raise BadRequest("`filename` must name a file, e.g. 政府工作报告.pdf")
    return base[-255:]


class StagedBlob:
    """An upload streamed to a temporary file beside the content store, not yet in it.

    :meth:`keep` moves it into place (an atomic rename on the same file system); the
    caller does that inside the transaction that records the file, after every write
    succeeded and before the commit announces it, so a client told of a file can always
    fetch its bytes. A commit that fails after :meth:`keep` leaves the blob unreferenced;
    the store is content-addressed, so a retry of the same upload reuses it.
    """

    def __init__(self, data_dir: Path, tmp: Path, sha256: str, size: int) -> None:
        self.data_dir = data_dir
        self.tmp = tmp
        self.sha256 = sha256
        self.size = size

    async def keep(self) -> None:
        final = blob_path(self.data_dir, self.sha256)
        await asyncio.to_thread(final.parent.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(os.replace, self.tmp, final)


def tmp_dir(data_dir: Path) -> Path:
    """Where uploads are streamed before they are kept (under the store: same file system)."""
    return Path(data_dir) / "files" / "tmp"


@contextlib.asynccontextmanager
async def staged_blob(
    data_dir: Path, chunks: AsyncIterator[bytes], limit: int
) -> AsyncIterator[StagedBlob]:
    """Stream an upload to a temporary file while it is hashed and counted.

    Raises :class:`TooLarge` as soon as more than ``limit`` bytes arrive. On leaving the
    block the temporary file is gone, whatever happened (refusal, a failed write, the
    client hanging up mid-upload): the bytes are in the store only if
    :meth:`StagedBlob.keep` ran.
    """
    folder = tmp_dir(data_dir)
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    tmp = folder / secrets.token_hex(8)
    h = hashlib.sha256()
    size = 0
    f = await asyncio.to_thread(tmp.open, "wb")
    try:
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise TooLarge(f"the file is over the upload limit of {limit} bytes")
                h.update(chunk)
                await asyncio.to_thread(f.write, chunk)
        finally:
            await asyncio.to_thread(f.close)
        if size == 0:
            raise BadRequest("the file is empty: send its bytes as the request body")
        yield StagedBlob(Path(data_dir), tmp, h.hexdigest(), size)
    finally:
        # shielded: a cancelled request (the client hung up) still removes its file
        await asyncio.shield(asyncio.to_thread(_remove, tmp))


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


FileName = Annotated[str, Meta(max_length=4096, pattern=NO_NUL, description="the file's name")]
"""An uploaded file's name as the query gives it (:func:`clean_filename` makes it safe)."""


class UploadQuery(Body):
    """An upload's name and title (its bytes are the request body)."""

    filename: FileName
    title: Annotated[Title, Meta(description="defaults to the file name")] | None = None


class Document(Shape):
    id: int
    meeting_id: int
    title: str
    filename: str
    content_type: str
    size: int
    sha256: str
    created_at: Timestamp | None


class Documents(Shape):
    documents: list[Document]


class DocumentOpen(Shape):
    user: Named
    ts: Timestamp | None


class DocumentOpens(Shape):
    """Who opened a document and when."""

    document: Document
    opens: list[DocumentOpen]
    readers: Annotated[int, Meta(description="distinct users who opened it")]


def document_dict(r: Any) -> dict[str, Any]:
    return {
        "id": int(r.id),
        "meeting_id": int(r.meeting_id),
        "title": r.title,
        "filename": r.filename,
        "content_type": r.content_type,
        "size": int(r.size),
        "sha256": r.sha256,
        "created_at": iso_or_none(r.created_at),
    }


async def check_can_upload(node: Node, me: Member, meeting_id: int) -> None:
    """Before the bytes are read: the caller is secretariat and the meeting exists."""
    require_role(me, "secretariat")
    async with node.log.reading() as conn:
        await meeting_row(conn, meeting_id)


async def add_document(
    node: Node,
    me: Member,
    meeting_id: int,
    title: str,
    filename: str,
    content_type: str,
    blob: StagedBlob,
) -> dict[str, Any]:
    """Record an uploaded blob as a document of the meeting, keep it, and announce it."""
    require_role(me, "secretariat")
    async with node.writing() as w:
        out = await record_document(w, me, meeting_id, title, filename, content_type, blob)
        await blob.keep()
    return out


async def record_document(
    w: Writer,
    me: Member,
    meeting_id: int,
    title: str,
    filename: str,
    content_type: str,
    blob: StoredBlob,
) -> dict[str, Any]:
    """Record a blob as a document of the meeting inside the transaction ``w`` (the demo's
    seeding composes several) and announce it as ``document.added``."""
    await meeting_row(w.conn, meeting_id)
    did = (
        await w.conn.execute(
            documents.insert()
            .values(
                meeting_id=meeting_id,
                title=title,
                filename=filename,
                content_type=content_type[:200] or "application/octet-stream",
                size=blob.size,
                sha256=blob.sha256,
                uploaded_by=me.id,
                created_at=w.clock.now(),
            )
            .returning(documents.c.id)
        )
    ).scalar_one()
    row = (await w.conn.execute(sa.select(documents).where(documents.c.id == did))).one()
    out = document_dict(row)
    await w.append(f"meeting:{meeting_id}", "document.added", me, {"document": out})
    return out


async def list_documents(node: Node, me: Member, meeting_id: int) -> list[dict[str, Any]]:
    async with node.log.reading() as conn:
        await meeting_row(conn, meeting_id)
        check_meeting_reader(me, meeting_id)
        rows = await conn.execute(
            sa.select(documents)
            .where(documents.c.meeting_id == meeting_id)
            .order_by(documents.c.id)
        )
        return [document_dict(r) for r in rows]


# Opening a document again within this many seconds is not recorded again: a reader's
# reloads (or a script's loop) cost one read, not one write each.
OPEN_EVERY = 60


async def open_document(node: Node, me: Member, document_id: int) -> dict[str, Any]:
    """Check access and record the open, at most once per person per document per
    :data:`OPEN_EVERY` seconds; the document (the caller then sends the bytes)."""
    async with node.log.reading() as conn:
        r = (await conn.execute(sa.select(documents).where(documents.c.id == document_id))).first()
        if r is None:
            raise NotFound(f"no document {document_id}")
        check_meeting_reader(me, int(r.meeting_id))
        recent = await conn.execute(
            sa.select(document_opens.c.id)
            .where(
                document_opens.c.document_id == document_id,
                document_opens.c.user_id == me.id,
                document_opens.c.ts > node.clock.now() - timedelta(seconds=OPEN_EVERY),
            )
            .limit(1)
        )
        opened = recent.first() is not None
    if not opened:
        async with node.writing() as w:
            await w.conn.execute(
                document_opens.insert().values(
                    document_id=document_id, user_id=me.id, ts=node.clock.now()
                )
            )
    return document_dict(r)


async def document_opens_of(node: Node, me: Member, document_id: int) -> dict[str, Any]:
    """Who opened a document and when (secretariat, supervisors, admins)."""
    require_role(me, "secretariat", "supervisor", "admin")
    async with node.log.reading() as conn:
        r = (await conn.execute(sa.select(documents).where(documents.c.id == document_id))).first()
        if r is None:
            raise NotFound(f"no document {document_id}")
        rows = await conn.execute(
            sa.select(document_opens.c.user_id, users.c.name, document_opens.c.ts)
            .join(users, users.c.id == document_opens.c.user_id)
            .where(document_opens.c.document_id == document_id)
            .order_by(document_opens.c.ts, document_opens.c.id)
        )
        opens = [(int(o.user_id), o.name, iso_or_none(o.ts)) for o in rows]
    return {
        "document": document_dict(r),
        "opens": [{"user": person(uid, name), "ts": ts} for uid, name, ts in opens],
        "readers": len({uid for uid, _, _ in opens}),
    }

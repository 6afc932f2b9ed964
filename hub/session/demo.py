"""The demo meeting's structure (``hub demo``): sittings, agenda items and a document,
each added through the secretariat's own workflow step (its message on ``meeting:<id>``).

Sittings are placed on the day of seeding (Beijing time) and left open-ended
(``ends_at`` null), so check-in, leave and speakers can be tried whenever the demo runs.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.clock import Clock
from hub.node import Writer
from hub.session.documents import blob_path, record_document
from hub.session.meetings import add_agenda_item, add_sitting
from hub.session.members import Member
from hub.session.schema import users

BEIJING = timezone(timedelta(hours=8))
AGENDA = (
    "政府工作报告",
    "国民经济和社会发展计划执行情况与计划草案的报告",
    "财政预算执行情况与预算草案的报告",
    "市中级人民法院工作报告",
    "市人民检察院工作报告",
)
AGENDA_TEXT = """市第七届人民代表大会第五次会议议程

一、听取和审议政府工作报告
二、审查国民经济和社会发展计划执行情况与计划草案的报告
三、审查财政预算执行情况与预算草案的报告
四、听取和审议市中级人民法院工作报告
五、听取和审议市人民检察院工作报告

大会秘书处
"""


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), BEIJING).astimezone(UTC)


@dataclass(frozen=True)
class _Blob:
    size: int
    sha256: str


async def seed_session(
    conn: AsyncConnection,
    meeting_id: int,
    delegation_ids: list[int],
    delegation_names: tuple[str, ...],
    secretariat_id: int,
    data_dir: Path,
) -> dict[str, Any]:
    """A plenary, a group deliberation per delegation, the agenda and the agenda document,
    added by the secretariat through the workflows' own steps, so the meeting's channel
    holds their messages as if the secretariat had set the meeting up in the browser."""
    clock = Clock()
    today = clock.now().astimezone(BEIJING).date()
    name = (
        await conn.execute(sa.select(users.c.name).where(users.c.id == secretariat_id))
    ).scalar_one()
    sec = Member(secretariat_id, name, "secretariat", meetings=frozenset({meeting_id}))
    w = Writer(conn, clock)
    plenary = await add_sitting(
        w, sec, meeting_id, "plenary", "第一次全体会议", _at(today, 9), place="市人民大会堂"
    )
    sitting_ids = [plenary["id"]]
    for i, (d, dname) in enumerate(zip(delegation_ids, delegation_names, strict=True)):
        s = await add_sitting(
            w,
            sec,
            meeting_id,
            "group",
            f"{dname}分组审议政府工作报告",
            _at(today, 14, 30),
            place=f"会议中心第{i + 1}会议室",
            delegation_id=d,
        )
        sitting_ids.append(s["id"])
    agenda_ids = [(await add_agenda_item(w, sec, meeting_id, t))["id"] for t in AGENDA]
    content = AGENDA_TEXT.encode()
    sha = hashlib.sha256(content).hexdigest()
    path = blob_path(data_dir, sha)
    await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
    await asyncio.to_thread(path.write_bytes, content)
    doc = await record_document(
        w,
        sec,
        meeting_id,
        "大会议程",
        "大会议程.txt",
        "text/plain; charset=utf-8",
        _Blob(len(content), sha),
    )
    return {"sitting_ids": sitting_ids, "agenda_item_ids": agenda_ids, "document_ids": [doc["id"]]}

"""The demo meeting's structure (``hub demo``): sittings, agenda items and a document.

Sittings are placed on the day of seeding (Beijing time) and left open-ended
(``ends_at`` null), so check-in, leave and speakers can be tried whenever the demo runs.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.session.documents import blob_path, documents
from hub.session.meetings import agenda_items, sittings

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


async def seed_session(
    conn: AsyncConnection,
    meeting_id: int,
    delegation_ids: list[int],
    delegation_names: tuple[str, ...],
    secretariat_id: int,
    data_dir: Path,
) -> dict[str, Any]:
    """A plenary, a group deliberation per delegation, the agenda and the agenda document."""
    now = datetime.now(UTC)
    today = now.astimezone(BEIJING).date()
    rows = [
        {
            "meeting_id": meeting_id,
            "kind": "plenary",
            "title": "第一次全体会议",
            "starts_at": _at(today, 9),
            "place": "市人民大会堂",
            "delegation_id": None,
        }
    ]
    rows += [
        {
            "meeting_id": meeting_id,
            "kind": "group",
            "title": f"{name}分组审议政府工作报告",
            "starts_at": _at(today, 14, 30),
            "place": f"会议中心第{i + 1}会议室",
            "delegation_id": d,
        }
        for i, (d, name) in enumerate(zip(delegation_ids, delegation_names, strict=True))
    ]
    sitting_ids = [
        int(
            (
                await conn.execute(
                    sittings.insert().values(**r, created_at=now).returning(sittings.c.id)
                )
            ).scalar_one()
        )
        for r in rows
    ]
    agenda_ids = [
        int(
            (
                await conn.execute(
                    agenda_items.insert()
                    .values(meeting_id=meeting_id, position=i, title=t, created_at=now)
                    .returning(agenda_items.c.id)
                )
            ).scalar_one()
        )
        for i, t in enumerate(AGENDA, start=1)
    ]
    content = AGENDA_TEXT.encode()
    sha = hashlib.sha256(content).hexdigest()
    path = blob_path(data_dir, sha)
    await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
    await asyncio.to_thread(path.write_bytes, content)
    doc = (
        await conn.execute(
            documents.insert()
            .values(
                meeting_id=meeting_id,
                title="大会议程",
                filename="大会议程.txt",
                content_type="text/plain; charset=utf-8",
                size=len(content),
                sha256=sha,
                uploaded_by=secretariat_id,
                created_at=now,
            )
            .returning(documents.c.id)
        )
    ).scalar_one()
    return {"sitting_ids": sitting_ids, "agenda_item_ids": agenda_ids, "document_ids": [int(doc)]}

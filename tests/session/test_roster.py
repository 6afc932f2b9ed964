"""The roster import: preview and import of CSV (UTF-8, GBK) and XLSX files over HTTP on
both databases; the preview writes nothing, the same file twice changes nothing, one row
in error blocks the whole import; who may import; the log message; and a deputy's phone
shown to the units of their items only."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

import httpx
import openpyxl
import orjson
import sqlalchemy as sa

from hub.session.schema import delegations, meeting_participants, units, users
from hub.store.schema import channels, messages
from tests.utils import TIMEOUT
from tests.utils.factories import World
from tests.utils.items import Api
from tests.utils.servers import RunningHub

HEADER = ["用户名", "姓名", "角色", "代表团", "单位", "手机", "首选联系方式", "参加会议"]
TABLES = (users, delegations, units, meeting_participants, messages, channels)


def csv_bytes(rows: list[list[str]], header: list[str] = HEADER, encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(header)
    w.writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(
    rows: list[list[Any]], header: list[str] = HEADER, title: str | None = None
) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "代表名册"
    if title:
        ws.append([title])
    ws.append(header)
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


async def send(
    hub: RunningHub,
    token: str,
    meeting: int,
    data: bytes,
    step: str = "preview",
    filename: str = "名册.csv",
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=hub.url, timeout=TIMEOUT * 3) as http:
        return await http.post(
            f"/api/meetings/{meeting}/roster/{step}",
            params={"filename": filename},
            content=data,
            headers={"authorization": f"Bearer {token}", "content-type": "text/csv"},
        )


async def snapshot(hub: RunningHub) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    async with hub.services.engine.connect() as conn:
        for t in TABLES:
            rows = await conn.execute(sa.select(t).order_by(*t.primary_key.columns))
            out[t.name] = [tuple(r) for r in rows]
    return out


async def account(hub: RunningHub, username: str) -> Any:
    async with hub.services.engine.connect() as conn:
        return (await conn.execute(sa.select(users).where(users.c.username == username))).first()


async def desk(hub: RunningHub, meeting: int) -> list[Any]:
    async with hub.services.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(messages)
            .where(messages.c.channel == f"desk:{meeting}")
            .order_by(messages.c.seq)
        )
        return list(rows)


def by_user(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["username"]: r for r in report["rows"]}


async def test_csv_preview_reports_every_row_and_writes_nothing(
    hub: RunningHub, world: World
) -> None:
    """A CSV with new, updated, unchanged and bad rows: each row's result and reasons (all
    the errors at once), the delegation it would create, the unknown and ignored columns;
    and not one row of any table changes."""
    header = [*HEADER, "备注", "初始密码"]
    data = csv_bytes(
        [
            ["newdep", "新代表", "代表", "新区代表团", "", "139 0580 1111", "微信", "", "x", "pw"],
            ["dep0", "代表0", "", "一团", "", "13905802222", "电话", "是", "", ""],
            ["dep1", "代表1", "代表", "二团", "", "", "", "", "", ""],
            ["baddep", "坏号码", "代表", "一团", "", "12345", "飞鸽", "", "", ""],
            ["newdep", "重复", "主席", "一团", "", "", "", "也许", "", ""],
            ["newunit", "某局承办员", "承办单位", "一团", "", "", "短信", "是", "", ""],
            ["", "", "", "", "", "", "", "", "", ""],  # a blank line: skipped
        ],
        header,
    )
    before = await snapshot(hub)
    r = await send(hub, world.tok(world.admin), world.meeting, data)
    assert r.status_code == 200, r.text
    rep = r.json()
    assert await snapshot(hub) == before
    assert rep["imported"] is False and rep["written"] is False
    assert rep["format"] == "csv" and rep["encoding"] == "utf-8"
    assert rep["unknown_columns"] == ["备注"] and rep["ignored_columns"] == ["初始密码"]
    assert rep["counts"] == {"new": 1, "updated": 1, "unchanged": 1, "error": 3}
    assert rep["created_delegations"] == ["新区代表团"] and rep["created_units"] == []
    rows = by_user(rep)
    assert [r["row"] for r in rep["rows"]] == [2, 3, 4, 5, 6, 7]
    assert rows["dep0"]["result"] == "updated"
    assert rows["dep0"]["changes"] == ["phone", "preferred_contact"]
    assert rows["dep1"]["result"] == "unchanged" and rows["dep1"]["changes"] == []
    bad = {e["code"]: e for e in rows["baddep"]["errors"]}
    assert set(bad) == {"phone_invalid", "contact_unknown"}
    assert bad["contact_unknown"]["value"] == "飞鸽"
    dup = rep["rows"][4]
    assert dup["result"] == "error"
    codes = {e["code"]: e for e in dup["errors"]}
    assert set(codes) == {"username_duplicate", "role_unknown", "participates_unknown"}
    assert codes["username_duplicate"]["first"] == 2
    unit_codes = {e["code"] for e in rows["newunit"]["errors"]}
    assert unit_codes == {
        "not_applicable",
        "unit_missing",
        "contact_needs_phone",
        "participates_role",
    }
    # The invalid number is in no answer: the row number says where it is.
    assert "12345" not in r.text


async def test_xlsx_import_then_the_same_file_again_changes_nothing(
    hub: RunningHub, world: World
) -> None:
    """An XLSX made with openpyxl (a title row above the header, a phone stored as a
    number, a unit account naming a new unit): imported in one go, with one roster.imported
    message on the meeting's desk that names what was created and holds no phone number;
    the same file again is all unchanged and writes nothing, not even a message."""
    data = xlsx_bytes(
        [
            ["chen", "陈明", "代表", "新区代表团", None, 13905803333, "电话", "是"],
            ["dep0", "代表0改名", None, "一团", None, "+86 139-0580-4444", "当面", None],
            ["dw9", "海事局承办员", "承办单位", None, "市海事局", "0580-2021234", "短信", None],
        ],
        title="市第七届人大第五次会议代表名册",
    )
    r = await send(hub, world.tok(world.admin), world.meeting, data, "import", "名册.xlsx")
    assert r.status_code == 200, r.text
    rep = r.json()
    assert rep["imported"] is True and rep["written"] is True
    assert rep["format"] == "xlsx" and rep["sheet"] == "代表名册" and rep["header_row"] == 2
    assert rep["counts"] == {"new": 2, "updated": 1, "unchanged": 0, "error": 0}
    assert rep["created_delegations"] == ["新区代表团"] and rep["created_units"] == ["市海事局"]
    assert by_user(rep)["dep0"]["changes"] == ["name", "phone", "preferred_contact"]
    chen = await account(hub, "chen")
    assert (chen.role, chen.phone, chen.preferred_contact) == ("deputy", "13905803333", "phone")
    assert chen.password_hash is None  # no password until an admin sets one
    dep0 = await account(hub, "dep0")
    assert (dep0.name, dep0.phone, dep0.preferred_contact) == (
        "代表0改名",
        "13905804444",
        "in_person",
    )
    dw9 = await account(hub, "dw9")
    assert (dw9.role, dw9.phone, dw9.delegation_id) == ("unit", "05802021234", None)
    async with hub.services.engine.connect() as conn:
        joined = set(
            (
                await conn.execute(
                    sa.select(meeting_participants.c.user_id).where(
                        meeting_participants.c.meeting_id == world.meeting
                    )
                )
            ).scalars()
        )
        unit = (await conn.execute(sa.select(units).where(units.c.id == dw9.unit_id))).one()
    assert chen.id in joined and dw9.id not in joined and unit.name == "市海事局"
    log = await desk(hub, world.meeting)
    assert [m.kind for m in log] == ["roster.imported"]
    assert (log[0].sender_id, log[0].sender_role) == (world.admin, "admin")
    body = orjson.loads(log[0].body)["roster"]
    assert body["filename"] == "名册.xlsx" and body["meeting_id"] == world.meeting
    assert (body["new"], body["updated"], body["unchanged"], body["joined"]) == (2, 1, 0, 1)
    assert body["created_delegations"] == ["新区代表团"]
    assert body["created_units"] == ["市海事局"]
    assert body["accounts_new"] == ["chen", "dw9"]
    assert body["accounts_updated"] == [
        {"username": "dep0", "fields": ["name", "phone", "preferred_contact"]}
    ]
    for number in ("13905803333", "13905804444", "2021234", "电话", "当面"):
        assert number not in log[0].body
    assert "phone" not in body and "preferred_contact" not in body

    before = await snapshot(hub)
    again = await send(hub, world.tok(world.admin), world.meeting, data, "import", "名册.xlsx")
    assert again.status_code == 200, again.text
    assert again.json()["counts"] == {"new": 0, "updated": 0, "unchanged": 3, "error": 0}
    assert again.json()["written"] is False
    assert await snapshot(hub) == before


async def test_gbk_and_bom_csv(hub: RunningHub, world: World) -> None:
    """A CSV saved by Excel in China (GBK, no BOM) and one in UTF-8 with a BOM and
    English headers are read with their Chinese intact."""
    rows = [["gbkdep", "欧阳娜娜", "人大代表", "二团", "", "13905805555", "短信", "否"]]
    r = await send(hub, world.tok(world.admin), world.meeting, csv_bytes(rows, encoding="gbk"))
    assert r.status_code == 200, r.text
    assert r.json()["encoding"] == "gb18030"
    assert by_user(r.json())["gbkdep"]["name"] == "欧阳娜娜"
    english = ["username", "name", "role", "delegation", "unit", "phone", "contact", "attending"]
    data = b"\xef\xbb\xbf" + csv_bytes(rows, english)
    r = await send(hub, world.tok(world.admin), world.meeting, data, "import")
    assert r.status_code == 200, r.text
    assert r.json()["encoding"] == "utf-8-sig" and r.json()["counts"]["new"] == 1
    got = await account(hub, "gbkdep")
    assert (got.name, got.preferred_contact) == ("欧阳娜娜", "sms")
    async with hub.services.engine.connect() as conn:
        joined = await conn.execute(
            sa.select(meeting_participants).where(meeting_participants.c.user_id == got.id)
        )
        assert joined.first() is None  # 参加会议: 否


async def test_one_row_in_error_blocks_the_whole_import(hub: RunningHub, world: World) -> None:
    """Import of a file whose last row is in error: 409 `conflict` (reason roster_errors)
    with the report naming the row, and nothing written — not the good rows, not the new
    delegation, not the log."""
    data = csv_bytes(
        [
            ["ok1", "好代表", "代表", "全新代表团", "", "", "", ""],
            ["dep0", "代表0", "代表", "一团", "", "13905806666", "", ""],
            ["bad", "", "代表", "一团", "", "", "", ""],
        ]
    )
    before = await snapshot(hub)
    r = await send(hub, world.tok(world.admin), world.meeting, data, "import")
    assert r.status_code == 409, r.text
    err = r.json()
    assert (err["code"], err["reason"]) == ("conflict", "roster_errors")
    assert err["report"]["counts"]["error"] == 1
    assert by_user(err["report"])["bad"]["errors"] == [{"code": "name_missing"}]
    assert await snapshot(hub) == before


async def test_who_may_import(hub: RunningHub, world: World) -> None:
    """Deputies, units and supervisors: 403 `forbidden` on a real meeting; the secretariat
    of another meeting: 403; an unknown meeting: 404. The secretariat of the meeting
    imports deputies only: a unit row, and deputy rows naming the unit's or the admin's
    existing accounts, are `role_not_allowed` and the import is refused whole; a file of
    deputies is imported."""
    data = csv_bytes([["sdep", "秘书处录入", "代表", "一团", "", "", "", ""]])
    for user in (world.deputies[0], world.unit_users[0], world.supervisor):
        for step in ("preview", "import"):
            r = await send(hub, world.tok(user), world.meeting, data, step)
            assert (r.status_code, r.json()["code"]) == (403, "forbidden"), r.text
    r = await send(hub, world.tok(world.secretariat), world.other_meeting, data, "import")
    assert (r.status_code, r.json()["code"]) == (403, "forbidden"), r.text
    r = await send(hub, world.tok(world.admin), 999_999, data)
    assert (r.status_code, r.json()["code"]) == (404, "not_found"), r.text

    sec = world.tok(world.secretariat)
    mixed = csv_bytes(
        [
            ["sdep", "秘书处录入", "代表", "一团", "", "", "", ""],
            ["sunit", "某局", "承办单位", "", "某局", "", "", ""],
            ["unit1", "改名的承办员", "", "", "", "", "", ""],
            ["adm", "改名的管理员", "", "", "", "13905807777", "", ""],
        ]
    )
    before = await snapshot(hub)
    r = await send(hub, sec, world.meeting, mixed)
    assert r.status_code == 200, r.text
    rows = by_user(r.json())
    assert rows["sdep"]["result"] == "new"
    for name, role in (("sunit", "unit"), ("unit1", "unit"), ("adm", "admin")):
        assert {"code": "role_not_allowed", "role": role} in rows[name]["errors"], rows[name]
    r = await send(hub, sec, world.meeting, mixed, "import")
    assert (r.status_code, r.json()["reason"]) == (409, "roster_errors")
    assert await snapshot(hub) == before
    r = await send(hub, sec, world.meeting, data, "import")
    assert r.status_code == 200 and r.json()["counts"]["new"] == 1, r.text
    log = await desk(hub, world.meeting)
    assert [(m.kind, m.sender_id) for m in log] == [("roster.imported", world.secretariat)]


async def test_phone_shown_to_the_units_of_the_deputys_items_only(
    hub: RunningHub, world: World
) -> None:
    """After an import gives two deputies a phone and a preferred contact, the item detail
    a unit on the item reads lists its deputies' contacts; the other unit (its own item of
    another deputy, and this item refused), the deputy, the secretariat and every message
    carry none of them."""
    d0, d1 = world.deputies[:2]
    data = csv_bytes(
        [
            ["dep0", "代表0", "代表", "一团", "", "13905808888", "微信", ""],
            ["dep1", "代表1", "代表", "二团", "", "13905809999", "电话", ""],
        ]
    )
    r = await send(hub, world.tok(world.admin), world.meeting, data, "import")
    assert r.status_code == 200, r.text
    async with Api(hub, world) as api:
        mine = await api.commit_item([d0], lead=world.units[0])
        theirs = await api.commit_item([d1], lead=world.units[1])
        got = await api.get(world.unit_users[0], f"/api/items/{mine['id']}")
        assert got["contacts"] == [
            {
                "deputy_id": d0,
                "name": "代表0",
                "phone": "13905808888",
                "preferred_contact": "wechat",
            }
        ]
        other = await api.get(world.unit_users[1], f"/api/items/{theirs['id']}")
        assert [c["deputy_id"] for c in other["contacts"]] == [d1]
        assert "13905808888" not in orjson.dumps(other).decode()
        await api.call(world.unit_users[1], "GET", f"/api/items/{mine['id']}", status=403)
        for user in (d0, world.secretariat, world.supervisor, world.admin):
            seen = await api.get(user, f"/api/items/{mine['id']}")
            assert "contacts" not in seen and "13905808888" not in orjson.dumps(seen).decode()
        listing = await api.get(world.unit_users[0], "/api/items")
        assert "13905808888" not in orjson.dumps(listing).decode()
    async with hub.services.engine.connect() as conn:
        bodies = (await conn.execute(sa.select(messages.c.body))).scalars().all()
    assert bodies and not any("1390580" in b for b in bodies)


async def test_a_thousand_rows_in_under_five_seconds(hub: RunningHub, world: World) -> None:
    """1,000 new deputies in 25 new delegations, each with a phone, import in well under
    5 s (one transaction: a handful of statements, not one per row); the same file again
    is all unchanged."""
    rows = [
        [f"r{i:04d}", f"代表{i}", "代表", f"第{i % 25}代表团", "", f"139{i:08d}", "电话", ""]
        for i in range(1000)
    ]
    data = csv_bytes(rows)
    start = time.perf_counter()
    r = await send(hub, world.tok(world.admin), world.meeting, data, "import")
    took = time.perf_counter() - start
    assert r.status_code == 200, r.text
    assert r.json()["counts"]["new"] == 1000 and len(r.json()["created_delegations"]) == 25
    assert took < 5.0, f"1,000 rows took {took:.2f} s"
    again = await send(hub, world.tok(world.admin), world.meeting, data, "import")
    assert again.json()["counts"]["unchanged"] == 1000

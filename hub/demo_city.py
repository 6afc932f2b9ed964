"""``hub demo --size city|province``: a meeting at a real city's (or province's) size.

What a secretariat meets in a real session, so pages, tests and benchmarks are seen at
that size: 400 deputies in 25 delegations and 50 units (``city``; ``province``: 800, 40
and 80), notices with delivery and read receipts, about 1,000 opinions (3,000) in every
state, commit-to-do items in several states, suggestions and check-ins.

Only the meeting and the admin account are made as the CLI makes them (no API creates
either); everything else goes through the public setup path and the workflows — the
functions the HTTP API calls. The accounts come from two rosters imported as a congress's
spreadsheets are (:func:`hub.session.roster.import_roster`): the admin's (secretariat,
supervisor, the units' clerks) and the secretariat's (the deputies with their delegations
and mobiles); then the secretariat, the deputies and the units act — so every step is in
the log like any other. Deterministic: one seeded random generator picks names and texts
(another the deputies' mobile numbers, as a roster lists them).
Accounts: ``mishu`` (secretariat), ``jiandu``, ``admin``, deputies ``d001``…, units
``dw01``…; all with :data:`hub.demo.PASSWORD`.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub import demo
from hub.auth import hash_password
from hub.broker.memory import MemoryBroker
from hub.clock import Clock
from hub.metrics import Metrics
from hub.node import Node
from hub.receipts import ReceiptWriter
from hub.session import attendance, meetings, notices, roster
from hub.session.items import CommitInput, act_in, create_commit_in
from hub.session.lifecycle import ACTION, SuggestionInput
from hub.session.members import Member, create_meeting, create_user, load_member
from hub.session.opinions import SubmitOpinion, merge_in, note_in, submit_in
from hub.session.schema import delegations, units, users
from hub.session.suggestions import submit_in as submit_suggestion_in
from hub.shapes import Body
from hub.store.log import MessageLog


@dataclass(frozen=True)
class Size:
    deputies: int
    delegations: int
    units: int
    opinions: int
    notices: int
    items: int
    suggestions: int


SIZES = {
    "city": Size(deputies=400, delegations=25, units=50, opinions=1000, notices=30, items=60,
                 suggestions=120),
    "province": Size(deputies=800, delegations=40, units=80, opinions=3000, notices=40,
                     items=120, suggestions=240),
}  # fmt: skip

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段钱汤尹黎易常武乔贺赖龚文"
GIVEN = "建国秀英伟芳明丽强静海军敏磊洋勇艳杰娟涛超霞平刚桂兰玉华志红俊峰晨宇浩然欣怡子涵思远嘉琪国庆建华立新振东晓燕文博雅琴德胜永福春梅海燕学军卫东丽娜鹏飞"
PLACES = (
    "定海区", "普陀区", "岱山县", "嵊泗县", "新城", "沈家门", "朱家尖", "六横岛", "金塘岛",
    "桃花岛", "东港", "临城", "千岛", "白泉镇", "马岙", "小沙", "展茅", "虾峙岛", "衢山岛",
    "长涂", "高亭", "洋山", "枸杞乡", "嵊山镇", "花鸟乡", "盘峙", "册子岛", "秀山岛", "登步岛",
    "蚂蚁岛", "舟山港", "鲁家峙", "西码头", "昌国", "环南", "城东", "干览镇", "勾山", "东极镇",
    "白沙岛",
)  # fmt: skip
UNIT_NAMES = (
    "市发展和改革委员会", "市教育局", "市科学技术局", "市经济和信息化局", "市公安局", "市民政局",
    "市司法局", "市财政局", "市人力资源和社会保障局", "市自然资源和规划局", "市生态环境局",
    "市住房和城乡建设局", "市交通运输局", "市农业农村局", "市海洋与渔业局", "市商务局",
    "市文化和广电旅游体育局", "市卫生健康委员会", "市退役军人事务局", "市应急管理局",
    "市审计局", "市市场监督管理局", "市统计局", "市医疗保障局", "市综合行政执法局",
    "市港航和口岸管理局", "市水利局", "市林业局", "市大数据发展管理局", "市机关事务管理局",
    "市信访局", "市供销合作社", "市中级人民法院", "市人民检察院", "市税务局", "市气象局",
    "市消防救援支队", "市海事局", "市邮政管理局", "国网舟山供电公司", "市自来水公司",
    "市公共交通集团", "市城市投资集团", "市海洋产业集聚区管委会", "市新区开发建设局",
    "市残疾人联合会", "市妇女联合会", "市总工会", "团市委", "市科学技术协会", "市侨务办公室",
    "市民族宗教事务局", "市档案馆", "市地方志办公室", "市住房公积金管理中心", "市粮食局",
    "市体育发展中心", "市图书馆", "市博物馆", "市疾病预防控制中心", "市急救中心",
    "市第一人民医院", "市妇幼保健院", "市中医院", "市海洋学院", "市技师学院", "市广播电视台",
    "市日报社", "市旅游集团", "市港务集团", "市渔业互保协会", "市城管局", "市园林局",
    "市环卫处", "市人防办", "市住建质安站", "市不动产登记中心", "市公积金中心", "市行政服务中心",
    "市金融工作办公室", "市国有资产监督管理委员会",
)  # fmt: skip
AGENDA = (
    "政府工作报告",
    "国民经济和社会发展计划执行情况与计划草案的报告",
    "财政预算执行情况与预算草案的报告",
    "市人大常委会工作报告",
    "市中级人民法院工作报告",
    "市人民检察院工作报告",
)
TOPICS = (  # (subject, concern, ask)
    ("夜间公交班次", "群众夜间出行不便", "增开班次并延长末班车时间"),
    ("学校周边停车", "接送高峰拥堵严重", "建设临时停车泊位并错峰管理"),
    ("社区老年助餐点", "高龄老人吃饭难", "明确建设数量和完成时间"),
    ("海岛交通补贴", "补贴标准不够清楚", "公开补贴标准和受益人数"),
    ("渔民养老保险", "保障水平偏低", "提高补贴并与物价挂钩"),
    ("农村饮用水提标", "部分村水压不足", "加快管网改造进度"),
    ("医院专家门诊", "海岛群众看病难", "定期安排专家下岛坐诊"),
    ("垃圾分类", "分类投放点不足", "增设投放点并加强督导"),
    ("老旧小区改造", "加装电梯推进缓慢", "简化审批并给予补助"),
    ("渔港避风锚地", "台风期间渔船避风难", "扩建锚地并完善配套设施"),
    ("中小学课后服务", "家长接送时间冲突", "延长课后服务并丰富内容"),
    ("海上客运", "恶劣天气停航频繁", "完善停航信息发布和滞留旅客保障"),
    ("营商环境", "审批环节偏多", "推行一件事一次办"),
    ("海洋生态保护", "近岸海域养殖污染", "加强监测并推广生态养殖"),
    ("乡村旅游", "配套设施不完善", "统筹规划民宿和停车设施"),
    ("婴幼儿托育", "普惠托位不足", "增加普惠性托育机构"),
    ("电动自行车充电", "楼道充电隐患大", "建设集中充电设施"),
    ("菜市场改造", "环境脏乱差", "推进农贸市场提升改造"),
    ("基层医疗", "村卫生室人员不足", "完善乡村医生待遇保障"),
    ("防汛排涝", "城区低洼处易积水", "加快排水管网改造"),
)  # fmt: skip
MOBILE_PREFIXES = ("139", "138", "137", "135", "136", "134", "150", "151", "152", "157", "158",
                   "159", "187", "188", "133", "153", "180", "189", "199", "177", "130",
                   "131", "132", "155", "156", "185", "186")  # fmt: skip
OPENINGS = ("建议", "报告中", "关于", "针对", "希望")
ITEM_PLAN = (  # the unit's steps after hand-over, cycling through the commit-to-do items
    (),  # assigned: waiting to be signed for
    ("sign",),  # in progress
    ("sign", "contact"),
    ("sign", "contact", "reply"),  # replied, waiting for evaluation
    ("return",),  # returned, waiting to be reassigned
)


def _names(rng: random.Random, n: int) -> list[str]:
    """``n`` distinct Chinese names (a surname and one or two given characters)."""
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
        name = rng.choice(SURNAMES) + given
        if name not in seen:
            seen.add(name)
            out.append(name)
    return out


def _phones(n: int) -> list[str]:
    """``n`` distinct mobile numbers (手机) as a roster lists them, from their own seeded
    generator (the names, check-ins and receipts keep theirs)."""
    rng = random.Random(5800)
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        number = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
        if number not in seen:
            seen.add(number)
            out.append(number)
    return out


def _opinion_text(rng: random.Random, agenda: str) -> str:
    subject, concern, ask = rng.choice(TOPICS)
    place = rng.choice(PLACES)
    opening = rng.choice(OPENINGS)
    if opening == "报告中":
        return f"{agenda}中关于{subject}的部分，{place}{concern}，建议{ask}。"
    if opening == "关于":
        return f"关于{place}{subject}：{concern}，建议{ask}。"
    if opening == "针对":
        return f"针对{place}{concern}的问题，建议{subject}方面{ask}。"
    if opening == "希望":
        return f"希望重视{place}{subject}问题，{concern}，{ask}。"
    return f"建议{ask}，解决{place}{concern}（{subject}）。"


ROLE_WORDS = {
    "secretariat": "秘书处",
    "supervisor": "代表工委",
    "unit": "承办单位",
    "deputy": "代表",
}
"""Each role as a congress's roster writes it (the import's ``角色`` column)."""
ROSTER_HEADER = ("用户名", "姓名", "角色", "代表团", "单位", "手机", "参加会议")


def _sheet(rows: list[list[str]]) -> bytes:
    """A roster as a congress saves it from Excel: a UTF-8 CSV with a BOM."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(ROSTER_HEADER)
    w.writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def _staff_name(username: str) -> str:
    return next(n for u, n, _ in demo.STAFF if u == username)


async def _ids(conn: Any, query: Any) -> dict[str, int]:
    """``{key: id}`` from a query of (key, id) rows."""
    return {k: int(v) for k, v in await conn.execute(query)}


def _who(r: Any, meeting_id: int) -> Member:
    return Member(
        r.id, r.name, r.role, delegation_id=r.delegation_id, unit_id=r.unit_id,
        meetings=frozenset({meeting_id}),
    )  # fmt: skip


async def seed_city(
    engine: AsyncEngine, data_dir: Path = Path("var"), size: str = "city"
) -> dict[str, Any] | None:
    """Seed a meeting of ``size`` (a key of :data:`SIZES`) once; None if a demo is there."""
    spec = SIZES[size]
    rng = random.Random(2026)
    clock = Clock()
    # What exists before the secretariat starts: the meeting and the admin account (the
    # CLI's `hub user add`; no API creates either).
    async with engine.begin() as conn:
        if (await conn.execute(sa.select(users.c.id).where(users.c.username == "mishu"))).first():
            return None
        today = date.today()
        meeting = await create_meeting(conn, f"{demo.MEETING}（{size}）", today, today)
        admin_id = await create_user(conn, "admin", _staff_name("admin"), "admin")
    node = Node(MessageLog(engine), MemoryBroker(), Metrics(), 60.0, clock)

    # The rosters, imported as through POST /api/meetings/{id}/roster/import: the admin's
    # (the secretariat, the supervisor and the units' clerks), then the secretariat's own
    # (the deputies, with their delegations and mobiles). Each import is one transaction
    # and one roster.imported on the desk.
    staff_rows = [[u, n, ROLE_WORDS[r], "", "", "", "是" if r == "secretariat" else ""]
                  for u, n, r in demo.STAFF if r != "admin"]  # fmt: skip
    unit_names = list(UNIT_NAMES[: spec.units])
    unit_rows = [[f"dw{i + 1:02d}", f"{n} · 承办员", ROLE_WORDS["unit"], "", n, "", ""]
                 for i, n in enumerate(unit_names)]  # fmt: skip
    admin = await load_member(engine, admin_id)
    await roster.import_roster(node, admin, meeting, _sheet([*staff_rows, *unit_rows]),
                               "工作人员和承办单位名册.csv")  # fmt: skip
    dele_names = [f"{p}代表团" for p in PLACES[: spec.delegations]]
    names = _names(rng, spec.deputies)
    phones = _phones(spec.deputies)
    deputy_rows = [[f"d{i + 1:03d}", n, ROLE_WORDS["deputy"], dele_names[i % len(dele_names)], "", phones[i], "是"]
                   for i, n in enumerate(names)]  # fmt: skip
    async with engine.connect() as conn:
        ids = await _ids(conn, sa.select(users.c.username, users.c.id))
    secretariat = await load_member(engine, ids["mishu"])
    await roster.import_roster(node, secretariat, meeting, _sheet(deputy_rows), "代表名册.csv")

    # Passwords are never imported: an admin sets them. One hash for every account
    # (argon2 is slow on purpose, as in `hub demo`).
    pw = hash_password(demo.PASSWORD)
    async with engine.begin() as conn:
        await conn.execute(users.update().values(password_hash=pw))
        ids = await _ids(conn, sa.select(users.c.username, users.c.id))
        dele_ids = await _ids(conn, sa.select(delegations.c.name, delegations.c.id))
        unit_ids_by_name = await _ids(conn, sa.select(units.c.name, units.c.id))
        people = (
            await conn.execute(
                sa.select(
                    users.c.id, users.c.name, users.c.role, users.c.delegation_id, users.c.unit_id
                ).where(users.c.role.in_(("deputy", "secretariat", "unit")))
            )
        ).all()
    dele = [dele_ids[n] for n in dele_names]
    deputy_ids = [ids[row[0]] for row in deputy_rows]
    unit_ids = [unit_ids_by_name[n] for n in unit_names]
    staff = {u: ids[u] for u, _, _ in demo.STAFF}
    by_id = {r.id: _who(r, meeting) for r in people}
    deputies = [by_id[i] for i in deputy_ids]
    sec = by_id[staff["mishu"]]
    unit_accounts = {p.unit_id: p for p in by_id.values() if p.role == "unit"}

    # The secretariat's setup, as through the API: agenda and sittings.
    agenda = [await meetings.create_agenda_item(node, sec, meeting, t) for t in AGENDA]
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    plenary = await meetings.create_sitting(
        node, sec, meeting, "plenary", "第一次全体会议", start, place="市人民大会堂"
    )
    groups = [
        await meetings.create_sitting(
            node, sec, meeting, "group", f"{n}分组审议政府工作报告", start + timedelta(hours=4),
            place=f"会议中心第{i + 1}会议室", delegation_id=d,
        )
        for i, (d, n) in enumerate(zip(dele[:4], dele_names, strict=False))
    ]  # fmt: skip
    # Check-ins: most deputies at the plenary, the first groups' deputies at theirs.
    checkins = 0
    for p in deputies:
        if rng.random() < 0.93:
            await attendance.check_in(node, p, plenary["id"])
            checkins += 1
    for g in groups:
        for p in deputies:
            if p.delegation_id == g["delegation_id"] and rng.random() < 0.9:
                await attendance.check_in(node, p, g["id"])
                checkins += 1

    # Notices, with delivery and read receipts from most deputies (as their phones send).
    receipts = ReceiptWriter(engine, Metrics(), 0.05, clock)
    notice_ids = []
    for i in range(spec.notices):
        subject = TOPICS[i % len(TOPICS)][0]
        n = await notices.send_notice(
            node, sec, meeting, f"第{i + 1}号通知：关于{subject}专题审议的安排",
            f"请各代表团于{(i % 3) + 1}日内就{subject}提出审议意见。", urgent=i % 7 == 0,
            confirm=i % 5 == 0,
        )  # fmt: skip
        notice_ids.append(n["id"])
        channel, seq = n["channels"][0]["channel"], n["channels"][0]["seq"]
        for p in deputies:
            if rng.random() < 0.875:
                receipts.add("ack", channel, seq, p.id)
                if rng.random() < 0.8:
                    receipts.add("read", channel, seq, p.id)
    await receipts.stop()
    for nid in notice_ids:  # what the hub's tally loop does after a receipt batch
        await notices.publish_tally(node, nid)

    # Opinions, newest last; a third noted, some merged, some committed to items.
    opinion_ids: list[int] = []
    item_ids: list[int] = []
    suggestion_ids: list[int] = []
    async with node.writing() as w:
        # One transaction of many steps: every channel they append to, locked first.
        await w.lock(
            f"desk:{meeting}",
            *(f"deputy:{p.id}" for p in deputies),
            *(f"unit:{u}" for u in unit_ids),
        )
        for _ in range(spec.opinions):
            p = rng.choice(deputies)
            a = rng.choice(agenda)
            o = await submit_in(
                w, clock, p,
                SubmitOpinion(meeting_id=meeting, agenda_item_id=a["id"],
                              text=_opinion_text(rng, a["title"])),
            )  # fmt: skip
            opinion_ids.append(o["id"])
        older = opinion_ids[: len(opinion_ids) * 2 // 3]
        for oid in older[::3]:
            await note_in(w, clock, sec, oid)
        for k in range(spec.items):
            pair = [older[1 + 3 * k], older[2 + 3 * k]]
            unit = unit_accounts[unit_ids[k % len(unit_ids)]]
            assert unit.unit_id is not None
            item = await create_commit_in(
                w, clock, sec,
                CommitInput(opinion_ids=pair, title=f"马上办：{TOPICS[k % len(TOPICS)][0]}",
                            lead_unit_id=unit.unit_id),
            )  # fmt: skip
            item_ids.append(item["id"])
            for step in ITEM_PLAN[k % len(ITEM_PLAN)]:
                await act_in(w, clock, unit, item["id"], step, _step_body(step, k))
        # Past the opinions the items take, every ninth is merged into a noted one.
        for k in range(spec.items + 1, len(older) // 3 - 1, 3):
            await merge_in(w, clock, sec, older[3 * k + 1], older[3 * k])
        for k in range(spec.suggestions):
            author = deputies[(k * 7) % len(deputies)]
            subject, concern, ask = TOPICS[k % len(TOPICS)]
            s = await submit_suggestion_in(
                w, clock, author,
                SuggestionInput(meeting_id=meeting, title=f"关于{subject}的建议",
                                text=f"{concern}。建议{ask}。"),
            )  # fmt: skip
            suggestion_ids.append(s["id"])
    return {
        "size": size,
        "meeting_id": meeting,
        "delegation_ids": dele,
        "deputy_ids": deputy_ids,
        "deputy_names": names,
        "unit_ids": unit_ids,
        "staff": staff,
        "agenda_item_ids": [a["id"] for a in agenda],
        "sitting_ids": [plenary["id"], *(g["id"] for g in groups)],
        "notice_ids": notice_ids,
        "checkins": checkins,
        "opinion_ids": opinion_ids,
        "item_ids": item_ids,
        "suggestion_ids": suggestion_ids,
    }


def _step_body(step: str, k: int) -> Body:
    body: dict[str, Any] = {}
    if step == "contact":
        body = {"method": "phone", "note": "已电话联系代表，了解具体情况和诉求"}
    if step == "reply":
        body = {"grade": "ABCD"[k % 4], "text": "经研究，已列入年度工作计划，正在组织实施。"}
    if step == "return":
        body = {"reason": "该事项不属于本单位职责范围，建议交由属地政府办理。"}
    got: Body = msgspec.convert(body, ACTION[step].input)
    return got


async def seed_summary(engine: AsyncEngine, data_dir: Path, size: str) -> dict[str, Any] | None:
    """:func:`seed_city`, with each list of ids told by its length (for ``hub demo``)."""
    ids = await seed_city(engine, data_dir, size)
    if ids is None:
        return None
    return {k: len(v) if isinstance(v, list) else v for k, v in ids.items()}


__all__ = ["SIZES", "seed_city", "seed_summary"]

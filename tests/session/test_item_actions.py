"""The actions an item lists for its caller are exactly the ones the server accepts: for
every state an item reaches and every kind of caller, each action is listed allowed iff
posting it succeeds, and a refused one is refused with the code its listing implies."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx

from hub.session import lifecycle as lc
from hub.session.members import create_unit, create_user
from tests.utils.factories import World, tokens
from tests.utils.items import Api
from tests.utils.servers import RunningHub

Step = tuple[str, str, dict[str, Any]]  # (actor, action, body)

SAT = {"rating": "satisfied"}
ASSIGN = "assign"  # placeholder body: the lead unit and co-unit of the world
OWNER = -1  # placeholder deputy_id: the item's first deputy
SUGGESTION_REPLIED: list[tuple[str, str, dict[str, Any]]] = [
    ("cosigner", "cosign", {}),
    ("sec", "accept", {}),
    ("sec", "hand_over", {ASSIGN: 1}),
    ("lead", "sign", {}),
    ("co", "co_opinion", {"text": "协办意见"}),
    ("lead", "reply", {"grade": "A", "text": "已解决"}),
]
STEPS: dict[str, tuple[str, list[Step]]] = {
    # a suggestion by "owner", co-signer "cosigner" asked
    "cosigning": ("suggestion", []),
    "submitted": ("suggestion", [("cosigner", "cosign", {})]),
    "accepted": ("suggestion", [("cosigner", "cosign", {}), ("sec", "accept", {})]),
    "not_accepted": (
        "suggestion",
        [("cosigner", "cosign", {}), ("sec", "not_accept", {"reason": "不属于建议范围"})],
    ),
    "suggestion_assigned": (
        "suggestion",
        [("cosigner", "cosign", {}), ("sec", "accept", {}), ("sec", "hand_over", {ASSIGN: 1})],
    ),
    # a commit-to-do item of "owner" and "cosigner", lead unit and one co-unit
    "assigned": ("commit", []),
    "assigned_co_sent": ("commit", [("co", "co_opinion", {"text": "协办意见"})]),
    "returned": ("commit", [("lead", "return", {"reason": "不属于本单位职责"})]),
    "in_progress": ("commit", [("lead", "sign", {})]),
    "in_progress_co_sent": (
        "commit",
        [("lead", "sign", {}), ("co", "co_opinion", {"text": "协办意见"})],
    ),
    # the deputies' feedback: a contact recorded with both deputies, a question asked
    "contacted": (
        "commit",
        [("lead", "sign", {}), ("lead", "contact", {"method": "visit", "note": "走访"})],
    ),
    "contact_confirmed": (
        "commit",
        [
            ("lead", "sign", {}),
            ("lead", "contact", {"method": "phone", "note": "电话沟通"}),
            ("owner", "confirm_contact", {}),
        ],
    ),
    "asked": ("commit", [("lead", "sign", {}), ("owner", "ask", {"text": "何时完工？"})]),
    "asked_answered": (
        "commit",
        [
            ("lead", "sign", {}),
            ("owner", "ask", {"text": "何时完工？"}),
            ("lead", "answer", {"text": "月底完工"}),
        ],
    ),
    "replied_asked": (
        "commit",
        [
            ("lead", "sign", {}),
            ("co", "co_opinion", {"text": "协办意见"}),
            ("lead", "contact", {"method": "meeting", "note": "座谈", "deputy_id": OWNER}),
            ("lead", "reply", {"grade": "A", "text": "已解决"}),
            ("owner", "ask", {"text": "还有遗留问题吗？"}),
        ],
    ),
    "extension_requested": (
        "commit",
        [
            ("lead", "sign", {}),
            ("co", "co_opinion", {"text": "协办意见"}),
            ("lead", "request_extension", {"until": "2099-12-31", "reason": "需要协调"}),
        ],
    ),
    "replied": (
        "commit",
        [
            ("lead", "sign", {}),
            ("co", "co_opinion", {"text": "协办意见"}),
            ("lead", "reply", {"grade": "A", "text": "已解决"}),
        ],
    ),
    "replied_owner_evaluated": (
        "commit",
        [
            ("lead", "sign", {}),
            ("co", "co_opinion", {"text": "协办意见"}),
            ("lead", "reply", {"grade": "A", "text": "已解决"}),
            ("owner", "evaluate", SAT),
        ],
    ),
    "rehandling": (
        "commit",
        [
            ("lead", "sign", {}),
            ("co", "co_opinion", {"text": "协办意见"}),
            ("lead", "reply", {"grade": "B", "text": "正在解决"}),
            ("owner", "evaluate", {"rating": "unsatisfied", "reason": "没有解决"}),
            ("cosigner", "evaluate", SAT),
        ],
    ),
    "closed": (
        "commit",
        [
            ("lead", "sign", {}),
            ("co", "co_opinion", {"text": "协办意见"}),
            ("lead", "reply", {"grade": "A", "text": "已解决"}),
            ("owner", "evaluate", SAT),
            ("cosigner", "evaluate", SAT),
        ],
    ),
    # a suggestion replied: its evaluation deadline (suggestion.evaluation, set to 0 hours
    # below) has passed at once, so the secretariat may close it without the evaluations
    "evaluation_overdue": ("suggestion", [*SUGGESTION_REPLIED]),
    "evaluation_overdue_owner_evaluated": (
        "suggestion",
        [*SUGGESTION_REPLIED, ("owner", "evaluate", SAT)],
    ),
    "closed_unevaluated": ("suggestion", [*SUGGESTION_REPLIED, ("sec", "close_unevaluated", {})]),
}

# A body each action accepts in the states it is taken from.
BODIES: dict[str, dict[str, Any]] = {
    "cosign": {},
    "decline": {},
    "accept": {},
    "not_accept": {"reason": "不属于建议范围"},
    "hand_over": {ASSIGN: 1},
    "sign": {},
    "return": {"reason": "不属于本单位职责"},
    "reassign": {ASSIGN: 1},
    "co_opinion": {"text": "协办意见"},
    "contact": {"method": "phone", "note": "电话沟通"},
    "request_extension": {"until": "2099-12-31", "reason": "需要协调"},
    "approve_extension": {},
    "refuse_extension": {},
    "reply": {"grade": "A", "text": "已解决"},
    "evaluate": SAT,
    "close_unevaluated": {},
    "confirm_contact": {},
    "dispute_contact": {"reason": "没有联系过我"},
    "ask": {"text": "何时完工？"},
    "answer": {"text": "月底完工"},
    "message": {"text": "请问进展如何？"},
}
ON_ITEMS = [a.name for a in lc.REGISTRY if a.on_existing]
# The matrix checks the registry's logic, which is the same on both databases: all of it
# runs on SQLite; on PostgreSQL, the states whose guards read the most rows (co-units'
# opinions, an extension, the evaluation deadline), so the run stays short.
ON_POSTGRESQL = (
    "in_progress",
    "in_progress_co_sent",
    "extension_requested",
    "rehandling",
    "evaluation_overdue",
    "replied_asked",
)


def _with_party(rel: set[str]) -> set[str]:
    return rel | {"party"} if rel & lc.PARTIES else rel


class Cast:
    """The callers: the item's deputies, its lead unit and co-unit, and people the item
    is not theirs (another deputy, another unit, the supervisor)."""

    def __init__(self, world: World, other_unit_user: int) -> None:
        w = world
        self.world = w
        self.users = {
            "owner": w.deputies[0],
            "cosigner": w.deputies[1],
            "other_deputy": w.deputies[2],
            "lead": w.unit_users[0],
            "co": w.unit_users[1],
            "other_unit": other_unit_user,
            "sec": w.secretariat,
            "supervisor": w.supervisor,
        }

    def body(self, action: str, given: dict[str, Any]) -> dict[str, Any]:
        if ASSIGN in given:
            return {"lead_unit_id": self.world.units[0], "co_unit_ids": [self.world.units[1]]}
        if given.get("deputy_id") == OWNER:
            return {**given, "deputy_id": self.users["owner"]}
        return given

    def relations(self, actor: str, kind: str, state: str) -> set[str]:
        """The roles the caller holds on the item (which decide forbidden vs conflict)."""
        return _with_party(self._relations(actor, kind, state))

    def _relations(self, actor: str, kind: str, state: str) -> set[str]:
        handed = state not in lc.REVIEW and state != lc.NOT_ACCEPTED
        if actor == "owner":
            return {"deputy"}
        if actor == "cosigner":
            if kind == "commit":
                return {"deputy"}
            return {"cosigner"} if state == lc.COSIGNING else {"cosigner", "deputy"}
        if actor == "lead" and handed:
            return {"lead_unit"}
        if actor == "co" and handed:
            return {"co_unit"}
        return {"secretariat"} if actor == "sec" else set()


async def _make(api: Api, cast: Cast, scenario: str) -> int:
    kind, steps = STEPS[scenario]
    w = cast.world
    if kind == "suggestion":
        item = await api.suggestion(w.deputies[0], [w.deputies[1]])
    else:
        item = await api.commit_item(w.deputies[:2], lead=w.units[0], co=[w.units[1]])
    i = int(item["id"])
    for actor, action, body in steps:
        await api.post(cast.users[actor], _path(action, i), cast.body(action, body))
    return i


def _path(action: str, item_id: int) -> str:
    return f"/api/{lc.ACTION[action].endpoint}/{item_id}/{action}"


async def _post(api: Api, cast: Cast, user: int, action: str, item_id: int) -> httpx.Response:
    return await api.http.post(
        _path(action, item_id),
        json=cast.body(action, BODIES[action]),
        headers={"authorization": f"Bearer {api.world.tok(user)}"},
    )


async def _accepted(api: Api, cast: Cast, scenario: str, actor: str, action: str) -> None:
    j = await _make(api, cast, scenario)
    r = await _post(api, cast, cast.users[actor], action, j)
    assert r.status_code == 200, f"{scenario}: {actor} {action} listed: {r.text}"


async def _listed(api: Api, user: int, item_id: int) -> dict[str, dict[str, Any]] | None:
    """The caller's actions on the item, by name (None: the caller may not read it);
    the item list says the same as the item itself."""
    r = await api.http.get(
        f"/api/items/{item_id}", headers={"authorization": f"Bearer {api.world.tok(user)}"}
    )
    if r.status_code == 403:
        return None
    assert r.status_code == 200, r.text
    mine = {a["name"]: a for a in r.json()["actions"]}
    # the list, by id: the item read here is the newest the caller sees
    total = (await api.get(user, "/api/items", limit=1))["total"]
    last = (await api.get(user, "/api/items", limit=1, offset=total - 1))["items"]
    assert last[0]["id"] == item_id and {a["name"]: a for a in last[0]["actions"]} == mine
    return mine


async def check_every_state_and_caller(
    hub: RunningHub, world: World, scenarios: Iterable[str] = STEPS
) -> dict[str, dict[str, set[str]]]:
    """Drive an item into each state of ``scenarios``, compare listing and acceptance for
    every caller and action; the allowed actions per state and caller."""
    async with hub.services.engine.begin() as conn:
        u3 = await create_unit(conn, "教育局")
        u3_user = await create_user(conn, "unit3", "教育局承办员", "unit", unit_id=u3)
    world.token[u3_user] = tokens.issue(u3_user, 0)
    cast = Cast(world, u3_user)
    seen: dict[str, dict[str, set[str]]] = {}
    async with Api(hub, world) as api:
        # suggestions' evaluation deadline passes at their reply; commit items' does not
        rule = {"amount": 0, "unit": "hours"}
        await api.call(world.admin, "PUT", "/api/admin/deadline-rules/suggestion.evaluation", rule)
        for scenario in scenarios:
            kind = STEPS[scenario][0]
            i = await _make(api, cast, scenario)
            state = (await api.get(world.supervisor, f"/api/items/{i}"))["state"]
            seen[scenario] = {}
            for actor, user in cast.users.items():
                listed = await _listed(api, user, i) or {}
                ok = {n for n, a in listed.items() if a["allowed"]}
                seen[scenario][actor] = ok
                for n, a in listed.items():
                    assert a["path"] == _path(n, i)
                    assert a["allowed"] or a["reason"]["code"] in lc.REASON_CODES
                rel = cast.relations(actor, kind, state)
                # refused: a listed action (theirs, in play) is a conflict; an unlisted
                # one forbidden unless it is theirs in another state. A refusal changes
                # nothing, so they are tried all at once on the same item.
                refused = [a for a in ON_ITEMS if a not in ok]
                answers = await asyncio.gather(
                    *(_post(api, cast, user, action, i) for action in refused)
                )
                for action, r in zip(refused, answers, strict=True):
                    mine = lc.ACTION[action].by in rel
                    code = "conflict" if action in listed or mine else "forbidden"
                    where = f"{scenario}/{state}: {actor} {action}"
                    assert r.status_code in (403, 409), f"{where} accepted but not listed"
                    assert r.json()["code"] == code, f"{where}: {r.text}"

            # each listed action is accepted, on a fresh item in the same state
            await asyncio.gather(
                *(
                    _accepted(api, cast, scenario, actor, a)
                    for actor, ok in seen[scenario].items()
                    for a in sorted(ok)
                )
            )
    return seen


async def test_listed_actions_are_exactly_the_accepted_ones(hub: RunningHub, world: World) -> None:
    """For every state × caller, an action is listed allowed iff the server accepts it
    (on PostgreSQL, for the states of :data:`ON_POSTGRESQL`)."""
    on_postgresql = hub.services.settings.db_url.startswith("postgresql")
    every = await check_every_state_and_caller(
        hub, world, ON_POSTGRESQL if on_postgresql else STEPS
    )
    # the item's conversation: every party, in every state but the final ones
    for scenario, callers in every.items():
        final = scenario in ("not_accepted", "closed", "closed_unevaluated")
        for actor, ok in callers.items():
            before_units = scenario in ("cosigning", "submitted", "accepted", "not_accepted")
            party = (
                actor in ("owner", "sec")
                or (actor == "cosigner" and scenario != "cosigning")
                or (actor in ("lead", "co") and not before_units)
            )
            assert ("message" in ok) == (party and not final), (scenario, actor)
    seen = {s: {a: ok - {"message"} for a, ok in c.items()} for s, c in every.items()}
    assert "reply" not in seen["in_progress"]["lead"]  # a co-unit's opinion is pending
    assert "reply" in seen["in_progress_co_sent"]["lead"]
    assert "reply" in seen["rehandling"]["lead"]  # re-handling does not ask co-units again
    assert seen["extension_requested"]["sec"] == {"approve_extension", "refuse_extension"}
    assert seen["evaluation_overdue"]["sec"] == {"close_unevaluated"}
    if on_postgresql:
        return
    # the cases the pages got wrong before, and that the table must keep
    assert "co_opinion" in seen["in_progress"]["co"]
    assert "co_opinion" not in seen["in_progress_co_sent"]["co"]
    assert seen["replied_owner_evaluated"]["owner"] == {"ask"}  # a question after rating
    assert seen["replied_owner_evaluated"]["cosigner"] == {"evaluate", "ask"}
    assert seen["cosigning"]["cosigner"] == {"cosign", "decline"}
    # closing without the evaluations: only once their deadline has passed, by the desk
    assert seen["replied"]["sec"] == set() and seen["evaluation_overdue"]["sec"] == {
        "close_unevaluated"
    }
    assert seen["evaluation_overdue"]["owner"] == {"evaluate", "ask"}  # the deputies still may
    assert seen["evaluation_overdue_owner_evaluated"]["sec"] == {"close_unevaluated"}
    # feedback: a contact waits on the deputies it concerns, once each; one open question
    # per deputy, answered by the lead unit alone
    assert "confirm_contact" not in seen["in_progress"]["owner"]
    assert {"confirm_contact", "dispute_contact"} <= seen["contacted"]["owner"]
    assert {"confirm_contact", "dispute_contact"} <= seen["contacted"]["cosigner"]
    assert "confirm_contact" not in seen["contact_confirmed"]["owner"]
    assert "dispute_contact" in seen["contact_confirmed"]["cosigner"]
    assert "ask" in seen["in_progress"]["owner"] and "answer" not in seen["in_progress"]["lead"]
    assert "ask" not in seen["asked"]["owner"] and "ask" in seen["asked"]["cosigner"]
    assert "answer" in seen["asked"]["lead"] and "answer" not in seen["asked"]["co"]
    assert "ask" in seen["asked_answered"]["owner"]
    assert "answer" not in seen["asked_answered"]["lead"]
    assert seen["replied_asked"]["owner"] == {"evaluate", "confirm_contact", "dispute_contact"}
    assert seen["replied_asked"]["cosigner"] == {"evaluate", "ask"}  # the contact was not theirs
    assert seen["replied_asked"]["lead"] == {"answer"}
    for scenario in ("not_accepted", "closed", "closed_unevaluated"):
        assert all(not ok for ok in seen[scenario].values()), scenario
    for nobody in ("other_deputy", "other_unit", "supervisor"):
        assert all(not s[nobody] for s in seen.values())


async def test_a_refused_action_is_listed_with_its_reason(hub: RunningHub, world: World) -> None:
    """The lead unit sees 答复 refused while a co-unit's opinion is pending, with the code
    and the co-unit the pages name; the co-unit's opinion lifts it."""
    async with Api(hub, world) as api:
        item = await api.commit_item(world.deputies[:2], lead=world.units[0], co=[world.units[1]])
        i = item["id"]
        lead, co = world.unit_users
        r = await api.post(lead, f"/api/items/{i}/sign")
        assert {a["name"]: a["allowed"] for a in r["actions"]} == {
            "contact": True,
            "request_extension": True,
            "reply": False,
            "message": True,
        }
        reply = next(a for a in r["actions"] if a["name"] == "reply")
        assert reply["reason"] == {
            "code": "co_opinions_pending",
            "params": {"unit_ids": [world.units[1]]},
        }
        err = await api.refused(lead, f"/api/items/{i}/reply", BODIES["reply"], "conflict")
        assert "co-unit(s)" in err["message"]
        await api.post(co, f"/api/items/{i}/co_opinion", {"text": "同意"})
        got = await api.get(lead, f"/api/items/{i}")
        assert next(a for a in got["actions"] if a["name"] == "reply")["allowed"] is True


def test_every_reason_code_has_a_string_in_each_language() -> None:
    """The pages translate every reason a guard can give (no raw code on a page)."""
    source = (Path(__file__).resolve().parents[2] / "static/js/i18n.js").read_text()
    for code in lc.REASON_CODES:
        assert source.count(f'"why.{code}":') == 2, code  # zh-CN and en

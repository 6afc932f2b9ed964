"""Importing the roster (代表名册) of a meeting from a spreadsheet: preview, then import.

The file is read by :mod:`hub.session.roster_sheet`; this module checks each row against
the accounts the hub holds and says what importing it would do, then does it.

* **Who**: an admin, for any meeting; the secretariat, for a meeting it runs (one it
  participates in), and deputies only: a row of another role, or naming an existing
  account that is not a deputy, is the row's error ``role_not_allowed``.
* **Rows are keyed by username.** A username the hub does not hold is a ``new`` account;
  one it holds is ``updated`` where the sheet differs, else ``unchanged``. The import
  adds and updates; it never deactivates, deletes, changes an account's role or takes
  anyone out of a meeting. A column the sheet lacks leaves that field as it is; a blank
  ``手机`` or ``首选联系方式`` cell clears it; a blank ``角色``, ``代表团`` or ``单位``
  keeps the account's own (a new account is a deputy, and needs its delegation).
* **Delegations and units** named in the sheet and missing from the hub are created
  (listed in the report before anything is written).
* **Meeting**: deputies and the secretariat become participants of the meeting unless
  ``参加会议`` says 否.
* **Passwords** are never imported: a new account has no password and cannot log in.
  :func:`issue_passwords` gives the accounts without one of their own a **temporary
  password** each, answered once (printed and handed out, never stored in clear nor
  logged): it only lets its holder choose their own (``POST /api/login/first``). Who: an
  admin, for any account but an admin's; the secretariat, for the deputies of its meeting.
* **One transaction**, refused whole (``conflict``, reason ``roster_errors``, with the
  report) if any row has an error; the preview (:func:`preview`) writes nothing and
  reports every error at once. Importing the same file again finds every row
  ``unchanged`` and writes nothing, not even a log message.
* **The log**: an import that changes something appends one ``roster.imported`` on
  ``desk:<meeting id>`` (read by the secretariat and the supervisors, kept in the
  archive): who imported which file (name, SHA-256), the counts, the delegations and units
  created, the usernames created and updated and which fields changed. Never a phone
  number or a contact preference: the log is kept for ever and replayed.

A row's errors are ``{"code", ...params}``; the pages translate them (``roster.err.<code>``).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.auth import temporary_password
from hub.errors import BadRequest, Conflict, Forbidden
from hub.session.common import meeting_row
from hub.session.members import Member, check_phone
from hub.session.roster_sheet import Sheet, read_sheet
from hub.session.schema import delegations, meeting_participants, units, users
from hub.store.engine import in_chunks

if TYPE_CHECKING:
    from hub.node import Node

ROLE_WORDS = {
    "deputy": "deputy",
    "代表": "deputy",
    "人大代表": "deputy",
    "secretariat": "secretariat",
    "秘书处": "secretariat",
    "大会秘书处": "secretariat",
    "unit": "unit",
    "承办单位": "unit",
    "单位": "unit",
    "supervisor": "supervisor",
    "代表工委": "supervisor",
    "监督": "supervisor",
    "admin": "admin",
    "管理员": "admin",
    "系统管理员": "admin",
}
CONTACT_WORDS = {
    "phone": "phone",
    "电话": "phone",
    "打电话": "phone",
    "sms": "sms",
    "短信": "sms",
    "wechat": "wechat",
    "微信": "wechat",
    "in_person": "in_person",
    "当面": "in_person",
    "面谈": "in_person",
    "当面联系": "in_person",
}
YES = frozenset({"是", "参加", "y", "yes", "1", "true", "√", "✓"})
NO = frozenset({"否", "不参加", "n", "no", "0", "false", "×", "x"})
PARTICIPANT_ROLES = frozenset({"deputy", "secretariat"})
"""The roles that take part in a meeting (units and supervisors read by role)."""
NEEDS_PHONE = frozenset({"phone", "sms"})
USERNAME = re.compile(r"[^\s\x00-\x1f\x7f]{1,100}")
MAX_NAME = 200

FIELDS = ("name", "delegation", "unit", "phone", "preferred_contact", "meeting")
"""What an update may change, as reports and the log name it (never the values)."""


ROW_ERRORS = (
    "username_missing",
    "username_invalid",
    "username_duplicate",
    "name_missing",
    "too_long",
    "role_unknown",
    "role_not_allowed",
    "role_changed",
    "delegation_missing",
    "unit_missing",
    "not_applicable",
    "phone_invalid",
    "contact_unknown",
    "contact_needs_phone",
    "participates_unknown",
    "participates_role",
    "participant_kept",
)
"""Every code a row's error may have: the pages have a text ``roster.err.<code>`` for each
(``tests/test_error_texts.py``)."""


def _err(code: str, **params: Any) -> dict[str, Any]:
    assert code in ROW_ERRORS, code
    return {"code": code, **params}


def _word(
    cells: dict[str, str],
    col: str,
    words: dict[str, str],
    unknown: str,
    errors: list[dict[str, Any]],
) -> str | None:
    """The code a cell's word stands for (``words``, any case); None for a blank cell; an
    ``unknown`` error (with the word's first 40 characters) for a word not there."""
    raw = cells.get(col, "")
    if not raw:
        return None
    code = words.get(raw.lower())
    if code is None:
        errors.append(_err(unknown, value=raw[:40]))
    return code


@dataclass
class Row:
    """One data row as checked: the values it asks for (None: the column is absent, or
    for phone and contact the cell is blank, which clears them) and what it would do."""

    row: int
    username: str
    name: str
    role: str | None  # None: blank or absent (an account's own role; new: deputy)
    delegation: str | None
    unit: str | None
    phone: str | None
    contact: str | None
    participates: bool | None  # None: blank or absent (the role's default)
    errors: list[dict[str, Any]] = field(default_factory=list)
    result: str = ""  # new | updated | unchanged | error
    changes: list[str] = field(default_factory=list)
    joins: bool = False  # becomes a participant of the meeting
    user_id: int | None = None
    values: dict[str, Any] = field(default_factory=dict)  # the account's fields after import

    def report(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "username": self.username,
            "name": self.name,
            "result": self.result,
            "changes": self.changes,
            "errors": self.errors,
        }


def _check_cells(n: int, cells: dict[str, str], has: set[str]) -> Row:
    """The checks one row needs without the database."""
    errors: list[dict[str, Any]] = []
    username = cells.get("username", "")
    if not username:
        errors.append(_err("username_missing"))
    elif not USERNAME.fullmatch(username):
        errors.append(_err("username_invalid"))
    name = cells.get("name", "")
    if not name:
        errors.append(_err("name_missing"))
    elif len(name) > MAX_NAME:
        errors.append(_err("too_long", column="name", max=MAX_NAME))
    role = _word(cells, "role", ROLE_WORDS, "role_unknown", errors)
    names: dict[str, str | None] = {}
    for col in ("delegation", "unit"):
        v = cells.get(col, "") if col in has else None
        if v is not None and len(v) > MAX_NAME:
            errors.append(_err("too_long", column=col, max=MAX_NAME))
        names[col] = v
    phone: str | None = None
    if cells.get("phone"):
        try:
            phone = check_phone(cells["phone"])
        except BadRequest:
            errors.append(_err("phone_invalid"))  # never the number itself
    contact = _word(cells, "preferred_contact", CONTACT_WORDS, "contact_unknown", errors)
    participates: bool | None = None
    raw_part = cells.get("participates", "").lower()
    if raw_part in YES:
        participates = True
    elif raw_part in NO:
        participates = False
    elif raw_part:
        errors.append(_err("participates_unknown", value=cells["participates"][:40]))
    return Row(
        n,
        username[:100],
        name[:MAX_NAME],
        role,
        names["delegation"],
        names["unit"],
        phone,
        contact,
        participates,
        errors,
    )


@dataclass
class Plan:
    """What importing the sheet would do."""

    rows: list[Row]
    new_delegations: list[str]
    new_units: list[str]

    @property
    def has_errors(self) -> bool:
        return any(r.errors for r in self.rows)

    @property
    def changes_anything(self) -> bool:
        return any(r.result in ("new", "updated") for r in self.rows)

    def counts(self) -> dict[str, int]:
        out = {"new": 0, "updated": 0, "unchanged": 0, "error": 0}
        for r in self.rows:
            out[r.result] += 1
        return out


async def _existing(conn: AsyncConnection, usernames: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    cols = (
        users.c.id,
        users.c.username,
        users.c.role,
        users.c.name,
        users.c.delegation_id,
        users.c.unit_id,
        users.c.phone,
        users.c.preferred_contact,
    )
    for part in in_chunks(sorted(set(usernames))):
        for r in await conn.execute(sa.select(*cols).where(users.c.username.in_(part))):
            out[r.username] = r
    return out


async def plan(conn: AsyncConnection, me: Member, meeting_id: int, sheet: Sheet) -> Plan:
    """Each row checked against the hub's accounts (reads only)."""
    has = set(sheet.columns)
    rows = [_check_cells(n, cells, has) for n, cells in sheet.rows]
    existing = await _existing(conn, [r.username for r in rows if r.username])
    dele_ids = {
        r.name: int(r.id)
        for r in await conn.execute(sa.select(delegations.c.id, delegations.c.name))
    }
    dele_names = {v: k for k, v in dele_ids.items()}
    unit_ids = {r.name: int(r.id) for r in await conn.execute(sa.select(units.c.id, units.c.name))}
    unit_names = {v: k for k, v in unit_ids.items()}
    joined = set(
        (
            await conn.execute(
                sa.select(meeting_participants.c.user_id).where(
                    meeting_participants.c.meeting_id == meeting_id
                )
            )
        ).scalars()
    )
    first_row: dict[str, int] = {}
    new_delegations: dict[str, None] = {}
    new_units: dict[str, None] = {}
    for r in rows:
        if r.username:
            if r.username in first_row:
                r.errors.append(_err("username_duplicate", first=first_row[r.username]))
            else:
                first_row[r.username] = r.row
        old = existing.get(r.username)
        role = r.role or (old.role if old is not None else "deputy")
        if old is not None and r.role is not None and old.role != r.role:
            r.errors.append(_err("role_changed", role=old.role))
        if me.role != "admin" and role != "deputy":
            r.errors.append(_err("role_not_allowed", role=role))
        # What the account would hold after the import.
        was: dict[str, Any] = {
            "name": None,
            "delegation": None,
            "unit": None,
            "phone": None,
            "preferred_contact": None,
        }
        if old is not None:
            was = {
                "name": old.name,
                "delegation": dele_names.get(old.delegation_id),
                "unit": unit_names.get(old.unit_id),
                "phone": old.phone,
                "preferred_contact": old.preferred_contact,
            }
        now = dict(was, name=r.name)
        for col, needed_by in (("delegation", "deputy"), ("unit", "unit")):
            given = getattr(r, col)
            if role != needed_by:
                if given:
                    r.errors.append(_err("not_applicable", column=col, role=role))
                now[col] = None
            elif given:  # a blank cell keeps the account's own
                now[col] = given
            if role == needed_by and not now[col]:
                r.errors.append(_err(f"{col}_missing"))
        if "phone" in has:
            now["phone"] = r.phone
        if "preferred_contact" in has:
            now["preferred_contact"] = r.contact
        if (
            now["preferred_contact"] in NEEDS_PHONE
            and not now["phone"]
            and "phone_invalid" not in {e["code"] for e in r.errors}
        ):
            r.errors.append(_err("contact_needs_phone", contact=now["preferred_contact"]))
        is_participant = old is not None and int(old.id) in joined
        if role in PARTICIPANT_ROLES:
            if r.participates is False and is_participant:
                r.errors.append(_err("participant_kept"))
            r.joins = r.participates is not False and not is_participant
        elif r.participates:
            r.errors.append(_err("participates_role", role=role))
        r.values = {**now, "role": role}
        if r.errors:
            r.result = "error"
            continue
        for col, names, new in (
            ("delegation", dele_ids, new_delegations),
            ("unit", unit_ids, new_units),
        ):
            if now[col] and now[col] not in names:
                new[now[col]] = None
        if old is None:
            r.result = "new"
            continue
        r.user_id = int(old.id)
        r.changes = [f for f in FIELDS[:-1] if now[f] != was[f]]
        if r.joins:
            r.changes.append("meeting")
        r.result = "updated" if r.changes else "unchanged"
    return Plan(rows, list(new_delegations), list(new_units))


# -- access, preview and import -----------------------------------------------------------


async def check_importer(node: Node, me: Member, meeting_id: int) -> None:
    """Before the file is read: the meeting exists (``not_found``), and the caller is an
    admin or the secretariat of that meeting (``forbidden``)."""
    async with node.log.reading() as conn:
        await meeting_row(conn, meeting_id)
    _check_role(me, meeting_id)


def _check_role(me: Member, meeting_id: int) -> None:
    if me.role == "admin":
        return
    if me.role == "secretariat" and meeting_id in me.meetings:
        return
    if me.role == "secretariat":
        raise Forbidden(f"secretariat {me.id} does not run meeting {meeting_id}")
    raise Forbidden(f"a {me.role} may not import a roster; needs admin or the secretariat")


def _report(plan_: Plan, sheet: Sheet, meeting: Any, filename: str, sha256: str) -> dict[str, Any]:
    return {
        "meeting": {"id": int(meeting.id), "title": meeting.title},
        "filename": filename,
        "sha256": sha256,
        "format": sheet.format,
        "encoding": sheet.encoding,
        "sheet": sheet.sheet,
        "header_row": sheet.header_row,
        "columns": sheet.columns,
        "unknown_columns": sheet.unknown,
        "ignored_columns": sheet.ignored,
        "counts": plan_.counts(),
        "created_delegations": plan_.new_delegations,
        "created_units": plan_.new_units,
        "rows": [r.report() for r in plan_.rows],
        "imported": False,
        "written": False,
    }


async def _open(node: Node, me: Member, meeting_id: int, data: bytes) -> tuple[Any, Sheet, str]:
    """The meeting a roster is for (checking that ``me`` may import into it), the sheet
    read from ``data``, and the file's SHA-256."""
    async with node.log.reading() as conn:
        meeting = await meeting_row(conn, meeting_id)
    _check_role(me, meeting_id)
    sheet = await asyncio.to_thread(read_sheet, data)
    return meeting, sheet, hashlib.sha256(data).hexdigest()


async def preview(
    node: Node, me: Member, meeting_id: int, data: bytes, filename: str
) -> dict[str, Any]:
    """What importing ``data`` would do, row by row; writes nothing."""
    meeting, sheet, sha = await _open(node, me, meeting_id, data)
    async with node.log.reading() as conn:
        p = await plan(conn, me, meeting_id, sheet)
    return _report(p, sheet, meeting, filename, sha)


async def import_roster(
    node: Node, me: Member, meeting_id: int, data: bytes, filename: str
) -> dict[str, Any]:
    """Import ``data`` in one transaction: every row, or (any row in error) nothing."""
    meeting, sheet, sha = await _open(node, me, meeting_id, data)
    desk = f"desk:{meeting_id}"

    def refuse_errors(p: Plan) -> None:
        if p.has_errors:
            raise Conflict(
                "the roster has rows in error: nothing was imported",
                reason="roster_errors",
                report=_report(p, sheet, meeting, filename, sha),
            )

    try:
        async with node.writing() as w:
            p = await plan(w.conn, me, meeting_id, sheet)
            refuse_errors(p)
            if not p.changes_anything:
                return {**_report(p, sheet, meeting, filename, sha), "imported": True}
            # Imports of one meeting one at a time; then the rows again, as of now.
            await w.lock(desk)
            p = await plan(w.conn, me, meeting_id, sheet)
            refuse_errors(p)
            joined = await _apply(w.conn, p, meeting_id, node.clock.now())
            report = {**_report(p, sheet, meeting, filename, sha), "imported": True}
            report["written"] = True
            await w.append(desk, "roster.imported", me, {"roster": _log_body(p, report, joined)})
    except IntegrityError:  # an account, delegation or unit made meanwhile elsewhere
        raise Conflict(
            "the accounts changed while importing: preview the file again",
            reason="roster_changed",
        ) from None
    return report


ISSUE_MAX = 2000  # accounts per request (each takes a few ms to hash)


async def issue_passwords(
    node: Node, me: Member, meeting_id: int, usernames: Sequence[str]
) -> dict[str, Any]:
    """A temporary password for each of ``usernames`` that has no password of its own (none
    yet, or an earlier temporary one not used): the passwords, once, and for the others why
    not (``not_found``, ``inactive``, ``has_password``, ``not_allowed``). One transaction;
    appends ``roster.passwords_issued`` on ``desk:<meeting id>`` naming the accounts."""
    async with node.log.reading() as conn:
        meeting = await meeting_row(conn, meeting_id)
    _check_role(me, meeting_id)
    wanted = list(dict.fromkeys(usernames))
    if not 1 <= len(wanted) <= ISSUE_MAX:
        raise BadRequest(f"name 1 to {ISSUE_MAX} usernames", field="usernames")
    found = await _accounts_by_username(node, meeting_id, wanted)
    skipped: list[dict[str, Any]] = []
    chosen: list[Any] = []
    for name in wanted:
        r = found.get(name)
        reason = _why_not(me, r)
        if reason:
            skipped.append({"username": name, "reason": reason})
        else:
            chosen.append(r)
    # Hashed before the transaction (a few ms each), which then takes only those that
    # still have no password of their own.
    made = await asyncio.to_thread(lambda: [temporary_password() for _ in chosen])
    issued: list[dict[str, Any]] = []
    async with node.writing() as w:
        await w.lock(f"desk:{meeting_id}")
        still: set[int] = set()
        for chunk in in_chunks([int(r.id) for r in chosen]):
            still.update(
                int(i)
                for i in (
                    await w.conn.execute(
                        sa.select(users.c.id).where(
                            users.c.id.in_(chunk),
                            users.c.active,
                            users.c.password_hash.is_(None) | users.c.password_temporary,
                        )
                    )
                ).scalars()
            )
        for r, (text, hashed) in zip(chosen, made, strict=True):
            if int(r.id) not in still:  # changed meanwhile
                skipped.append({"username": r.username, "reason": "has_password"})
                continue
            issued.append(
                {
                    "uid": int(r.id),
                    "hashed": hashed,
                    "username": r.username,
                    "name": r.name,
                    "role": r.role,
                    "delegation": r.delegation,
                    "unit": r.unit,
                    "password": text,
                }
            )
        if issued:
            await w.conn.execute(
                users.update()
                .where(users.c.id == sa.bindparam("uid"))
                .values(
                    password_hash=sa.bindparam("hashed"),
                    password_temporary=True,
                    token_version=users.c.token_version + 1,
                ),
                [{"uid": x["uid"], "hashed": x["hashed"]} for x in issued],
            )
            body = {
                "meeting_id": meeting_id,
                "accounts": [x["username"] for x in issued],
                "skipped": len(skipped),
            }
            await w.append(f"desk:{meeting_id}", "roster.passwords_issued", me, {"passwords": body})
    for x in issued:
        del x["uid"], x["hashed"]
    return {
        "meeting": {"id": int(meeting.id), "title": meeting.title},
        "issued": issued,
        "skipped": skipped,
    }


async def _accounts_by_username(
    node: Node, meeting_id: int, names: Sequence[str]
) -> dict[str, Any]:
    """The accounts named, with their delegation's and unit's names and whether they take
    part in the meeting."""
    out: dict[str, Any] = {}
    async with node.log.reading() as conn:
        for chunk in in_chunks(names):
            rows = await conn.execute(
                sa.select(
                    users.c.id,
                    users.c.username,
                    users.c.name,
                    users.c.role,
                    users.c.active,
                    users.c.password_hash,
                    users.c.password_temporary,
                    delegations.c.name.label("delegation"),
                    units.c.name.label("unit"),
                    meeting_participants.c.user_id.label("participant"),
                )
                .outerjoin(delegations, delegations.c.id == users.c.delegation_id)
                .outerjoin(units, units.c.id == users.c.unit_id)
                .outerjoin(
                    meeting_participants,
                    (meeting_participants.c.user_id == users.c.id)
                    & (meeting_participants.c.meeting_id == meeting_id),
                )
                .where(users.c.username.in_(chunk))
            )
            out.update({r.username: r for r in rows})
    return out


def _why_not(me: Member, r: Any) -> str | None:
    """Why ``me`` may not give the account ``r`` a temporary password, or None."""
    if r is None:
        return "not_found"
    if not _may_issue(me, r):
        return "not_allowed"
    if not r.active:
        return "inactive"
    if r.password_hash and not r.password_temporary:
        return "has_password"
    return None


def _may_issue(me: Member, account: Any) -> bool:
    """An admin gives first passwords to any account but an admin's; the secretariat to
    the deputies of its meeting (:func:`_check_role` has checked it runs the meeting)."""
    if me.role == "admin":
        return bool(account.role != "admin")
    return account.role == "deputy" and account.participant is not None


def _log_body(p: Plan, report: dict[str, Any], joined: int) -> dict[str, Any]:
    """What the log keeps of an import: names and counts, never a phone number."""
    return {
        "meeting_id": report["meeting"]["id"],
        "filename": report["filename"],
        "sha256": report["sha256"],
        "rows": len(p.rows),
        **report["counts"],
        "joined": joined,
        "created_delegations": p.new_delegations,
        "created_units": p.new_units,
        "accounts_new": [r.username for r in p.rows if r.result == "new"],
        "accounts_updated": [
            {"username": r.username, "fields": r.changes} for r in p.rows if r.result == "updated"
        ],
    }


async def _apply(conn: AsyncConnection, p: Plan, meeting_id: int, now: Any) -> int:
    """Write the plan (no row in error); how many accounts joined the meeting."""
    dele_ids = {
        r.name: int(r.id)
        for r in await conn.execute(sa.select(delegations.c.id, delegations.c.name))
    }
    unit_ids = {r.name: int(r.id) for r in await conn.execute(sa.select(units.c.id, units.c.name))}
    for name in p.new_delegations:
        dele_ids[name] = int(
            (
                await conn.execute(
                    delegations.insert().values(name=name).returning(delegations.c.id)
                )
            ).scalar_one()
        )
    for name in p.new_units:
        unit_ids[name] = int(
            (
                await conn.execute(units.insert().values(name=name).returning(units.c.id))
            ).scalar_one()
        )

    def columns(r: Row) -> dict[str, Any]:
        v = r.values
        return {
            "name": v["name"],
            "delegation_id": dele_ids[v["delegation"]] if v["delegation"] else None,
            "unit_id": unit_ids[v["unit"]] if v["unit"] else None,
            "phone": v["phone"],
            "preferred_contact": v["preferred_contact"],
        }

    new = [r for r in p.rows if r.result == "new"]
    if new:
        rows = [
            {"username": r.username, "role": r.values["role"], "created_at": now, **columns(r)}
            for r in new
        ]
        ids = await conn.execute(
            users.insert().returning(users.c.id, sort_by_parameter_order=True), rows
        )
        for r, uid in zip(new, ids.scalars(), strict=True):
            r.user_id = int(uid)
    updated = [r for r in p.rows if r.result == "updated" and set(r.changes) - {"meeting"}]
    if updated:
        stmt = (
            users.update()
            .where(users.c.id == sa.bindparam("uid"))
            .values(
                name=sa.bindparam("v_name"),
                delegation_id=sa.bindparam("v_delegation_id"),
                unit_id=sa.bindparam("v_unit_id"),
                phone=sa.bindparam("v_phone"),
                preferred_contact=sa.bindparam("v_preferred_contact"),
            )
        )
        await conn.execute(
            stmt,
            [{"uid": r.user_id, **{f"v_{k}": v for k, v in columns(r).items()}} for r in updated],
        )
    joins = [{"meeting_id": meeting_id, "user_id": r.user_id} for r in p.rows if r.joins]
    if joins:
        await conn.execute(meeting_participants.insert(), joins)
    return len(joins)

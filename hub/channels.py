"""Channel names and who may subscribe or publish to each.

A channel name is ``<kind>:<id>`` with a positive integer id:

==================  =========================================  ==============================
channel             may subscribe                              may publish
==================  =========================================  ==============================
meeting:<id>        its participants, secretariat, supervisors  secretariat
delegation:<id>     its deputies, secretariat, supervisors      secretariat
desk:<meeting id>   secretariat, supervisors                    secretariat
deputy:<id>         that deputy, secretariat, supervisors       secretariat
unit:<id>           that unit's accounts, secretariat, sup.     secretariat
==================  =========================================  ==============================

Admins manage accounts; like supervisors they read everything and publish nothing.

"May publish" is about raw publishes (the ``publish`` frame, ``POST
/api/channels/{c}/messages``); the kinds the workflows publish are reserved for them on
top of this table (``hub.session.kinds``). Deputies publish nothing raw: what they send
the secretariat (opinions, suggestions, leave, requests to speak) goes through the
workflow endpoints, which publish on their behalf.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hub.errors import BadRequest, Forbidden

KINDS = ("meeting", "delegation", "desk", "deputy", "unit")
_NAME = re.compile(r"^(meeting|delegation|desk|deputy|unit):([1-9][0-9]{0,17})$")

READERS_OF_ALL = frozenset({"secretariat", "supervisor", "admin"})


@dataclass(frozen=True)
class Channel:
    kind: str
    id: int

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.id}"

    def __str__(self) -> str:
        return self.name


def parse_channel(name: object) -> Channel:
    """Parse ``kind:id``; raise :class:`BadRequest` saying what a valid name looks like."""
    if not isinstance(name, str):
        raise BadRequest('`channel` must be a string like "meeting:1"')
    m = _NAME.match(name)
    if m is None:
        raise BadRequest(
            f"malformed channel {name[:80]!r}: expected <kind>:<id> with kind one of "
            f"{', '.join(KINDS)} and a positive integer id"
        )
    return Channel(m.group(1), int(m.group(2)))


@dataclass(frozen=True)
class Principal:
    """An authenticated user and the memberships permissions depend on."""

    id: int
    name: str
    role: str
    delegation_id: int | None = None
    unit_id: int | None = None
    meetings: frozenset[int] = field(default_factory=frozenset)
    token_version: int = 0
    session: str = ""  # the login (device) whose token this is: logging out closes it

    def public(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "role": self.role}


def can_subscribe(p: Principal, ch: Channel) -> bool:
    if p.role in READERS_OF_ALL:
        return True
    if ch.kind == "meeting":
        return ch.id in p.meetings
    if ch.kind == "delegation":
        return p.role == "deputy" and p.delegation_id == ch.id
    if ch.kind == "deputy":
        return p.role == "deputy" and p.id == ch.id
    if ch.kind == "unit":
        return p.role == "unit" and p.unit_id == ch.id
    return False  # desk: secretariat and supervisors only


def can_publish(p: Principal, ch: Channel) -> bool:
    return p.role == "secretariat"


def check_subscribe(p: Principal, ch: Channel) -> None:
    if not can_subscribe(p, ch):
        raise Forbidden(f"{p.role} {p.id} may not subscribe to {ch.name}")


def check_publish(p: Principal, ch: Channel) -> None:
    if not can_publish(p, ch):
        raise Forbidden(f"{p.role} {p.id} may not publish to {ch.name}")

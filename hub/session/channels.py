"""The congress's channels and who may subscribe or publish to each, registered with the
transport's :class:`hub.channels.ChannelRules` when the workflows attach to a hub. The
rules read the memberships of the :class:`~hub.session.members.Member` each account loads
as (:func:`hub.session.members.load_members`, given to the hub's principal loader then too).

==================  =========================================  ==============================
channel             may subscribe                              may publish (raw)
==================  =========================================  ==============================
meeting:<id>        its participants, secretariat, supervisors  secretariat
delegation:<id>     its deputies, secretariat, supervisors      secretariat
desk:<meeting id>   secretariat, supervisors                    secretariat
deputy:<id>         that deputy, secretariat, supervisors       secretariat
unit:<id>           that unit's accounts, secretariat, sup.     secretariat
setup:1             secretariat, supervisors, admins            nobody
==================  =========================================  ==============================

``setup:1`` is the congress's set-up log (:mod:`hub.session.setup`): accounts,
delegations, units, meetings, rules and the calendar as the admins change them. Only the
hub appends to it.

Admins manage accounts; like supervisors they read everything and publish nothing.

"May publish" is about raw publishes (the ``publish`` frame, ``POST
/api/channels/{c}/messages``); the kinds the workflows publish are reserved for them on
top of this table (:mod:`hub.session.kinds`). Deputies publish nothing raw: what they send
the secretariat (opinions, suggestions, leave, requests to speak) goes through the
workflow endpoints, which publish on their behalf.
"""

from __future__ import annotations

from hub.auth import Principal
from hub.channels import Channel, ChannelRules, MaySubscribe, parse_channel
from hub.errors import BadRequest, Forbidden
from hub.session.kinds import check_reserved
from hub.session.members import member

READERS_OF_ALL = frozenset({"secretariat", "supervisor", "admin"})
"""The roles that may read every meeting and channel."""


def _reader(rule: MaySubscribe) -> MaySubscribe:
    return lambda p, id_: p.role in READERS_OF_ALL or rule(p, id_)


SUBSCRIBE: dict[str, MaySubscribe] = {
    "meeting": _reader(lambda p, id_: id_ in member(p).meetings),
    "delegation": _reader(lambda p, id_: p.role == "deputy" and member(p).delegation_id == id_),
    "desk": _reader(lambda p, id_: False),
    "deputy": _reader(lambda p, id_: p.role == "deputy" and p.id == id_),
    "unit": _reader(lambda p, id_: p.role == "unit" and member(p).unit_id == id_),
    "setup": _reader(lambda p, id_: False),
}


def parse_congress_channel(name: object) -> Channel:
    """A channel name of one of the kinds above (an archive filter, a verify request)."""
    ch = parse_channel(name)
    if ch.kind not in SUBSCRIBE:
        raise BadRequest(
            f"unknown channel kind {ch.kind!r} in {ch.name}: expected one of {', '.join(SUBSCRIBE)}"
        )
    return ch


def check_raw_publish(p: Principal, ch: Channel, kind: str) -> None:
    """The secretariat publishes raw on every channel, nobody else; and no one publishes a
    kind reserved for the workflows."""
    if p.role != "secretariat":
        raise Forbidden(f"{p.role} {p.id} may not publish to {ch.name}")
    check_reserved(kind)


def refuse_raw_publish(p: Principal, ch: Channel, kind: str) -> None:
    """Nobody publishes raw on a channel only the hub appends to (the set-up log)."""
    raise Forbidden(f"only the hub appends to {ch.name}; nobody publishes on it, {p.role} {p.id}")


PUBLISH = {"setup": refuse_raw_publish}
"""The kinds of channel whose raw publishes another rule than :func:`check_raw_publish`
decides."""


def register(rules: ChannelRules) -> None:
    for kind, may_subscribe in SUBSCRIBE.items():
        rules.register(kind, may_subscribe, PUBLISH.get(kind, check_raw_publish))

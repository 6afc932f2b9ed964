"""Channel names, and the rules that say who may subscribe to or publish on each.

The transport knows a channel only by its name, ``<kind>:<id>`` (a lower-case kind and a
positive integer id), and asks the rules registered for its kind whether a principal
may subscribe to it or publish on it raw (the ``publish`` frame, ``POST
/api/channels/{c}/messages``). Which kinds exist and who may use them is the business of
the layer built on the transport, which registers each kind with
:meth:`ChannelRules.register`, as centrifuge's ``OnSubscribe``/``OnPublish`` handlers do:
the congress's table is in :mod:`hub.session.channels`. A kind nobody registered is
refused. Adding a kind (a committee's channel) touches no transport file.

The rules get the :class:`~hub.auth.Principal` the layer above loaded (its own subclass,
with whatever memberships its rules read); the transport reads none of it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from hub.auth import Principal
from hub.errors import BadRequest, Forbidden

_NAME = re.compile(r"^([a-z][a-z_]{0,31}):([1-9][0-9]{0,17})$")


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
    """Parse ``kind:id``; raise :class:`BadRequest` saying what a valid name looks like.
    Whether the kind exists is for :class:`ChannelRules` to say."""
    if not isinstance(name, str):
        raise BadRequest('`channel` must be a string like "news:1" (<kind>:<id>)')
    m = _NAME.match(name)
    if m is None:
        raise BadRequest(
            f"malformed channel {name[:80]!r}: expected <kind>:<id> with a lower-case kind "
            "and a positive integer id"
        )
    return Channel(m.group(1), int(m.group(2)))


MaySubscribe = Callable[[Principal, int], bool]
"""Whether a principal may subscribe to the channel of this kind with this id."""
CheckPublish = Callable[[Principal, Channel, str], None]
"""Raise :class:`Forbidden` unless the principal may publish this message kind raw here."""


@dataclass(frozen=True)
class KindRules:
    may_subscribe: MaySubscribe
    check_publish: CheckPublish


class ChannelRules:
    """The channel kinds the layer above has registered, and their rules."""

    def __init__(self) -> None:
        self._kinds: dict[str, KindRules] = {}

    def register(self, kind: str, may_subscribe: MaySubscribe, check_publish: CheckPublish) -> None:
        if not _NAME.match(f"{kind}:1"):
            raise ValueError(f"channel kind {kind!r}: lower-case letters and _ only")
        if kind in self._kinds:
            raise ValueError(f"channel kind {kind!r} is registered already")
        self._kinds[kind] = KindRules(may_subscribe, check_publish)

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(self._kinds)

    def _rules(self, ch: Channel) -> KindRules:
        rules = self._kinds.get(ch.kind)
        if rules is None:
            raise BadRequest(
                f"unknown channel kind {ch.kind!r} in {ch.name}: expected one of "
                f"{', '.join(self._kinds)}"
            )
        return rules

    def check_subscribe(self, p: Principal, ch: Channel) -> None:
        if not self._rules(ch).may_subscribe(p, ch.id):
            raise Forbidden(f"{p.role} {p.id} may not subscribe to {ch.name}")

    def check_publish(self, p: Principal, ch: Channel, kind: str) -> None:
        """A raw publish of ``kind`` on ``ch``: :class:`Forbidden` unless allowed."""
        self._rules(ch).check_publish(p, ch, kind)

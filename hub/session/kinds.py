"""The message kinds the session workflows publish: reserved for them.

Pages apply these kinds as workflow steps (a notice's tally, an opinion, an item's new
state), so a message of one of them must come from the workflow that took the step. A
kind belongs to a family, the part before its first dot (``notice.tally`` and ``notice``
are both in ``notice``), and every family the workflows append is reserved whole: a
raw publish (the ``publish`` frame on ``/ws``, ``POST /api/channels/{c}/messages``) of a
reserved kind is ``forbidden``, whoever sends it, and the refusal names the API that
takes the step instead. Workflows append through ``Node.writing()``, which is not a raw
publish and is not checked here.

``tests/session/test_kinds.py`` reads every ``Writer.append`` in the code and fails when
a kind it appends is in no family here, or when a family here is appended nowhere.
"""

from __future__ import annotations

from hub.errors import Forbidden

FAMILIES: dict[str, str] = {
    "notice": "use POST /api/meetings/{id}/notices and /api/notices/{id}/repush, /correct "
    "or /withdraw",
    "opinion": "use POST /api/opinions and /api/opinions/{id}/note or /merge",
    "suggestion": "use POST /api/suggestions and /api/suggestions/{id}/{action}",
    "item": "use POST /api/items and /api/items/{id}/{action}",
    "presence": "the hub publishes it itself as people connect and leave",
    "attendance": "use POST /api/sittings/{id}/checkin or /leave and /api/leave/{id}/{action}",
    "speaker": "use POST /api/sittings/{id}/speakers and /api/speakers/{id}/{action}",
    "speakers": "use PUT /api/sittings/{id}/speakers/order",
    "sitting": "use POST /api/meetings/{id}/sittings, PUT /api/sittings/{id} and "
    "POST /api/sittings/{id}/close",
    "agenda": "use POST /api/meetings/{id}/agenda and PUT /api/agenda/{id}",
    "document": "use POST /api/meetings/{id}/documents",
    "registration": "use POST /api/registrations and /api/registrations/{id}/{action}",
    "points": "use POST /api/points/disputes and /api/points/disputes/{id}/resolve",
    "reach": "the hub appends it itself as it sends a notice through Web Push or a text message",
    "roster": "use POST /api/meetings/{id}/roster/import and /roster/passwords",
    "setup": "the hub appends it to setup:1 as an admin changes accounts, delegations, "
    "units, meetings, rules or the calendar (/api/admin/…)",
    "conversation": "use POST /api/conversations (a deputy and the secretariat), or "
    "/api/items/{id}/message (about an item)",
}
"""Each reserved family, and what to use instead of publishing its kinds raw."""


def family(kind: str) -> str:
    return kind.split(".", 1)[0]


def is_reserved(kind: str) -> bool:
    return family(kind) in FAMILIES


def check_reserved(kind: str) -> None:
    """Raise :class:`Forbidden` if ``kind`` may not be published raw, whoever sends it."""
    if is_reserved(kind):
        raise Forbidden(
            f"kind {kind!r} is reserved for the hub's workflows, which publish it when "
            f"someone acts through their API; {FAMILIES[family(kind)]}"
        )

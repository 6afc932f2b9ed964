"""The lifecycle of an item, as one table: state × action → next state, and who acts.

Commit-to-do items (马上办) and suggestions (代表建议) are both items and share this
table. A suggestion starts at ``submit`` and goes through co-signing and review first; a
commit-to-do item is created by ``hand_over`` from the secretariat's desk and starts at
``assigned``. From ``assigned`` on the two are handled the same way; only their
deadline rules differ (``hub.session.deadlines``).

This module is pure: no I/O. :func:`check` decides whether an action may be taken and
raises :class:`~hub.errors.Forbidden` (wrong actor) or :class:`~hub.errors.Conflict`
(not now; ``allowed`` names the actions possible in the current state), and
:meth:`Transition.resolve` picks the next state from the facts after the action, for
the actions whose outcome depends on them (the last co-signer, the last evaluation).

Actors (an item decides who of the caller's relations to it apply, ``hub.session.items``):

==============  ===========================================================
secretariat     a secretariat account
author          a deputy submitting a suggestion (a participant of its meeting)
cosigner        a deputy asked to co-sign a suggestion, who has not answered yet
deputy          a deputy of the item: the author and confirmed co-signers of a
                suggestion, the deputies of the opinions a commit-to-do item came from
lead_unit       an account of the item's lead unit (主办)
co_unit         an account of one of the item's co-units (协办)
==============  ===========================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from hub.errors import Conflict, Forbidden

# States. ``None`` is "the item does not exist yet" (its creation).
COSIGNING = "cosigning"  # suggestion waiting for co-signers to confirm (联名确认)
SUBMITTED = "submitted"  # suggestion waiting for review by the secretariat
ACCEPTED = "accepted"  # suggestion accepted (立案), not yet handed over
NOT_ACCEPTED = "not_accepted"  # suggestion not accepted, with a reason (final)
ASSIGNED = "assigned"  # handed over (交办) to a lead unit, waiting to be signed for
RETURNED = "returned"  # returned by the unit with a reason (退回), waiting to be reassigned
IN_PROGRESS = "in_progress"  # signed for (签收), being handled (办理中)
REPLIED = "replied"  # answered (答复, grade A–D), waiting for the deputies' evaluation
REHANDLING = "rehandling"  # an evaluation was unsatisfied: being handled again (重新办理)
CLOSED = "closed"  # every deputy evaluated, none unsatisfied (办结, final)

STATES = (
    COSIGNING,
    SUBMITTED,
    ACCEPTED,
    NOT_ACCEPTED,
    ASSIGNED,
    RETURNED,
    IN_PROGRESS,
    REPLIED,
    REHANDLING,
    CLOSED,
)
FINAL = frozenset({NOT_ACCEPTED, CLOSED})

ACTORS = ("secretariat", "author", "cosigner", "deputy", "lead_unit", "co_unit")


@dataclass(frozen=True)
class Facts:
    """What the guards and resolvers look at besides the state.

    ``co_opinions_missing`` are the co-units the lead still waits for (empty after the
    first round: re-handling does not ask the co-units again); ``evaluated`` and
    ``unsatisfied`` are about the current round.
    """

    cosigners_pending: frozenset[int] = frozenset()  # deputy ids
    deputies: frozenset[int] = frozenset()  # deputy ids
    evaluated: frozenset[int] = frozenset()  # deputy ids
    unsatisfied: bool = False
    co_opinions_missing: frozenset[int] = frozenset()  # unit ids
    extension_pending: bool = False


# A guard says why an action cannot be taken now (None: it can). ``me`` is the caller's
# deputy id or unit id; None asks "can anyone?" (for the ``allowed`` list).
Guard = Callable[[Facts, "int | None"], "str | None"]
Resolver = Callable[[Facts], str]


def _pending_cosigner(f: Facts, me: int | None) -> str | None:
    if me is None:
        return None if f.cosigners_pending else "no co-signer is waiting to answer"
    return None if me in f.cosigners_pending else "you have already answered"


def _not_evaluated(f: Facts, me: int | None) -> str | None:
    if me is None:
        return None if f.deputies - f.evaluated else "every deputy has evaluated"
    return None if me not in f.evaluated else "you have already evaluated this reply"


def _co_opinion_missing(f: Facts, me: int | None) -> str | None:
    if me is None:
        return None if f.co_opinions_missing else "every co-unit has sent its opinion"
    return None if me in f.co_opinions_missing else "your unit has already sent its opinion"


def _co_opinions_in(f: Facts, me: int | None) -> str | None:
    if f.co_opinions_missing:
        units = ", ".join(str(u) for u in sorted(f.co_opinions_missing))
        return f"waiting for the opinion of co-unit(s) {units}"
    return None


def _no_extension_pending(f: Facts, me: int | None) -> str | None:
    return "an extension request is already waiting for a decision" if f.extension_pending else None


def _extension_pending(f: Facts, me: int | None) -> str | None:
    return None if f.extension_pending else "no extension request is waiting for a decision"


def _after_signatures(f: Facts) -> str:
    return COSIGNING if f.cosigners_pending else SUBMITTED


def _after_evaluation(f: Facts) -> str:
    if f.deputies - f.evaluated:
        return REPLIED
    return REHANDLING if f.unsatisfied else CLOSED


@dataclass(frozen=True)
class Transition:
    state: str | None
    action: str
    to: tuple[str, ...]  # possible next states; more than one needs ``resolver``
    by: str  # one of ACTORS
    guard: Guard | None = None
    resolver: Resolver | None = field(default=None, compare=False)

    def resolve(self, after: Facts) -> str:
        """The next state, given the facts once the action's own effect is applied."""
        if self.resolver is None:
            return self.to[0]
        nxt = self.resolver(after)
        assert nxt in self.to, (self.action, nxt)
        return nxt


T = Transition
_WORK = (IN_PROGRESS, REHANDLING)

TABLE: tuple[Transition, ...] = (
    # suggestions: submission, co-signing and review
    T(None, "submit", (COSIGNING, SUBMITTED), "author", resolver=_after_signatures),
    T(
        COSIGNING,
        "cosign",
        (COSIGNING, SUBMITTED),
        "cosigner",
        _pending_cosigner,
        _after_signatures,
    ),
    T(
        COSIGNING,
        "decline",
        (COSIGNING, SUBMITTED),
        "cosigner",
        _pending_cosigner,
        _after_signatures,
    ),
    T(SUBMITTED, "accept", (ACCEPTED,), "secretariat"),
    T(SUBMITTED, "not_accept", (NOT_ACCEPTED,), "secretariat"),
    # hand-over: of an accepted suggestion, or a commit-to-do item made from opinions
    T(ACCEPTED, "hand_over", (ASSIGNED,), "secretariat"),
    T(None, "hand_over", (ASSIGNED,), "secretariat"),
    # the unit signs for it or returns it
    T(ASSIGNED, "sign", (IN_PROGRESS,), "lead_unit"),
    T(ASSIGNED, "return", (RETURNED,), "lead_unit"),
    T(RETURNED, "reassign", (ASSIGNED,), "secretariat"),
    T(ASSIGNED, "co_opinion", (ASSIGNED,), "co_unit", _co_opinion_missing),
    T(IN_PROGRESS, "co_opinion", (IN_PROGRESS,), "co_unit", _co_opinion_missing),
    # handling, first round and re-handling alike
    *(T(s, "contact", (s,), "lead_unit") for s in _WORK),
    *(T(s, "request_extension", (s,), "lead_unit", _no_extension_pending) for s in _WORK),
    *(T(s, "approve_extension", (s,), "secretariat", _extension_pending) for s in _WORK),
    *(T(s, "refuse_extension", (s,), "secretariat", _extension_pending) for s in _WORK),
    *(T(s, "reply", (REPLIED,), "lead_unit", _co_opinions_in) for s in _WORK),
    # the deputies evaluate the reply
    T(
        REPLIED,
        "evaluate",
        (REPLIED, CLOSED, REHANDLING),
        "deputy",
        _not_evaluated,
        _after_evaluation,
    ),
)

ACTIONS: tuple[str, ...] = tuple(dict.fromkeys(t.action for t in TABLE))
BY: dict[str, str] = {t.action: t.by for t in TABLE}
_INDEX: dict[tuple[str | None, str], Transition] = {(t.state, t.action): t for t in TABLE}


def allowed(state: str | None, facts: Facts) -> list[str]:
    """The actions someone may take now, in table order."""
    return [
        t.action
        for t in TABLE
        if t.state == state and (t.guard is None or t.guard(facts, None) is None)
    ]


def check(
    state: str | None, action: str, relations: frozenset[str], facts: Facts, me: int | None
) -> Transition:
    """The transition ``action`` takes from ``state`` for a caller with ``relations``.

    Forbidden when none of the caller's relations is the action's actor (whatever the
    state: a unit never approves an extension); Conflict when the action is not possible
    now, naming the allowed ones.
    """
    by = BY.get(action)
    if by is None:
        raise Conflict(f"unknown action {action!r}", allowed=allowed(state, facts))
    if by not in relations:
        raise Forbidden(
            f"only the {by.replace('_', ' ')} of this item may {action.replace('_', ' ')}"
        )
    t = _INDEX.get((state, action))
    shown = state or "new"
    if t is None:
        ok = allowed(state, facts)
        raise Conflict(
            f"item is {shown}; {action} is not possible now"
            + (f"; allowed next: {', '.join(ok)}" if ok else "; nothing more can be done"),
            allowed=ok,
            state=state,
        )
    if t.guard is not None:
        why = t.guard(facts, me)
        if why is not None:
            ok = allowed(state, facts)
            raise Conflict(
                f"item is {shown}; cannot {action.replace('_', ' ')}: {why}",
                allowed=ok,
                state=state,
            )
    return t

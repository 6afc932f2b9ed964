"""The lifecycle of an item: every action declared once (:data:`REGISTRY`), and the
views derived from it: state × action → next state and who acts (:data:`TABLE`), the
message kind of each action, what a caller may do now (:func:`options`).

Commit-to-do items (马上办) and suggestions (代表建议) are both items and share this
table. A suggestion starts at ``submit`` and goes through co-signing and review first; a
commit-to-do item is created by ``hand_over`` from the secretariat's desk and starts at
``assigned``. From ``assigned`` on the two are handled the same way; only their
deadline rules differ (``hub.session.deadlines``).

This module is pure: no I/O. An action's input is a Struct (its ``input``: the shape
checked and documented in ``/openapi.json``) which its ``parse`` turns into the effect's
arguments, checking what needs the clock or the item's kind; its effect
on the stored item is ``hub.session.items.EFFECTS``. :func:`check` decides whether an action may be taken and
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
party           any of secretariat, deputy, lead_unit, co_unit: the people who talk
                about the item (its ``message``)
==============  ===========================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal, get_args

import msgspec
from msgspec import Meta

from hub import shapes
from hub.clock import Clock
from hub.errors import BadRequest, Conflict, Forbidden
from hub.params import parse_deadline
from hub.protocol import iso
from hub.shapes import DISTINCT, NO_NUL, Body, Id, MaybeShortText, ShortText, Text, Title

COMMIT, SUGGESTION = "commit", "suggestion"
Kind = Literal["commit", "suggestion"]
KINDS: tuple[str, ...] = get_args(Kind)
Grade = Literal["A", "B", "C", "D"]  # solved, being solved, planned, for reference
GRADES: tuple[str, ...] = get_args(Grade)
Rating = Literal["satisfied", "basically_satisfied", "unsatisfied"]
RATINGS: tuple[str, ...] = get_args(Rating)
ContactMethod = Literal["phone", "visit", "meeting", "message", "other"]
CONTACT_METHODS: tuple[str, ...] = get_args(ContactMethod)

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
CLOSED = "closed"  # 办结 (final): every deputy evaluated and none unsatisfied, or closed
# by the secretariat when the evaluation deadline passed without every evaluation
# (``closed_reason`` tells which: CLOSED_REASONS)

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

ACTORS = ("secretariat", "author", "cosigner", "deputy", "lead_unit", "co_unit", "party")
PARTIES = frozenset({"secretariat", "deputy", "lead_unit", "co_unit"})
"""The relations that make a caller a ``party`` of the item."""

EVALUATED, NO_EVALUATION = "evaluated", "no_evaluation"
CLOSED_REASONS = (EVALUATED, NO_EVALUATION)
"""How a closed item was closed: by its deputies' evaluations, or by the secretariat after
the evaluation deadline without them (which no statistic counts as a rating)."""


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
    # the deputies' evaluation deadline of this round; ``evaluation_overdue`` once it has
    # passed (or the item has none: replied before the rule existed)
    evaluation_due: datetime | None = None
    evaluation_overdue: bool = False
    # the deputies a recorded contact waits on to confirm or dispute it, and the deputies
    # whose follow-up question waits for the lead unit's answer (deputy ids)
    contacts_waiting: frozenset[int] = frozenset()
    asking: frozenset[int] = frozenset()


REASON_CODES = (
    "cosigned",  # the caller has answered the co-signing request
    "evaluated",  # the caller has evaluated this round's reply
    "co_opinion_sent",  # the caller's unit has sent its co-unit opinion
    "co_opinions_pending",  # the lead unit waits for co-units' opinions (params: unit_ids)
    "extension_pending",  # an extension request waits for a decision
    "no_extension_request",  # there is no extension request to decide
    "evaluation_not_due",  # the deputies still have time to evaluate (params: due)
    "no_contact_waiting",  # no recorded contact waits for the caller's confirmation
    "question_open",  # the caller's follow-up question still waits for the unit's answer
    "no_question_open",  # no follow-up question waits for the unit's answer
)
"""Every reason a guard gives; the pages have a string ``why.<code>`` for each."""


@dataclass(frozen=True)
class Reason:
    """Why an action cannot be taken now: a ``code`` and ``params`` the pages translate
    (``static/js/i18n.js`` ``why.<code>``), and the English ``text`` of the error."""

    code: str
    text: str
    params: dict[str, object] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        assert self.code in REASON_CODES, self.code

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "params": self.params}


# A guard says why an action cannot be taken now (None: it can). ``me`` is the caller's
# deputy id or unit id; None asks "can anyone?" (for the ``allowed`` list).
Guard = Callable[[Facts, "int | None"], "Reason | None"]
Resolver = Callable[[Facts], str]


def _pending_cosigner(f: Facts, me: int | None) -> Reason | None:
    if me is None:
        return (
            None if f.cosigners_pending else Reason("cosigned", "no co-signer is waiting to answer")
        )
    return None if me in f.cosigners_pending else Reason("cosigned", "you have already answered")


def _not_evaluated(f: Facts, me: int | None) -> Reason | None:
    if me is None:
        return (
            None if f.deputies - f.evaluated else Reason("evaluated", "every deputy has evaluated")
        )
    if me in f.evaluated:
        return Reason("evaluated", "you have already evaluated this reply")
    return None


def _co_opinion_missing(f: Facts, me: int | None) -> Reason | None:
    if me is None:
        if f.co_opinions_missing:
            return None
        return Reason("co_opinion_sent", "every co-unit has sent its opinion")
    if me in f.co_opinions_missing:
        return None
    return Reason("co_opinion_sent", "your unit has already sent its opinion")


def _co_opinions_in(f: Facts, me: int | None) -> Reason | None:
    if f.co_opinions_missing:
        units = sorted(f.co_opinions_missing)
        return Reason(
            "co_opinions_pending",
            f"waiting for the opinion of co-unit(s) {', '.join(str(u) for u in units)}",
            {"unit_ids": units},
        )
    return None


def _no_extension_pending(f: Facts, me: int | None) -> Reason | None:
    if f.extension_pending:
        return Reason("extension_pending", "an extension request is already waiting for a decision")
    return None


def _extension_pending(f: Facts, me: int | None) -> Reason | None:
    if f.extension_pending:
        return None
    return Reason("no_extension_request", "no extension request is waiting for a decision")


def _evaluation_overdue(f: Facts, me: int | None) -> Reason | None:
    if f.evaluation_overdue:
        return None
    due = "" if f.evaluation_due is None else iso(f.evaluation_due)
    return Reason("evaluation_not_due", f"the deputies have until {due} to evaluate", {"due": due})


def _contact_waiting(f: Facts, me: int | None) -> Reason | None:
    waiting = f.contacts_waiting if me is None else f.contacts_waiting & {me}
    if waiting:
        return None
    return Reason("no_contact_waiting", "no recorded contact waits for a deputy's confirmation")


def _no_question_of_mine(f: Facts, me: int | None) -> Reason | None:
    if me is None:
        if f.deputies - f.asking:
            return None
        return Reason("question_open", "every deputy's question waits for the unit's answer")
    if me in f.asking:
        return Reason("question_open", "your follow-up question waits for the unit's answer")
    return None


def _question_open(f: Facts, me: int | None) -> Reason | None:
    if f.asking:
        return None
    return Reason("no_question_open", "no follow-up question waits for an answer")


def _after_signatures(f: Facts) -> str:
    return COSIGNING if f.cosigners_pending else SUBMITTED


def _after_evaluation(f: Facts) -> str:
    if f.deputies - f.evaluated:
        return REPLIED
    return REHANDLING if f.unsatisfied else CLOSED


def _after_evaluation_deadline(f: Facts) -> str:
    """Closing without the missing evaluations ends the round with the ratings given: an
    unsatisfied one still sends the item to re-handling, none closes it."""
    return REHANDLING if f.unsatisfied else CLOSED


@dataclass(frozen=True)
class Transition:
    state: str | None
    action: str
    to: tuple[str, ...]  # possible next states; more than one needs ``resolver``
    by: str  # one of ACTORS
    guard: Guard | None = None
    resolver: Resolver | None = field(default=None, compare=False)
    quiet: bool = False

    def resolve(self, after: Facts) -> str:
        """The next state, given the facts once the action's own effect is applied."""
        if self.resolver is None:
            return self.to[0]
        nxt = self.resolver(after)
        assert nxt in self.to, (self.action, nxt)
        return nxt


# -- the input of each action: its shape (a Struct) and what its ``parse`` checks besides ---

DEADLINE = (
    "YYYY-MM-DD (the end of that day in HUB_TIMEZONE) or an ISO datetime with offset; in the future"
)
Deadline = Annotated[str, Meta(max_length=64, pattern=NO_NUL, description=DEADLINE)]
DistinctIds = Annotated[list[Id], Meta(extra=DISTINCT)]


class NoteInput(Body):
    """An optional note."""

    note: MaybeShortText | None = None


class ReasonInput(Body):
    """A reason, required."""

    reason: ShortText


class OptionalReasonInput(Body):
    """A reason, optional."""

    reason: MaybeShortText | None = None


class AssignmentInput(Body):
    """A hand-over's units and deadline: ``deadline`` for commit-to-do items, ``complex``
    for suggestions (whose deadlines follow the rules)."""

    lead_unit_id: Id
    co_unit_ids: DistinctIds = msgspec.field(default_factory=list)
    deadline: (
        Annotated[
            Deadline,
            Meta(
                description="reply deadline (commit-to-do items only); default: the rule "
                "commit.reply. " + DEADLINE
            ),
        ]
        | None
    ) = None
    complex: (
        Annotated[bool, Meta(description="wide-ranging or difficult: the longer reply rule")] | None
    ) = None


class ContactInput(Body):
    """A contact with the item's deputy (or all of them, without ``deputy_id``)."""

    method: ContactMethod
    note: ShortText
    deputy_id: Id | None = None


class ExtensionRequestInput(Body):
    """A later reply deadline asked for, and why."""

    until: Deadline
    reason: ShortText


class ExtensionDecisionInput(Body):
    """An approval, optionally with another date."""

    until: Deadline | None = None


class TextInput(Body):
    """A text."""

    text: Text


class ReplyInput(Body):
    """A reply and its grade."""

    grade: Grade
    text: Text


class EvaluationInput(Body):
    """A deputy's rating of the reply; the reason is required for unsatisfied."""

    rating: Rating
    reason: Annotated[MaybeShortText, Meta(description="required for unsatisfied")] | None = None


class ContactFeedbackInput(Body):
    """Which recorded contact the deputy confirms (default: the oldest waiting for them)."""

    contact_id: (
        Annotated[
            Id,
            Meta(
                description="the id of the contact's event on the item's timeline; default: "
                "the oldest recorded contact waiting for the caller's confirmation"
            ),
        ]
        | None
    ) = None


class ContactDisputeInput(ContactFeedbackInput, kw_only=True):
    """Which recorded contact the deputy disputes, and why (required)."""

    reason: ShortText


class QuestionInput(Body):
    """A deputy's follow-up question (追问) to the lead unit."""

    text: ShortText


class AnswerInput(Body, kw_only=True):
    """The lead unit's answer to a follow-up question."""

    question_id: (
        Annotated[
            Id,
            Meta(
                description="the id of the question's event on the item's timeline; default: "
                "the oldest question waiting for an answer"
            ),
        ]
        | None
    ) = None
    text: Text


class SuggestionInput(Body):
    """A suggestion as its author submits it, with the deputies asked to co-sign."""

    meeting_id: Id
    title: Title
    text: Text
    cosigner_ids: Annotated[
        DistinctIds, Meta(description="deputies of the meeting asked to co-sign (联名)")
    ] = msgspec.field(default_factory=list)


def _note(d: NoteInput, clock: Clock, kind: str | None) -> dict[str, Any]:
    return {"note": d.note or ""}


def _required_reason(d: ReasonInput, clock: Clock, kind: str | None) -> dict[str, Any]:
    return {"reason": d.reason}


def _optional_reason(d: OptionalReasonInput, clock: Clock, kind: str | None) -> dict[str, Any]:
    return {"reason": d.reason or ""}


def _assignment(d: AssignmentInput, clock: Clock, kind: str | None) -> dict[str, Any]:
    return {"assignment": parse_assignment(d, clock, kind)}


def _contact(d: ContactInput, clock: Clock, kind: str | None) -> dict[str, Any]:
    return {"deputy_id": d.deputy_id, "method": d.method, "note": d.note}


def _extension_request(d: ExtensionRequestInput, clock: Clock, kind: str | None) -> dict[str, Any]:
    return {"until": parse_deadline(d.until, "until", clock), "reason": d.reason}


def _extension_decision(
    d: ExtensionDecisionInput, clock: Clock, kind: str | None
) -> dict[str, Any]:
    return {"until": None if d.until is None else parse_deadline(d.until, "until", clock)}


def _text(d: TextInput, clock: Clock, kind: str | None) -> dict[str, Any]:
    return {"text": d.text}


def _reply(d: ReplyInput, clock: Clock, kind: str | None) -> dict[str, Any]:
    return {"grade": d.grade, "text": d.text}


def _evaluation(d: EvaluationInput, clock: Clock, kind: str | None) -> dict[str, Any]:
    if d.rating == "unsatisfied" and not d.reason:
        raise BadRequest("`reason` is required for an unsatisfied rating", field="reason")
    return {"rating": d.rating, "reason": d.reason or None}


def _contact_feedback(d: ContactFeedbackInput, clock: Clock, kind: str | None) -> dict[str, Any]:
    return {"contact_id": d.contact_id}


def _contact_dispute(d: ContactDisputeInput, clock: Clock, kind: str | None) -> dict[str, Any]:
    return {"contact_id": d.contact_id, "reason": d.reason}


def _question(d: QuestionInput, clock: Clock, kind: str | None) -> dict[str, Any]:
    return {"text": d.text}


def _answer(d: AnswerInput, clock: Clock, kind: str | None) -> dict[str, Any]:
    return {"question_id": d.question_id, "text": d.text}


def _submission(d: SuggestionInput, clock: Clock, kind: str | None) -> dict[str, Any]:
    return {
        "meeting_id": d.meeting_id,
        "title": d.title,
        "text": d.text,
        "cosigner_ids": list(d.cosigner_ids),
    }


@dataclass(frozen=True)
class Assignment:
    lead: int
    co: list[int]
    deadline: datetime | None = None
    complex: bool | None = None


def parse_assignment(d: AssignmentInput, clock: Clock, kind: str | None) -> Assignment:
    """A hand-over's units and deadline (``deadline`` for commit-to-do items, ``complex``
    for suggestions)."""
    if d.lead_unit_id in d.co_unit_ids:
        raise BadRequest("`co_unit_ids` must not include the lead unit", field="co_unit_ids")
    deadline = None
    if d.deadline is not None:
        if kind == SUGGESTION:
            raise BadRequest(
                "a suggestion's deadlines follow the rules; use `complex` instead",
                field="deadline",
            )
        deadline = parse_deadline(d.deadline, "deadline", clock)
    if d.complex is not None and kind == COMMIT:
        raise BadRequest("`complex` applies to suggestions only", field="complex")
    return Assignment(d.lead_unit_id, list(d.co_unit_ids), deadline, d.complex)


# -- the actions ---------------------------------------------------------------------------

Parse = Callable[[Any, Clock, "str | None"], dict[str, Any]]


@dataclass(frozen=True)
class Action:
    """Everything pure about one action, declared once: ``Action(name, by, from_states,
    to, kind, input, parse, guard=…, resolver=…)``.

    ``by`` may take it from each state of ``from_states`` (``None``: creating the item)
    when ``guard`` allows; it leads to ``to`` (empty: the item stays in its state), the
    one of them ``resolver`` picks when there are several. ``input`` is the shape of its
    request body, which ``parse`` turns into the effect's arguments; ``kind`` is the
    message it publishes. Its effect on the stored item is
    ``hub.session.items.EFFECTS[name]``. A ``quiet`` action is offered (:func:`options`)
    only when its guard allows it: its refusal would only say there is nothing to answer.
    """

    name: str
    by: str  # one of ACTORS
    from_states: tuple[str | None, ...]
    to: tuple[str, ...]
    kind: str
    input: type[Body]
    parse: Parse
    guard: Guard | None = None
    resolver: Resolver | None = None
    quiet: bool = False

    def args(self, d: Body | bytes, clock: Clock, kind: str | None) -> dict[str, Any]:
        """The effect's arguments from the input: a Struct, or the request's JSON body
        (decoded only now, so that who may act and when is decided first)."""
        got = shapes.decode(d, self.input) if isinstance(d, bytes) else d
        if not isinstance(got, self.input):
            raise TypeError(f"{self.name} takes {self.input.__name__}, not {type(got).__name__}")
        return self.parse(got, clock, kind)

    @property
    def on_existing(self) -> bool:
        """Taken on an item that exists (``submit`` only creates one)."""
        return any(s is not None for s in self.from_states)

    @property
    def endpoint(self) -> str:
        """Where it is posted: an action only on a suggestion not yet handed over is under
        ``/api/suggestions``, every other (one taken in any state too) under ``/api/items``."""
        taken_in = {s for s in self.from_states if s is not None}
        return "suggestions" if taken_in and taken_in <= set(REVIEW) else "items"


A = Action
_WORK = (IN_PROGRESS, REHANDLING)
_FEEDBACK = (IN_PROGRESS, REHANDLING, REPLIED)  # a unit handles it, or has replied
REVIEW = (COSIGNING, SUBMITTED, ACCEPTED)  # a suggestion before hand-over
_SIGNED = (COSIGNING, SUBMITTED)
STAYS: tuple[str, ...] = ()  # the action leaves the item in its state

REGISTRY: tuple[Action, ...] = (
    # suggestions: submission, co-signing and review
    A("submit", "author", (None,), _SIGNED, "suggestion.submitted",
      SuggestionInput, _submission,
      resolver=_after_signatures),
    A("cosign", "cosigner", (COSIGNING,), _SIGNED, "suggestion.cosigned",
      NoteInput, _note,
      guard=_pending_cosigner, resolver=_after_signatures),
    A("decline", "cosigner", (COSIGNING,), _SIGNED, "suggestion.declined",
      OptionalReasonInput, _optional_reason,
      guard=_pending_cosigner, resolver=_after_signatures),
    A("accept", "secretariat", (SUBMITTED,), (ACCEPTED,), "suggestion.accepted",
      NoteInput, _note),
    A("not_accept", "secretariat", (SUBMITTED,), (NOT_ACCEPTED,), "suggestion.not_accepted",
      ReasonInput, _required_reason),
    # hand-over: of an accepted suggestion, or a commit-to-do item made from opinions
    A("hand_over", "secretariat", (ACCEPTED, None), (ASSIGNED,), "item.handed_over",
      AssignmentInput, _assignment),
    # the unit signs for it or returns it
    A("sign", "lead_unit", (ASSIGNED,), (IN_PROGRESS,), "item.signed", NoteInput, _note),
    A("return", "lead_unit", (ASSIGNED,), (RETURNED,), "item.returned", ReasonInput,
      _required_reason),
    A("reassign", "secretariat", (RETURNED,), (ASSIGNED,), "item.reassigned",
      AssignmentInput, _assignment),
    A("co_opinion", "co_unit", (ASSIGNED, IN_PROGRESS), STAYS, "item.co_opinion", TextInput,
      _text,
      guard=_co_opinion_missing),
    # handling, first round and re-handling alike
    A("contact", "lead_unit", _WORK, STAYS, "item.contacted", ContactInput, _contact),
    A("request_extension", "lead_unit", _WORK, STAYS, "item.extension_requested",
      ExtensionRequestInput, _extension_request, guard=_no_extension_pending),
    A("approve_extension", "secretariat", _WORK, STAYS, "item.extension_approved",
      ExtensionDecisionInput, _extension_decision, guard=_extension_pending),
    A("refuse_extension", "secretariat", _WORK, STAYS, "item.extension_refused",
      OptionalReasonInput, _optional_reason, guard=_extension_pending),
    A("reply", "lead_unit", _WORK, (REPLIED,), "item.replied", ReplyInput, _reply, guard=_co_opinions_in),
    # the deputies' feedback on the handling: a recorded contact confirmed or disputed, a
    # follow-up question (追问) the lead unit must answer
    A("confirm_contact", "deputy", _FEEDBACK, STAYS, "item.contact_confirmed",
      ContactFeedbackInput, _contact_feedback, guard=_contact_waiting, quiet=True),
    A("dispute_contact", "deputy", _FEEDBACK, STAYS, "item.contact_disputed",
      ContactDisputeInput, _contact_dispute, guard=_contact_waiting, quiet=True),
    A("ask", "deputy", _FEEDBACK, STAYS, "item.asked", QuestionInput, _question,
      guard=_no_question_of_mine),
    A("answer", "lead_unit", _FEEDBACK, STAYS, "item.answered", AnswerInput, _answer,
      guard=_question_open, quiet=True),
    # the deputies evaluate the reply
    A("evaluate", "deputy", (REPLIED,), (REPLIED, CLOSED, REHANDLING), "item.evaluated",
      EvaluationInput, _evaluation, guard=_not_evaluated, resolver=_after_evaluation),
    # the conversation about the item between its deputies, units and the secretariat,
    # while it is open; every message on its timeline and in the log
    A("message", "party", tuple(s for s in STATES if s not in FINAL), STAYS, "item.message",
      TextInput, _text),
    # the evaluation deadline passed without every deputy's evaluation
    A("close_unevaluated", "secretariat", (REPLIED,), (CLOSED, REHANDLING),
      "item.closed_unevaluated", NoteInput, _note, guard=_evaluation_overdue,
      resolver=_after_evaluation_deadline),
)  # fmt: skip
"""Every action, declared once; the views below are derived from it."""

ACTION: dict[str, Action] = {a.name: a for a in REGISTRY}


def _row(a: Action, state: str | None) -> Transition:
    stays = () if state is None else (state,)
    return Transition(state, a.name, a.to or stays, a.by, a.guard, a.resolver, a.quiet)


TABLE: tuple[Transition, ...] = tuple(_row(a, s) for a in REGISTRY for s in a.from_states)
"""State × action → next states, and who acts: one row per state an action is taken in."""
MESSAGE_KIND: dict[str, str] = {a.name: a.kind for a in REGISTRY}
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
    why = refusal(t, facts, me)
    if why is not None:
        raise Conflict(
            f"item is {shown}; cannot {action.replace('_', ' ')}: {why.text}",
            allowed=allowed(state, facts),
            state=state,
        )
    return t


def refusal(t: Transition, facts: Facts, me: int | None) -> Reason | None:
    """Why the caller ``me`` may not take transition ``t`` now (None: they may)."""
    return None if t.guard is None else t.guard(facts, me)


def options(
    state: str, relations: frozenset[str], facts: Facts, me: int | None
) -> list[dict[str, object]]:
    """The actions of an existing item in play for a caller: each one the caller's
    relations make theirs and the item's state offers, in table order, with
    ``allowed`` and, when refused by a guard, its ``reason`` (a ``quiet`` one refused is
    left out). Decided exactly as :func:`check` decides: an action is listed allowed iff
    ``check`` accepts it."""
    out: list[dict[str, object]] = []
    for action in ACTIONS:
        t = _INDEX.get((state, action))
        if t is None or t.by not in relations:
            continue
        why = refusal(t, facts, me)
        if why is not None and t.quiet:
            continue
        out.append(
            {"name": action, "allowed": True}
            if why is None
            else {"name": action, "allowed": False, "reason": why.as_dict()}
        )
    return out

"""The item lifecycle table as pure logic: who may act, when, and where each action leads."""

from __future__ import annotations

import pytest

from hub.errors import Conflict, Forbidden
from hub.session import lifecycle as lc
from hub.session.lifecycle import Facts, allowed, check

UNIT = frozenset({"lead_unit"})
SEC = frozenset({"secretariat"})
DEP = frozenset({"deputy"})


def test_every_action_has_one_actor_and_valid_states() -> None:
    """Each action is taken by the same actor in every state, and leads to known states."""
    for t in lc.TABLE:
        assert t.by in lc.ACTORS
        assert t.by == lc.BY[t.action]
        assert t.state is None or t.state in lc.STATES
        assert t.to and all(s in lc.STATES for s in t.to)
        assert (len(t.to) > 1) == (t.resolver is not None), t
    pairs = [(t.state, t.action) for t in lc.TABLE]
    assert len(pairs) == len(set(pairs))


def test_final_states_allow_nothing() -> None:
    """closed and not_accepted are final: no action leaves them."""
    for s in lc.FINAL:
        assert allowed(s, Facts(deputies=frozenset({1}))) == []
    assert {t.state for t in lc.TABLE} >= set(lc.STATES) - lc.FINAL


def test_main_path_from_hand_over_to_closed() -> None:
    """hand_over → sign → reply → evaluate by the last deputy → closed."""
    assert check(None, "hand_over", SEC, Facts(), 9).resolve(Facts()) == lc.ASSIGNED
    assert check(lc.ASSIGNED, "sign", UNIT, Facts(), 1).resolve(Facts()) == lc.IN_PROGRESS
    assert check(lc.IN_PROGRESS, "reply", UNIT, Facts(), 1).resolve(Facts()) == lc.REPLIED
    before = Facts(deputies=frozenset({5, 6}), evaluated=frozenset({5}))
    t = check(lc.REPLIED, "evaluate", DEP, before, 6)
    assert t.resolve(Facts(deputies=before.deputies, evaluated=frozenset({5, 6}))) == lc.CLOSED


def test_evaluation_waits_for_every_deputy_then_rehandles_if_any_unsatisfied() -> None:
    """An evaluation keeps the item replied until all deputies have evaluated; then one
    unsatisfied rating sends it to re-handling, from where a reply is possible again."""
    t = check(lc.REPLIED, "evaluate", DEP, Facts(deputies=frozenset({5, 6})), 5)
    partial = Facts(deputies=frozenset({5, 6}), evaluated=frozenset({5}), unsatisfied=True)
    assert t.resolve(partial) == lc.REPLIED
    done = Facts(deputies=frozenset({5, 6}), evaluated=frozenset({5, 6}), unsatisfied=True)
    assert t.resolve(done) == lc.REHANDLING
    assert allowed(lc.REHANDLING, Facts()) == [
        "contact",
        "request_extension",
        "reply",
        "message",
    ]


def test_a_deputy_evaluates_once_per_round() -> None:
    """A second evaluation by the same deputy is a conflict naming what is still allowed."""
    f = Facts(deputies=frozenset({5, 6}), evaluated=frozenset({5}))
    with pytest.raises(Conflict) as e:
        check(lc.REPLIED, "evaluate", DEP, f, 5)
    assert e.value.extra["allowed"] == ["ask", "evaluate", "message"]  # deputy 6 may evaluate
    assert "already evaluated" in e.value.message


def test_wrong_actor_is_forbidden_in_any_state() -> None:
    """A unit never approves an extension, a deputy never signs, the secretariat never
    evaluates — whatever the state."""
    for state in lc.STATES:
        with pytest.raises(Forbidden):
            check(state, "approve_extension", UNIT, Facts(), 1)
        with pytest.raises(Forbidden):
            check(state, "sign", DEP | frozenset({"co_unit"}), Facts(), 1)
        with pytest.raises(Forbidden):
            check(state, "evaluate", SEC, Facts(), 1)


def test_wrong_state_is_a_conflict_listing_allowed_actions() -> None:
    """Signing an item in progress is refused with the actions possible instead."""
    with pytest.raises(Conflict) as e:
        check(lc.IN_PROGRESS, "sign", UNIT, Facts(extension_pending=True), 1)
    assert e.value.extra["allowed"] == [
        "contact",
        "approve_extension",
        "refuse_extension",
        "reply",
        "message",
    ]
    assert e.value.extra["state"] == lc.IN_PROGRESS


def test_reply_needs_every_co_unit_opinion_in_the_first_round() -> None:
    """The lead cannot reply while a co-unit's opinion is missing; co_opinion is allowed
    to the missing co-unit only."""
    f = Facts(co_opinions_missing=frozenset({7}))
    with pytest.raises(Conflict) as e:
        check(lc.IN_PROGRESS, "reply", UNIT, f, 1)
    assert "co-unit(s) 7" in e.value.message
    check(lc.IN_PROGRESS, "co_opinion", frozenset({"co_unit"}), f, 7)
    with pytest.raises(Conflict):
        check(lc.IN_PROGRESS, "co_opinion", frozenset({"co_unit"}), f, 8)
    assert check(lc.IN_PROGRESS, "reply", UNIT, Facts(), 1).to == (lc.REPLIED,)


def test_one_extension_request_at_a_time() -> None:
    """request_extension needs none pending; approve and refuse need one."""
    with pytest.raises(Conflict):
        check(lc.IN_PROGRESS, "request_extension", UNIT, Facts(extension_pending=True), 1)
    with pytest.raises(Conflict):
        check(lc.REHANDLING, "approve_extension", SEC, Facts(), None)
    check(lc.REHANDLING, "refuse_extension", SEC, Facts(extension_pending=True), None)


def test_suggestion_review_phase() -> None:
    """submit waits for co-signers; the last answer makes it submitted; review accepts or
    not; an accepted suggestion is handed over like a commit-to-do item."""
    author = frozenset({"author"})
    t = check(None, "submit", author, Facts(), 1)
    assert t.resolve(Facts(cosigners_pending=frozenset({2}))) == lc.COSIGNING
    assert t.resolve(Facts()) == lc.SUBMITTED
    cos = frozenset({"cosigner"})
    t = check(lc.COSIGNING, "cosign", cos, Facts(cosigners_pending=frozenset({2, 3})), 2)
    assert t.resolve(Facts(cosigners_pending=frozenset({3}))) == lc.COSIGNING
    with pytest.raises(Conflict):
        check(lc.COSIGNING, "decline", cos, Facts(cosigners_pending=frozenset({3})), 2)
    with pytest.raises(Conflict):
        check(lc.COSIGNING, "accept", SEC, Facts(cosigners_pending=frozenset({3})), None)
    assert check(lc.SUBMITTED, "not_accept", SEC, Facts(), None).to == (lc.NOT_ACCEPTED,)
    assert check(lc.ACCEPTED, "hand_over", SEC, Facts(), None).to == (lc.ASSIGNED,)
    with pytest.raises(Forbidden):
        check(lc.SUBMITTED, "accept", author, Facts(), 1)

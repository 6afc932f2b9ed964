"""Every kind the hub appends and every duty-points event has a label in every language of
the web client: the archive and the performance file show labels, never raw codes."""

from __future__ import annotations

from hub.supervision.points import EVENTS
from tests.session.test_kinds import appended_kinds
from tests.test_error_texts import tables

OWN = {"kind.raw"}  # the label of a kind the hub does not append (a raw publish)


def test_every_appended_kind_has_a_label_in_every_language() -> None:
    """`kind.<kind>` for each kind a workflow appends (read from the source), in the zh-CN
    and the English table; and no label of a kind nothing appends any more."""
    wanted = {f"kind.{k}" for k in appended_kinds()}
    for name, keys in tables().items():
        assert wanted <= keys, f"{name} lacks {sorted(wanted - keys)}"
        stale = {k for k in keys if k.startswith("kind.")} - wanted - OWN
        assert not stale, f"{name} labels kinds nothing appends: {sorted(stale)}"


def test_every_points_event_has_a_label_in_every_language() -> None:
    """`points.<event>` for each event of hub/supervision/points.py EVENTS (the rules'
    events, the file's and the ranking's breakdown)."""
    wanted = {f"points.{e}" for e in EVENTS}
    for name, keys in tables().items():
        assert wanted <= keys, f"{name} lacks {sorted(wanted - keys)}"

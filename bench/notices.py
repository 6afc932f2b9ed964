"""The benchmark notice: a ~300-byte JSON body carrying its id and send time."""

from __future__ import annotations

from typing import Any

import orjson

_TEXT = (
    "The plenary session resumes at 14:30 in the Great Hall. Deputies are asked to be "
    "seated ten minutes early; the agenda item on the draft budget report follows the "
    "vote on the "
)


def notice_body(nid: int, sent_ns: int) -> dict[str, Any]:
    """`nid` identifies the notice in the benchmark, `t` is time.monotonic_ns() at send."""
    return {
        "nid": nid,
        "t": sent_ns,
        "title": "Plenary session: change of time",
        "text": _TEXT,
        "meeting": 1,
    }


BODY_BYTES = len(orjson.dumps(notice_body(10**6, 10**18)))

"""hub.loops: a background loop outlives every failure of its step."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from hub.errors import Unavailable
from hub.loops import MAX_BACKOFF, backoff, run_forever
from tests.utils import TIMEOUT


async def test_failing_step_is_logged_and_run_again(caplog: pytest.LogCaptureFixture) -> None:
    """A step that raises a bug, then `unavailable`, is logged each time (the bug with its
    traceback) and run again; the loop ends only when its task is cancelled."""
    calls = 0
    again = asyncio.Event()

    async def step() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("a bug")
        if calls == 2:
            raise Unavailable("the database is unavailable")
        if calls == 4:
            again.set()

    caplog.set_level(logging.WARNING, logger="hub.loops")
    task = asyncio.create_task(run_forever("the step", step, 0.001))
    await asyncio.wait_for(again.wait(), TIMEOUT)
    assert not task.done()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert task.cancelled()
    bug, down = caplog.records[:2]
    assert (bug.levelno, bug.exc_info is not None) == (logging.ERROR, True)
    assert (down.levelno, "the database is unavailable" in down.getMessage()) == (
        logging.WARNING,
        True,
    )


def test_backoff_doubles_with_jitter_up_to_a_cap() -> None:
    """The wait after n failures in a row doubles from the step's interval, with jitter
    (half to all of it), and never exceeds MAX_BACKOFF."""
    for _ in range(100):
        assert 0.5 <= backoff(1, 1.0) <= 1.0
        assert 2.0 <= backoff(3, 1.0) <= 4.0
        assert MAX_BACKOFF / 2 <= backoff(50, 1.0) <= MAX_BACKOFF

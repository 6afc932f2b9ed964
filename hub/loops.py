"""Background loops that outlive every failure of the step they repeat.

Every periodic part of the hub (the head check, the account check, presence, the deadline
scan, the notice tally, the receipt writer) runs through :func:`run_forever`: a step that
raises is logged and tried again after a back-off that doubles up to :data:`MAX_BACKOFF`
(with jitter, so nodes that failed together do not retry together), and the loop ends only
when its task is cancelled. A database that refuses, restarts or hangs therefore delays
the work; it never stops it for the life of the process.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

from hub.errors import HubError

log = logging.getLogger("hub.loops")

MIN_BACKOFF = 0.1  # seconds before the first retry of a step with no interval of its own
MAX_BACKOFF = 10.0


def backoff(failures: int, interval: float) -> float:
    """Seconds to wait after ``failures`` failures in a row (at least 1) of a step that
    normally runs every ``interval`` seconds: doubling, capped, with jitter."""
    base: float = max(interval, MIN_BACKOFF) * 2.0 ** min(failures - 1, 16)
    return min(MAX_BACKOFF, base) * random.uniform(0.5, 1.0)


async def run_forever(
    name: str, step: Callable[[], Awaitable[object]], interval: float = 0.0
) -> None:
    """Await ``step()`` every ``interval`` seconds (after sleeping first), until cancelled.

    A step that waits for its own wake-up (an event) passes ``interval=0``. An exception
    from the step is logged (a :class:`HubError`, such as ``unavailable``, as one line; any
    other with its traceback) and the step runs again after :func:`backoff`.
    """
    failures = 0
    delay = interval
    while True:
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            await step()
        except HubError as e:
            failures += 1
            delay = backoff(failures, interval)
            log.warning("%s failed: %s (retrying in %.1f s)", name, e.message, delay)
        except Exception:
            failures += 1
            delay = backoff(failures, interval)
            log.exception("%s failed (retrying in %.1f s)", name, delay)
        else:
            failures = 0
            delay = interval

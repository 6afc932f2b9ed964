"""About a minute of steady load with connections churning (bench/soak.py runs longer)."""

from __future__ import annotations

import pytest

from bench.soak import SoakConfig, run_soak
from tests.faults.conftest import StartNode
from tests.utils.factories import make_world


@pytest.mark.slow
async def test_soak_a_minute_memory_flat_no_errors_no_loss(
    start_node: StartNode, pg_url: str
) -> None:
    """55 s of notices at 20/s to 20 deputies who acknowledge and read them, send opinions
    to the desk and drop their connections every few seconds to resume with `since`,
    while short connections come and go: every deputy ends with every notice once and in
    order, every receipt is confirmed, the desk holds every opinion, no error is answered,
    and the hub's resident memory after warm-up stays flat."""
    w = await make_world(pg_url, deputies=20)
    node = await start_node()
    assert node.proc is not None
    cfg = SoakConfig(duration=55, warmup=15, rate=20)
    res = await run_soak(
        node.ws_url,
        node.proc.pid,
        f"meeting:{w.meeting}",
        f"desk:{w.meeting}",
        w.tok(w.secretariat),
        [w.tok(d) for d in w.deputies],
        cfg,
    )
    assert res.problems() == [], res.summary()
    assert res.notices >= 0.75 * cfg.duration * cfg.rate
    assert res.deliveries == res.notices * len(w.deputies)
    assert res.reconnects > 50 and res.short_connections > 500 and res.opinions > 100

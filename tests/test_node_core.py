"""hub.node driven in memory: the feed's seam, gap fills, head checks, replays and linger,
with a fake log, broker and sockets (no server, no database)."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hub.node as node_mod
from hub.connection import Connection
from hub.errors import Close, Unavailable
from hub.node import Node, Subscription
from hub.store.log import StoredMessage
from tests.utils.fakes import (
    CHANNEL,
    FakeBroker,
    FakeLog,
    FakeSocket,
    connection,
    deliver,
    make_node,
    settle,
    until,
)

RECENT = 4
BATCH = 3


@pytest.fixture(autouse=True)
def small_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    """A few frames in memory and small log reads, so every path runs with little data."""
    monkeypatch.setattr(node_mod, "RECENT", RECENT)
    monkeypatch.setattr(node_mod, "REPLAY_BATCH", BATCH)


async def join(
    node: Node, since: int | None = None, conn: Connection | None = None
) -> tuple[Subscription, int, FakeSocket]:
    """Subscribe as ``hub.ws`` does: register, then start the replay."""
    sock = FakeSocket()
    if conn is None:
        conn, sock = connection(sock)
    sub, head = await node.subscribe(conn, CHANNEL, since)
    node.start_replay(sub)
    return sub, head, sock


def publish(log: FakeLog, node: Node, n: int = 1) -> list[StoredMessage]:
    """Another node stores ``n`` messages and the broker carries each to ``node``."""
    msgs = log.add(n=n)
    for m in msgs:
        deliver(node, m)
    return msgs


async def test_live_messages_reach_every_subscriber_once_in_order() -> None:
    """Messages heard after subscribing reach each subscriber once, in order, after the
    head it was told."""
    log = FakeLog()
    log.add(n=2)
    node = make_node(log)
    _, head_a, a = await join(node)
    publish(log, node, 3)
    _, head_b, b = await join(node)
    publish(log, node, 2)
    await settle()
    assert (head_a, head_b) == (2, 5)
    assert a.seqs() == [3, 4, 5, 6, 7]
    assert b.seqs() == [6, 7]


async def test_replay_from_the_log_while_live_messages_arrive_has_no_gap_or_duplicate() -> None:
    """A subscription replaying from the log while live messages move the feed on gets
    every seq after its since exactly once, in order, across the seam."""
    log = FakeLog()
    log.add(n=10)
    node = make_node(log)
    _, _, keeper = await join(node)
    log.hold()
    sub, _, late = await join(node, since=0)
    for _ in range(6):
        await until(lambda: log.waiting.is_set() or not sub.replaying, "a held replay read")
        if not sub.replaying:
            break
        publish(log, node, 2)  # live while the replay's read is in flight
        log.release()
        log.hold()
    log.release()
    await until(lambda: not sub.replaying, "the replay to end")
    publish(log, node, 2)
    await settle()
    total = len(log.channels[CHANNEL])
    assert late.seqs() == list(range(1, total + 1))
    assert keeper.seqs() == list(range(11, total + 1))
    afters = [after for _, after, _ in log.reads]
    assert len(afters) >= 3  # the replay did read the log, in several batches
    assert afters == sorted(set(afters))  # each stretch once: live frames never restart it


async def test_broker_gap_is_filled_from_the_log() -> None:
    """A seq jump (the broker lost messages) is filled from the log before going on; a
    message heard while the fill is reading waits for it."""
    log = FakeLog()
    log.add(n=2)
    node = make_node(log)
    _, _, sock = await join(node)
    log.add(n=2)  # 3 and 4: lost by the broker
    log.hold()
    publish(log, node)  # 5 reveals the gap
    await until(log.waiting.is_set, "the gap fill's read")
    publish(log, node)  # 6, heard during the fill
    assert sock.seqs() == []
    log.release()
    await until(lambda: len(sock.seqs()) == 4, "the fill")
    await settle()
    assert sock.seqs() == [3, 4, 5, 6]
    assert node.metrics.gap_fills._value.get() >= 1


async def test_duplicates_from_the_broker_are_dropped() -> None:
    """A seq heard again (or an older one) reaches no subscriber and does not enter the
    frames kept for resuming clients."""
    log = FakeLog()
    node = make_node(log)
    _, _, sock = await join(node)
    m1, m2, m3 = publish(log, node, 3)
    for m in (m3, m2, m3, m1):
        deliver(node, m)
    publish(log, node)
    await settle()
    assert sock.seqs() == [1, 2, 3, 4]
    _, _, resumed = await join(node, since=1)
    await settle()
    assert resumed.seqs() == [2, 3, 4]
    assert log.reads == []


async def test_head_check_catches_the_last_message_of_a_burst() -> None:
    """Messages the broker lost at the end of a burst (nothing after them reveals a gap)
    are delivered by the head check, and by the broker's reconnect callback."""
    log = FakeLog()
    node = make_node(log)
    _, _, sock = await join(node)
    publish(log, node, 2)
    log.add(n=2)  # 3 and 4: lost, and nothing follows
    await settle()
    assert sock.seqs() == [1, 2]
    await node.catch_up_all()
    await until(lambda: len(sock.seqs()) == 4, "the head check's fill")
    log.add()  # 5: lost while the broker was away
    broker = node.broker
    assert isinstance(broker, FakeBroker)
    await node.start()
    try:
        await broker.on_reconnect()
        await until(lambda: len(sock.seqs()) == 5, "the fill after the reconnect")
    finally:
        await node.stop()
    assert sock.seqs() == [1, 2, 3, 4, 5]


async def test_periodic_head_check_runs_by_itself() -> None:
    """A started node checks its channels' heads every ``catchup`` seconds."""
    log = FakeLog()
    node = make_node(log, catchup=0.01)
    _, _, sock = await join(node)
    await node.start()
    try:
        log.add(n=2)  # the broker carried neither
        await until(lambda: sock.seqs() == [1, 2], "the periodic head check")
    finally:
        await node.stop()


@pytest.mark.parametrize(
    ("since", "reads"), [(10 - RECENT, []), (10 - RECENT - 1, [(CHANNEL, 10 - RECENT - 1, 1)])]
)
async def test_resume_at_the_recent_boundary(since: int, reads: list[object]) -> None:
    """On a node that has just started serving the channel, resuming from the oldest seq
    kept in memory reads nothing from the log; one seq older reads exactly that one
    message from the log, and the rest from memory."""
    log = FakeLog()
    log.add(n=10)
    node = make_node(log)
    _, head, sock = await join(node, since=since)
    await settle()
    assert head == 10
    assert sock.seqs() == list(range(since + 1, 11))
    assert log.reads == reads
    assert log.tails == 1


@pytest.mark.parametrize("error", [Unavailable("the database is unavailable"), RuntimeError("bug")])
async def test_replay_failure_closes_1011(error: Exception) -> None:
    """A replay that cannot read the log, for any reason, closes the socket with 1011 and
    sends nothing from the failed read; other subscribers stay served."""
    log = FakeLog()
    log.add(n=10)
    node = make_node(log)
    _, _, keeper = await join(node)
    log.fail = error
    _, _, sock = await join(node, since=0)
    await until(lambda: sock.closes() == [Close.INTERNAL], "the close")
    assert sock.seqs() == []
    log.fail = None
    publish(log, node)
    await settle()
    assert keeper.seqs() == [11]


async def test_subscribing_again_during_a_replay_sends_each_seq_once() -> None:
    """Subscribing again on the same connection while the first replay's read is in
    flight: the old replay sends nothing more; the client gets each seq after the new
    since once, in order."""
    log = FakeLog()
    log.add(n=10)
    node = make_node(log)
    conn, sock = connection()
    log.hold()
    first, _, _ = await join(node, since=0, conn=conn)
    await until(log.waiting.is_set, "the first replay's read")
    node.unsubscribe(first)  # what hub.ws does before subscribing again
    second, _, _ = await join(node, since=3, conn=conn)
    publish(log, node)
    log.release()
    await until(lambda: not second.replaying, "the second replay")
    publish(log, node)
    await settle()
    assert sock.seqs() == list(range(4, 13))
    assert first.replay is not None and first.replay.done()


async def test_unsubscribe_during_a_replay_stops_it() -> None:
    """Unsubscribing while the replay's read is in flight: nothing more reaches the
    client, live or replayed."""
    log = FakeLog()
    log.add(n=10)
    node = make_node(log)
    log.hold()
    sub, _, sock = await join(node, since=0)
    await until(log.waiting.is_set, "the replay's read")
    node.unsubscribe(sub)
    log.release()
    publish(log, node)
    await settle()
    assert sock.seqs() == []
    assert sub.replay is not None and sub.replay.done()


async def test_channel_lingers_then_is_unserved() -> None:
    """After its last subscriber leaves a channel stays served for ``linger`` seconds
    (still hearing the broker), then the node stops serving it and unsubscribes."""
    log = FakeLog()
    broker = FakeBroker()
    node = make_node(log, broker)
    node.linger = 0.05
    sub, _, _ = await join(node)
    node.unsubscribe(sub)
    assert CHANNEL in node.feeds
    publish(log, node)
    assert node.feeds[CHANNEL].head == 1  # still following the channel
    await until(lambda: CHANNEL not in node.feeds, "the channel to be unserved")
    await until(lambda: CHANNEL not in broker.subscribed, "the broker unsubscribe")
    assert broker.calls == [("subscribe", CHANNEL), ("unsubscribe", CHANNEL)]


async def test_resubscribing_within_the_linger_keeps_the_feed_and_restarts_the_linger() -> None:
    """A subscriber back within the linger finds the feed as it was (no log read), and
    when it leaves again the channel stays served a full linger from then."""
    log = FakeLog()
    log.add(n=3)
    broker = FakeBroker()
    node = make_node(log, broker)
    node.linger = 30.0
    loop = asyncio.get_running_loop()
    sub, _, _ = await join(node)
    feed = node.feeds[CHANNEL]
    node.unsubscribe(sub)
    await asyncio.sleep(0.01)
    again, head, sock = await join(node, since=1)
    await settle()
    assert node.feeds[CHANNEL] is feed
    assert (head, sock.seqs(), log.tails, log.reads) == (3, [2, 3], 1, [])
    left = loop.time()
    node.unsubscribe(again)
    assert feed.linger is not None and feed.linger.when() >= left + node.linger
    await node.stop()
    assert broker.calls == [("subscribe", CHANNEL)]


async def test_resubscribing_while_the_broker_unsubscribe_is_in_flight() -> None:
    """A channel subscribed again while the node's broker unsubscribe is in flight ends
    up subscribed at the broker, and what was published meanwhile is caught up."""
    log = FakeLog()
    broker = FakeBroker()
    node = make_node(log, broker)
    node.linger = 0.0
    sub, _, _ = await join(node)
    broker.unsubscribe_open.clear()
    node.unsubscribe(sub)
    await until(broker.unsubscribing.is_set, "the broker unsubscribe")
    _, _, sock = await join(node)
    log.add(n=2)  # the broker is not carrying the channel now
    broker.unsubscribe_open.set()
    await until(lambda: sock.seqs() == [1, 2], "the catch-up after resubscribing")
    assert CHANNEL in broker.subscribed
    assert broker.calls[-1] == ("subscribe", CHANNEL)


async def test_client_ahead_of_the_node_gets_only_later_seqs() -> None:
    """A client resuming from a seq this node has not fanned out yet (it came from a
    faster node) is told the log's head and gets only the seqs after its since."""
    log = FakeLog()
    log.add(n=3)
    node = make_node(log)
    await join(node)
    log.add(n=2)  # 4 and 5: not heard here yet
    _, head, sock = await join(node, since=5)
    await settle()  # nothing to replay: live at once
    assert head == 5
    for m in log.channels[CHANNEL][3:]:
        deliver(node, m)
    publish(log, node, 2)
    await settle()
    assert sock.seqs() == [6, 7]


async def test_slow_subscriber_is_closed_4429_and_the_others_are_served() -> None:
    """A subscriber whose queue overflows during fan-out is closed with 4429; the other
    subscribers get every message."""
    log = FakeLog()
    node = make_node(log)
    slow_conn, slow = connection(max_queue=2)
    slow.writable = False
    slow.hold()
    await join(node, conn=slow_conn)
    _, _, fast = await join(node)
    await settle()  # both live
    publish(log, node, 5)
    await until(lambda: slow.closes() == [Close.TOO_SLOW], "the 4429 close")
    assert fast.seqs() == [1, 2, 3, 4, 5]
    assert slow.seqs() == []


async def test_replay_to_a_slow_client_waits_for_room_and_never_overflows() -> None:
    """A long replay to a client whose socket is slow fills its queue only as it drains:
    all of history arrives in order and the client is not closed."""
    log = FakeLog()
    log.add(n=40)
    node = make_node(log)
    conn, sock = connection(max_queue=4, direct=False)
    sock.hold()
    sub, _, _ = await join(node, since=0, conn=conn)

    def drip() -> bool:
        assert len(conn.queue) <= conn.max_queue
        sock.allow(1)
        return not sub.replaying

    await until(drip, "the replay to reach the live stream")
    sock.release()
    await until(lambda: len(sock.seqs()) == 40, "the replay")
    assert sock.seqs() == list(range(1, 41))
    assert sock.closes() == []


# -- a property over random interleavings ----------------------------------------------

Op = tuple[str, int]
ops = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(["deliver", "drop", "twice", "late"]), st.just(0)),
        st.tuples(st.just("subscribe"), st.integers(-1, 30)),  # -1: without since
        st.tuples(st.sampled_from(["flush", "check", "run"]), st.just(0)),
    ),
    max_size=40,
)


async def _interleave(script: list[Op]) -> None:
    log = FakeLog()
    node = make_node(log)
    late: list[StoredMessage] = []
    subs: list[tuple[int, FakeSocket]] = []
    for op, arg in script:
        if op in ("deliver", "drop", "twice", "late"):
            (m,) = log.add()
            if op in ("deliver", "twice"):
                deliver(node, m)
            if op == "twice":
                deliver(node, m)
            if op == "late":
                late.append(m)
        elif op == "subscribe":
            since = None if arg < 0 else min(arg, len(log.channels[CHANNEL]))
            _, head, sock = await join(node, since=since)
            subs.append((head if since is None else since, sock))
        elif op == "flush":
            for m in reversed(late):  # out of order, too
                deliver(node, m)
            late.clear()
        elif op == "check":
            await node.catch_up_all()
        else:
            await asyncio.sleep(0)
    for m in late:
        deliver(node, m)
    await node.catch_up_all()
    total = len(log.channels[CHANNEL])
    await until(lambda: all(s.seqs()[-1:] in ([total], []) for _, s in subs), "delivery")
    await until(lambda: all(len(s.seqs()) >= total - start for start, s in subs), "delivery")
    await settle()
    await node.stop()
    for start, sock in subs:
        assert sock.seqs() == list(range(start + 1, total + 1))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=ops)
def test_any_interleaving_gives_every_subscription_each_later_seq_once(script: list[Op]) -> None:
    """Whatever the broker does (deliver, lose, duplicate, delay and reorder) and whenever
    clients subscribe (with or without since), each subscription ends with exactly the
    seqs after its start, once, in order."""
    asyncio.run(_interleave(script))

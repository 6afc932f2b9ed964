"""A node notices what its broker lost and fills it from the log."""

from __future__ import annotations

import asyncio

from hub.broker.memory import MemoryBroker
from hub.config import Settings
from tests.utils.client import Client
from tests.utils.factories import World
from tests.utils.servers import running_hub


class LossyBroker(MemoryBroker):
    """An in-process broker that loses the publishes whose seq is listed."""

    def __init__(self, lose: set[int]) -> None:
        super().__init__()
        self.lose = lose

    async def publish(self, channel: str, seq: int, frame: str, stored_at: float) -> None:
        if seq not in self.lose:
            await super().publish(channel, seq, frame, stored_at)


async def test_lost_broker_messages_are_filled_from_the_log(
    settings: Settings, world: World
) -> None:
    """Messages the broker lost — in the middle of a burst and the very last one — reach a
    subscriber on the other node anyway, in order, once."""
    bus = LossyBroker(lose={3, 4, 10})
    fast = settings.with_(catchup_interval=0.2)
    async with running_hub(fast, bus) as a, running_hub(fast, bus.attach()) as b:
        ch = f"meeting:{world.meeting}"
        dep = await Client.connect(b.ws_url, world.tok(world.deputies[0]))
        await dep.subscribe(ch)
        sec = await Client.connect(a.ws_url, world.tok(world.secretariat))
        for i in range(10):
            await sec.publish(ch, {"i": i})
        got = await dep.messages(10)
        assert [m["seq"] for m in got] == list(range(1, 11))
        metrics = b.services.metrics
        assert metrics.gap_fills._value.get() >= 1
        assert metrics.catchups._value.get() >= 1


async def test_recent_history_is_served_from_memory_and_older_from_the_log(
    settings: Settings, world: World
) -> None:
    """Resuming from a recent seq reads nothing from the log; from an older one, the log
    fills in up to the frames held in memory; either way 1..N once, in order."""
    from hub.node import RECENT

    async with running_hub(settings.with_(frame_rate=1000.0, frame_burst=1000)) as h:
        ch = f"meeting:{world.meeting}"
        keeper = await Client.connect(h.ws_url, world.tok(world.deputies[0]))
        await keeper.subscribe(ch)
        sec = await Client.connect(h.ws_url, world.tok(world.secretariat))
        total = RECENT + 44
        for i in range(total):
            assert (await sec.publish(ch, {"i": i}))["type"] == "published"
        await keeper.messages(total)
        replayed = h.services.metrics.replayed

        before = replayed._value.get()
        recent = await Client.connect(h.ws_url, world.tok(world.deputies[1]))
        await recent.subscribe(ch, since=total - 10)
        assert [m["seq"] for m in await recent.messages(10)] == list(range(total - 9, total + 1))
        assert replayed._value.get() == before

        old = await Client.connect(h.ws_url, world.tok(world.deputies[2]))
        await old.subscribe(ch, since=0)
        assert [m["seq"] for m in await old.messages(total)] == list(range(1, total + 1))
        assert replayed._value.get() - before == total - RECENT


async def test_a_node_that_just_started_serves_recent_history_from_memory(
    settings: Settings, world: World
) -> None:
    """After a restart the first subscribe loads the channel's last frames in one read, so
    a hall resuming with a recent ``since`` costs no log read per client; an older
    ``since`` still gets everything from the log, once, in order."""
    from hub.node import RECENT

    fast = settings.with_(frame_rate=1000.0, frame_burst=1000)
    ch = f"meeting:{world.meeting}"
    total = RECENT + 20
    async with running_hub(fast) as h:
        sec = await Client.connect(h.ws_url, world.tok(world.secretariat))
        for i in range(total):
            assert (await sec.publish(ch, {"i": i}))["type"] == "published"
    async with running_hub(fast) as h:  # a new process's node: nothing served yet
        replayed = h.services.metrics.replayed
        before = replayed._value.get()
        hall = [await Client.connect(h.ws_url, world.tok(d)) for d in world.deputies[:3]]
        for k, dep in enumerate(hall):
            since = total - 5 * (k + 1)
            await dep.subscribe(ch, since=since)
            got = await dep.messages(total - since)
            assert [m["seq"] for m in got] == list(range(since + 1, total + 1))
        assert replayed._value.get() == before
        old = await Client.connect(h.ws_url, world.tok(world.deputies[3]))
        await old.subscribe(ch, since=0)
        assert [m["seq"] for m in await old.messages(total)] == list(range(1, total + 1))
        assert replayed._value.get() - before == total - RECENT


async def test_a_channel_stays_served_a_while_after_its_last_subscriber(
    settings: Settings, world: World
) -> None:
    """When the last subscriber leaves, the node keeps the channel for a moment (a hall
    reconnecting finds it warm), then lets it go."""
    async with running_hub(settings) as h:
        node = h.services.node
        node.linger = 0.3
        ch = f"meeting:{world.meeting}"
        dep = await Client.connect(h.ws_url, world.tok(world.deputies[0]))
        await dep.subscribe(ch)
        await dep.close()
        for _ in range(100):
            if not node.feeds[ch].subscribers:
                break
            await asyncio.sleep(0.01)
        assert ch in node.feeds
        await asyncio.sleep(0.6)
        assert ch not in node.feeds

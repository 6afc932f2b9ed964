"""A node notices what its broker lost and fills it from the log."""

from __future__ import annotations

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

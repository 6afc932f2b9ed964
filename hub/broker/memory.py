"""In-process broker: every node sharing one instance hears every publish."""

from __future__ import annotations

from collections import defaultdict

from hub.broker import Broker, BrokerState, OnMessage, OnReconnect


class MemoryBroker(Broker):
    def __init__(self) -> None:
        self._started = False
        self._subs: defaultdict[str, dict[int, OnMessage]] = defaultdict(dict)
        self._shared: MemoryBroker = self

    def attach(self) -> MemoryBroker:
        """A broker for another node in this process, wired to the same bus."""
        other = MemoryBroker()
        other._shared = self._shared
        return other

    async def start(self, on_message: OnMessage, on_reconnect: OnReconnect) -> None:
        self._on_message = on_message
        self._started = True

    async def subscribe(self, channel: str) -> None:
        self._shared._subs[channel][id(self)] = self._on_message

    async def unsubscribe(self, channel: str) -> None:
        self._shared._subs[channel].pop(id(self), None)

    async def publish(self, channel: str, seq: int, frame: str, stored_at: float) -> None:
        for cb in list(self._shared._subs.get(channel, {}).values()):
            cb(channel, seq, frame, stored_at)

    async def ping(self) -> bool:
        return True

    @property
    def state(self) -> BrokerState:
        return "listening" if self._started else "stopped"

    async def close(self) -> None:
        self._started = False
        for subs in self._shared._subs.values():
            subs.pop(id(self), None)

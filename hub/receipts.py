"""Delivery (``ack``) and read receipts: checked, batched, stored, then confirmed.

Receipts arrive in storms (every phone acknowledges a notice within a second), so they
are written in batches: each receipt waits in memory for at most ``HUB_RECEIPT_FLUSH``
seconds, one INSERT stores the batch, and only then is each sender told ``receipt``. A
receipt whose batch could not be stored gets an ``unavailable`` error: the client
resends it. None is confirmed and missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from hub.errors import HubError, Internal
from hub.loops import run_forever
from hub.store.log import db_errors
from hub.store.schema import receipts

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from hub.clock import Clock
    from hub.metrics import Metrics

log = logging.getLogger("hub.receipts")

Listener = Callable[[Sequence[dict[str, Any]]], None]
"""Called with each batch of rows (``kind, channel, seq, user_id, ts``) once it is stored;
it runs in the writer's task, so it must only take note (no I/O, no waiting)."""


class ReceiptWriter:
    def __init__(self, engine: AsyncEngine, metrics: Metrics, flush: float, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock
        self.metrics = metrics
        self.flush_interval = flush
        self._batch: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.listeners: list[Listener] = []

    def start(self) -> None:
        self._task = asyncio.create_task(
            run_forever("storing receipts", self._flush_when_woken), name="receipts"
        )

    async def stop(self) -> None:
        """Store what is queued, then stop."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._flush()

    def add(self, kind: str, channel: str, seq: int, user_id: int) -> asyncio.Future[None]:
        """Queue a receipt; the future resolves when it is stored (or fails)."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        row = {"kind": kind, "channel": channel, "seq": seq, "user_id": user_id}
        row["ts"] = self.clock.now()
        self._batch.append((row, fut))
        self._wake.set()
        return fut

    async def _flush_when_woken(self) -> None:
        await self._wake.wait()
        await asyncio.sleep(self.flush_interval)
        self._wake.clear()
        await self._flush()

    async def _flush(self) -> None:
        batch, self._batch = self._batch, []
        if not batch:
            return
        try:
            async with db_errors(), self.engine.begin() as conn:
                await conn.execute(receipts.insert(), [row for row, _ in batch])
        except Exception as e:
            if not isinstance(e, HubError):
                log.exception("storing %d receipts failed", len(batch))
                e = Internal("storing the receipt failed; it has been logged: send it again")
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(e)
            return
        rows = [row for row, _ in batch]
        for listener in self.listeners:
            try:
                listener(rows)
            except Exception:
                log.exception("a receipt listener failed")
        acks = sum(1 for row, _ in batch if row["kind"] == "ack")
        self.metrics.receipts.labels("ack").inc(acks)
        self.metrics.receipts.labels("read").inc(len(batch) - acks)
        for _, fut in batch:
            if not fut.done():
                fut.set_result(None)

"""One client connection: a bounded send queue drained by a single writer task.

Fan-out only appends an already-encoded frame to the queue (no awaiting, no encoding,
no I/O per recipient). If the queue is full the client is too slow to be served
without skipping messages, so it is closed with 4429 and resumes with ``since``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from hub.channels import Principal
from hub.errors import Close

log = logging.getLogger("hub.connection")

SendText = Callable[[str], Awaitable[None]]
CloseFn = Callable[[int, str], Awaitable[None]]


class Connection:
    def __init__(self, send: SendText, close: CloseFn, max_queue: int) -> None:
        self._send = send
        self._close = close
        self.max_queue = max_queue
        self.queue: deque[str] = deque()
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self.principal: Principal | None = None
        self.closed = False
        self.close_code: int | None = None
        self._writer = asyncio.create_task(self._write_loop())
        self._closing: asyncio.Task[None] | None = None

    def enqueue(self, frame: str) -> bool:
        """Queue a frame; False (and the connection closing with 4429) if the queue is full."""
        if self.closed:
            return False
        if len(self.queue) >= self.max_queue:
            self.close_soon(Close.TOO_SLOW, "send queue overflow: reconnect with since")
            return False
        self.queue.append(frame)
        self._drained.clear()
        self._wake.set()
        return True

    async def wait_room(self) -> int:
        """Wait until at least half the queue is free; how many frames fit now (replays
        use it so that history never overflows the queue)."""
        while not self.closed and len(self.queue) > self.max_queue // 2:
            self._drained.clear()
            await self._drained.wait()
        return self.max_queue - len(self.queue)

    async def _write_loop(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                q = self.queue
                while q:
                    await self._send(q.popleft())
                self._drained.set()
        except asyncio.CancelledError:
            raise
        except Exception as e:  # the socket went away; the reader notices and cleans up
            log.debug("writer stopped: %r", e)
            self.closed = True
            self._drained.set()

    def close_soon(self, code: int, reason: str) -> None:
        """Close without waiting (safe to call from fan-out)."""
        if self.closed:
            return
        self.closed = True
        self.close_code = code
        self.queue.clear()
        self._drained.set()
        self._writer.cancel()
        self._closing = asyncio.create_task(self._do_close(code, reason))

    async def close(self, code: int, reason: str, flush: bool = False) -> None:
        """Close; with ``flush`` the queued frames are sent first."""
        if self.closed:
            if self._closing is not None:
                await self._closing
            return
        if flush:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._flushed(), 2.0)
        self.close_soon(code, reason)
        if self._closing is not None:
            await self._closing

    async def _flushed(self) -> None:
        while self.queue and not self.closed:
            await self._drained.wait()

    async def _do_close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await self._close(code, reason)

    async def finish(self) -> None:
        """The handler is ending: let a close started by :meth:`close_soon` go out, then stop."""
        if self._closing is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._closing), 5)
        self.stop()

    def stop(self) -> None:
        """The socket is gone: stop the writer."""
        self.closed = True
        self._writer.cancel()
        self._drained.set()

"""One client connection: a bounded send queue drained by a single writer task.

Fan-out hands each connection an already-encoded frame. When the queue is empty and the
socket can take more (the common case), the frame is written at once, synchronously,
through ``direct`` (see ``hub.server.direct_writer``): no task switch per recipient.
Otherwise it waits in the queue for the writer task, which keeps the order. If the queue
is full the client is too slow to be served without skipping messages, so it is closed
with 4429 and resumes with ``since``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from websockets.frames import Frame as WsFrame
from websockets.frames import Opcode

from hub.auth import Principal
from hub.errors import Close

log = logging.getLogger("hub.connection")

SendText = Callable[[str], Awaitable[None]]
CloseFn = Callable[[int, str], Awaitable[None]]


class Outgoing:
    """One encoded frame for one or many connections; its WebSocket framing (the same
    bytes for every recipient: server frames are not masked) is computed once."""

    __slots__ = ("_wire", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._wire: bytes | None = None

    def wire(self) -> bytes:
        if self._wire is None:
            self._wire = WsFrame(Opcode.TEXT, self.text.encode()).serialize(mask=False)
        return self._wire


DirectWrite = Callable[[Outgoing], bool]
"""Write a frame now if the socket can take it; False if it cannot (write nothing then)."""


class Connection:
    __slots__ = (
        "_close",
        "_closing",
        "_direct",
        "_drained",
        "_send",
        "_writer",
        "close_code",
        "closed",
        "max_queue",
        "principal",
        "queue",
    )

    def __init__(
        self, send: SendText, close: CloseFn, max_queue: int, direct: DirectWrite | None = None
    ) -> None:
        self._send = send
        self._direct = direct
        self._close = close
        self.max_queue = max_queue
        self.queue: deque[Outgoing] = deque()
        # The writer task exists only while frames wait in the queue: an idle connection
        # costs no task.
        self._writer: asyncio.Task[None] | None = None
        # Created only when someone waits for the queue to empty (replays, a flushing
        # close): most connections never need one.
        self._drained: asyncio.Event | None = None
        self.principal: Principal | None = None
        self.closed = False
        self.close_code: int | None = None
        self._closing: asyncio.Task[None] | None = None

    def enqueue(self, frame: str) -> bool:
        """Send a frame meant for this connection only (a reply)."""
        return self.push(Outgoing(frame))

    def push(self, frame: Outgoing) -> bool:
        """Send ``frame`` now or queue it; False (and the connection closing with 4429) if
        the queue is full."""
        if self.closed:
            return False
        if self._writer is None and self._direct is not None:
            try:
                if self._direct(frame):
                    return True
            except Exception as e:  # the socket is going away; the reader cleans up
                log.debug("direct write failed: %r", e)
                self.stop()
                return False
        if len(self.queue) >= self.max_queue:
            self.close_soon(Close.TOO_SLOW, "send queue overflow: reconnect with since")
            return False
        self.queue.append(frame)
        if self._writer is None:
            if self._drained is not None:
                self._drained.clear()
            self._writer = asyncio.create_task(self._write())
        return True

    async def wait_room(self) -> int:
        """Wait until at least half the queue is free; how many frames fit now (replays
        use it so that history never overflows the queue)."""
        while not self.closed and len(self.queue) > self.max_queue // 2:
            await self._wait_drained()
        return self.max_queue - len(self.queue)

    async def _write(self) -> None:
        q = self.queue
        try:
            while q:
                await self._send(q[0].text)
                q.popleft()
        except asyncio.CancelledError:
            raise
        except Exception as e:  # the socket went away; the reader notices and cleans up
            log.debug("writer stopped: %r", e)
            self.closed = True
        finally:
            self._writer = None
            self._set_drained()

    def close_soon(self, code: int, reason: str) -> None:
        """Close without waiting (safe to call from fan-out)."""
        if self.closed:
            return
        self.closed = True
        self.close_code = code
        self.queue.clear()
        self._cancel_writer()
        self._closing = asyncio.create_task(self._do_close(code, reason))

    async def close(self, code: int, reason: str, flush: bool = False) -> None:
        """Close; with ``flush`` the queued frames are sent first."""
        if self.closed:
            if self._closing is not None:
                await self._closing
            return
        if flush:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wait_drained(), 2.0)
        self.close_soon(code, reason)
        if self._closing is not None:
            await self._closing

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
        self._cancel_writer()

    async def _wait_drained(self) -> None:
        if self._writer is None:
            return
        if self._drained is None:
            self._drained = asyncio.Event()
        await self._drained.wait()

    def _set_drained(self) -> None:
        if self._drained is not None:
            self._drained.set()

    def _cancel_writer(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            self._writer = None
        self._set_drained()

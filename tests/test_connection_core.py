"""hub.connection driven in memory: the direct writer, the bounded queue and its writer,
4429 on overflow, waiting for room, and the order of a close (no socket, no server)."""

from __future__ import annotations

import asyncio

from hub.connection import Outgoing
from hub.errors import Close
from tests.utils.fakes import connection, settle, until


def frames(n: int) -> list[Outgoing]:
    return [Outgoing(f'{{"seq":{i}}}') for i in range(1, n + 1)]


async def test_idle_connection_writes_directly_without_a_task() -> None:
    """With an empty queue and a socket that takes it, a frame is written at once, in the
    caller, and no writer task is started."""
    conn, sock = connection()
    assert conn.push(frames(1)[0])
    assert sock.events == [("direct", '{"seq":1}')]
    assert len(conn.queue) == 0
    assert conn._writer is None


async def test_frames_behind_a_paused_socket_keep_their_order() -> None:
    """Once a frame waits in the queue, later frames queue behind it even when the socket
    could take them directly: the client sees them in order."""
    conn, sock = connection()
    one, two, three = frames(3)
    sock.writable = False
    sock.hold()
    assert conn.push(one)
    sock.writable = True
    assert conn.push(two)
    sock.release()
    await until(lambda: len(sock.seqs()) == 2, "the queue to drain")
    assert sock.events == [("send", one.text), ("send", two.text)]
    await settle()
    assert conn.push(three)  # drained: direct again
    assert sock.events[-1] == ("direct", three.text)


async def test_queue_overflow_closes_4429_and_drops_the_queue() -> None:
    """A frame that finds the queue full is refused, the queue is dropped and the
    connection is closed with 4429; nothing more is written."""
    conn, sock = connection(max_queue=3, direct=False)
    sock.hold()
    assert all(conn.push(f) for f in frames(3))
    assert not conn.push(Outgoing('{"seq":4}'))
    assert (conn.closed, conn.close_code, len(conn.queue)) == (True, Close.TOO_SLOW, 0)
    await until(lambda: sock.closes() == [Close.TOO_SLOW], "the close")
    sock.release()
    assert not conn.push(Outgoing('{"seq":5}'))
    await settle()
    assert sock.events == [("close", Close.TOO_SLOW)]


async def test_close_soon_sends_one_close_and_finish_waits_for_it() -> None:
    """``close_soon`` drops the queue and starts one close (a second call adds none);
    ``finish`` returns only after that close went out, then the connection is stopped."""
    conn, sock = connection(direct=False)
    sock.hold()
    for f in frames(2):
        conn.push(f)
    sock.close_open.clear()
    conn.close_soon(Close.TOO_SLOW, "send queue overflow")
    conn.close_soon(Close.INTERNAL, "history unavailable")
    assert not conn.push(Outgoing('{"seq":3}'))
    done = asyncio.create_task(conn.finish())
    await settle()
    assert not done.done()
    assert sock.events == []
    sock.close_open.set()
    await asyncio.wait_for(done, 1)
    assert sock.events == [("close", Close.TOO_SLOW)]
    assert conn.closed and conn.close_code == Close.TOO_SLOW


async def test_close_with_flush_sends_the_queue_first() -> None:
    """``close(flush=True)`` lets the queued frames go out before the close frame."""
    conn, sock = connection(direct=False)
    sock.hold()
    for f in frames(3):
        conn.push(f)
    closing = asyncio.create_task(conn.close(Close.GOING_AWAY, "shutting down", flush=True))
    await settle()
    assert sock.events == []
    sock.release()
    await asyncio.wait_for(closing, 1)
    assert sock.events == [
        ("send", '{"seq":1}'),
        ("send", '{"seq":2}'),
        ("send", '{"seq":3}'),
        ("close", Close.GOING_AWAY),
    ]


async def test_wait_room_waits_for_a_slow_writer() -> None:
    """``wait_room`` returns only when at most half the queue is taken, and says how many
    frames fit then."""
    conn, sock = connection(max_queue=4, direct=False)
    sock.hold()
    for f in frames(4):
        conn.push(f)
    room = asyncio.create_task(conn.wait_room())
    sock.allow(1)
    await settle()
    assert not room.done()
    sock.release()
    assert await asyncio.wait_for(room, 1) == 4
    assert sock.seqs() == [1, 2, 3, 4]


async def test_wait_room_returns_when_the_connection_closes() -> None:
    """A replay waiting for room is not left hanging when the connection is closed."""
    conn, sock = connection(max_queue=4, direct=False)
    sock.hold()
    for f in frames(4):
        conn.push(f)
    room = asyncio.create_task(conn.wait_room())
    await settle()
    conn.close_soon(Close.TOO_SLOW, "send queue overflow")
    await asyncio.wait_for(room, 1)


async def test_failed_send_stops_the_connection() -> None:
    """A send that raises (the socket went away) marks the connection closed: later frames
    are refused and a waiting replay is released."""
    conn, sock = connection(max_queue=4, direct=False)
    sock.fail_send = ConnectionResetError("gone")
    for f in frames(3):
        conn.push(f)
    await asyncio.wait_for(conn.wait_room(), 1)
    assert conn.closed
    assert not conn.push(Outgoing('{"seq":4}'))
    assert sock.events == []


async def test_failed_direct_write_stops_the_connection() -> None:
    """A direct write that raises stops the connection: the frame is refused, nothing is
    queued, and no close is sent (the reader cleans up)."""
    conn, sock = connection()

    def broken(frame: Outgoing) -> bool:
        raise ConnectionResetError("gone")

    conn._direct = broken
    assert not conn.push(frames(1)[0])
    assert conn.closed and len(conn.queue) == 0
    await settle()
    assert sock.events == []

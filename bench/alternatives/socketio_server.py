"""python-socketio broadcast server with a Redis manager, served by uvicorn. Stores nothing.

Events (Socket.IO v5 over Engine.IO v4, websocket transport at /socket.io/):
  "subscribe" {"channel": C}                    -> joins room C; ack {"head": seq}
  "publish"   {"channel": C, "kind": K, "body"}  -> emit "message" {"channel","seq","kind","body"}
                                                   to room C through Redis; ack {"seq": seq}
Every emit goes through Redis pub/sub (AsyncRedisManager), as it would with several nodes.
Sequence numbers live in memory only; nothing is replayed after a reconnect.

Run: python -m bench.alternatives.socketio_server --port 8102 [--redis-channel NAME]
"""

from __future__ import annotations

import argparse
import uuid
from collections import defaultdict
from typing import Any

import socketio
import uvicorn

from bench.common import HOST, raise_nofile


def build_app(redis_url: str, channel: str) -> socketio.ASGIApp:
    manager = socketio.AsyncRedisManager(redis_url, channel=channel)
    sio = socketio.AsyncServer(
        async_mode="asgi", client_manager=manager, cors_allowed_origins="*", logger=False
    )
    heads: defaultdict[str, int] = defaultdict(int)

    @sio.on("subscribe")
    async def subscribe(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        room = str(data["channel"])
        await sio.enter_room(sid, room)
        return {"channel": room, "head": heads[room]}

    @sio.on("publish")
    async def publish(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        room = str(data["channel"])
        heads[room] += 1
        seq = heads[room]
        message = {
            "channel": room,
            "seq": seq,
            "kind": data.get("kind", "notice"),
            "body": data.get("body", {}),
        }
        await sio.emit("message", message, room=room)
        return {"channel": room, "seq": seq}

    return socketio.ASGIApp(sio)


def cli() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--port", type=int, default=8102)
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--redis-channel", default=f"bench-socketio-{uuid.uuid4().hex[:12]}")
    args = ap.parse_args()
    raise_nofile()
    app = build_app(args.redis_url, args.redis_channel)
    print(f"socketio listening on ws://{HOST}:{args.port}/socket.io/", flush=True)
    uvicorn.run(
        app,
        host=HOST,
        port=args.port,
        backlog=4096,
        log_level="warning",
        access_log=False,
        ws_per_message_deflate=False,
        loop="uvloop",
    )


if __name__ == "__main__":
    cli()

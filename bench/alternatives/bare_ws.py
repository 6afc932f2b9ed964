"""Bare `websockets` broadcast server: the Python ceiling for fan-out. Stores nothing.

Protocol (JSON text frames on any path), a subset of the hub's:
  client: {"type":"subscribe","channel":C}  -> {"type":"subscribed","channel":C,"head":seq}
  client: {"type":"publish","channel":C,"kind":K,"body":{...},"ref":R}
          -> every subscriber of C gets {"type":"message","channel":C,"seq":N,"kind":K,"body":...}
          -> the publisher gets {"type":"published","channel":C,"seq":N,"ref":R}
  client: {"type":"ping"} -> {"type":"pong"}
Sequence numbers live in memory only; a client that reconnects misses what was sent meanwhile.

Run: python -m bench.alternatives.bare_ws --port 8101
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections import defaultdict
from typing import Any

import orjson
import uvloop
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed

from bench.common import HOST, raise_nofile

subscribers: defaultdict[str, set[ServerConnection]] = defaultdict(set)
heads: defaultdict[str, int] = defaultdict(int)


def _error(message: str) -> str:
    return orjson.dumps({"type": "error", "code": "bad_request", "message": message}).decode()


async def handler(ws: ServerConnection) -> None:
    mine: set[str] = set()
    try:
        async for raw in ws:
            try:
                frame: dict[str, Any] = orjson.loads(raw)
                kind = frame["type"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                await ws.send(_error("expected a JSON object with a type"))
                continue
            if kind == "publish":
                channel = str(frame["channel"])
                heads[channel] += 1
                seq = heads[channel]
                out = {
                    "type": "message",
                    "channel": channel,
                    "seq": seq,
                    "kind": frame.get("kind", "notice"),
                    "body": frame.get("body", {}),
                }
                broadcast(subscribers[channel], orjson.dumps(out).decode())
                reply = {"type": "published", "channel": channel, "seq": seq}
                if "ref" in frame:
                    reply["ref"] = frame["ref"]
                await ws.send(orjson.dumps(reply).decode())
            elif kind == "subscribe":
                channel = str(frame["channel"])
                subscribers[channel].add(ws)
                mine.add(channel)
                reply = {"type": "subscribed", "channel": channel, "head": heads[channel]}
                await ws.send(orjson.dumps(reply).decode())
            elif kind == "ping":
                await ws.send('{"type":"pong"}')
            else:
                await ws.send(_error(f"unsupported frame type {kind!r}: nothing is stored here"))
    except ConnectionClosed:
        pass
    finally:
        for channel in mine:
            subscribers[channel].discard(ws)


async def main(port: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with serve(handler, HOST, port, compression=None, max_queue=64, backlog=4096):
        print(f"bare_ws listening on ws://{HOST}:{port}/ws", flush=True)
        await stop


def cli() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--port", type=int, default=8101)
    args = ap.parse_args()
    raise_nofile()
    uvloop.run(main(args.port))


if __name__ == "__main__":
    cli()

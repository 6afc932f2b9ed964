"""Real hub servers for tests: in this process (uvicorn on port 0) or as a subprocess."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from hub.app import create_app
from hub.broker import Broker
from hub.config import Settings
from hub.server import HubServer, bind, uvicorn_config
from hub.services import Services
from hub.session.workflows import Workflows
from tests.utils import TIMEOUT


@dataclass
class RunningHub:
    url: str
    ws_url: str
    app: Starlette
    server: HubServer
    task: asyncio.Task[None]

    @property
    def services(self) -> Services:
        s: Services = self.app.state.services
        return s

    @property
    def workflows(self) -> Workflows:
        w: Workflows = self.app.state.workflows
        return w

    async def stop(self) -> None:
        """Stop the server; an error of its shutdown fails the caller (uvicorn only logs
        a failed lifespan shutdown, so that is raised here)."""
        self.server.should_exit = True
        # uvicorn alone may wait 10 s for connections to close; then the hub's own stop.
        await asyncio.wait_for(self.task, TIMEOUT * 3)
        lifespan = getattr(self.server, "lifespan", None)
        if lifespan is not None and (lifespan.shutdown_failed or lifespan.error_occurred):
            raise RuntimeError("the hub's shutdown failed (its log says why)")


async def start_hub(settings: Settings, broker: Broker | None = None, port: int = 0) -> RunningHub:
    app = create_app(settings, broker)
    sock = bind("127.0.0.1", port)
    port = sock.getsockname()[1]
    server = HubServer(uvicorn_config(app, settings, log_level="warning"), app)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(int(TIMEOUT / 0.01)):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    if task.done():
        task.result()
    return RunningHub(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}/ws", app, server, task)


@asynccontextmanager
async def running_hub(
    settings: Settings, broker: Broker | None = None
) -> AsyncIterator[RunningHub]:
    hub = await start_hub(settings, broker)
    try:
        yield hub
    finally:
        await hub.stop()


class HubProcess:
    """``python -m hub serve`` in a child process, with its own environment."""

    def __init__(self, env: dict[str, str], port: int = 0, log: Path | None = None) -> None:
        self.env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.ws_url = ""
        self.log = log

    async def start(self) -> HubProcess:
        # The child writes its log to a file of its own; the parent keeps no handle open.
        log_fd = (
            os.open(self.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            if self.log
            else subprocess.DEVNULL
        )
        cmd = [sys.executable, "-m", "hub", "serve", "--port", str(self.port)]
        try:
            self.proc = subprocess.Popen(
                [*cmd, "--log-level", "warning"],
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=log_fd,
            )
        finally:
            if self.log:
                os.close(log_fd)
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(self.proc.stdout.readline), TIMEOUT)
        m = re.search(rb"http://127\.0\.0\.1:(\d+)/", line)
        if m is None:
            raise RuntimeError(f"hub did not start: {line!r}")
        self.port = int(m.group(1))
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws"
        await wait_ready(self.url)
        return self

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close_files()

    def _close_files(self) -> None:
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()

    def terminate(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    async def wait(self) -> int:
        assert self.proc is not None
        code = await asyncio.wait_for(asyncio.to_thread(self.proc.wait), TIMEOUT * 2)
        self._close_files()
        return code


async def wait_ready(url: str, path: str = "/healthz") -> None:
    import httpx

    async with httpx.AsyncClient() as c:
        for _ in range(int(TIMEOUT / 0.05)):
            with contextlib.suppress(httpx.HTTPError):
                if (await c.get(url + path)).status_code == 200:
                    return
            await asyncio.sleep(0.05)
    raise TimeoutError(f"{url} not ready")


def settings_for(db_url: str, data_dir: Path, **kw: Any) -> Settings:
    return Settings(data_dir=data_dir, database_url=db_url, secret="test-secret", **kw)

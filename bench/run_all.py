"""Run every scenario for the chosen systems and sizes, then write docs/benchmarks.md.

  .venv/bin/python -m bench.run_all                      # every system at N=1000,3000,10000
  .venv/bin/python -m bench.run_all --systems bare_ws,socketio --n 1000
  .venv/bin/python -m bench.run_all --quick --out /tmp/b.md --img /tmp/img   # N=50, ~1 minute

Systems: hub (one node, SQLite + in-process broker), hub_cluster (two nodes on PostgreSQL
and Redis), bare_ws, socketio. Each (system, N) gets fresh server process(es) pinned to
core 0; this process and the load generator's workers are pinned to core 1. Before the systems, the load generator's own
receive ceiling is measured at each N against bench/blast.py (with 1 and 2 worker
processes; the better one is used for the systems unless --workers is given).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench import report
from bench.common import (
    LOADGEN_CORE,
    SERVER_CORE,
    free_port,
    machine_busy_seconds,
    other_load,
    own_seconds,
    pin,
    raise_nofile,
    services_seconds,
    wait_port,
)
from bench.loadgen import Options, Target, run_sync

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable
SYSTEMS = ("hub", "hub_cluster", "bare_ws", "socketio")
# hub_cluster: two hub nodes sharing PostgreSQL and Redis (both must be running)
PG_BASE = os.environ.get("HUB_BENCH_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432")
PG_ADMIN = os.environ.get(
    "HUB_BENCH_PG_ADMIN", PG_BASE.replace("postgresql+asyncpg://", "postgresql://") + "/test"
)
REDIS_URL = os.environ.get("HUB_BENCH_REDIS", "redis://127.0.0.1:6379/0")
# "0": never start a redis-server (the test suite shares one it must not shadow or stop).
START_REDIS = os.environ.get("HUB_BENCH_START_REDIS", "1") != "0"
QUIET = 0.2  # cores other processes may use while a run counts as undisturbed
PACKAGES = (
    "session-hub",
    "websockets",
    "python-socketio",
    "python-engineio",
    "uvicorn",
    "starlette",
    "uvloop",
    "redis",
    "orjson",
    "SQLAlchemy",
    "aiosqlite",
    "matplotlib",
    "numpy",
)


def _server_preexec() -> None:
    os.setpgrp()
    pin(SERVER_CORE)
    raise_nofile()


@dataclass
class Server:
    """A system's server process(es): one node, or several (hub_cluster)."""

    system: str
    ports: list[int]
    cmds: list[list[str]]
    env: dict[str, str]
    log: Path
    target: Target
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    cleanup: list[Path] = field(default_factory=list)
    drop_db: str | None = None  # a PostgreSQL database made for this run

    def start(self) -> None:
        with open(self.log, "ab") as out:
            self.procs = [
                subprocess.Popen(
                    cmd,
                    cwd=REPO,
                    env=self.env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    preexec_fn=_server_preexec,
                )
                for cmd in self.cmds
            ]
        self.target.server_pid = self.procs[0].pid
        self.target.server_pids = [p.pid for p in self.procs]
        try:
            for port in self.ports:
                wait_port(port, 60)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"{self.system} did not start:\n{self.tail()}") from None

    def halt(self) -> None:
        """SIGTERM every node (each closes its clients its own way), then wait."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def restart(self) -> float:
        """Stop every node and start it again on the same port and data; seconds away."""
        t0 = time.monotonic()
        self.halt()
        self.start()
        return time.monotonic() - t0

    def stop(self) -> None:
        self.halt()
        for p in self.cleanup:
            shutil.rmtree(p, ignore_errors=True)
        if self.drop_db:
            _drop_database(self.drop_db)
            self.drop_db = None

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _pg_admin(sql: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    async def run() -> None:
        conn = await asyncpg.connect(PG_ADMIN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


def _drop_database(name: str) -> None:
    with contextlib.suppress(Exception):
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _hub_fixture(env: dict[str, str], data: Path, n: int, target: Target) -> None:
    tokens_file = data / "tokens.json"
    seed = [PY, "-m", "bench.hub_fixture", "--data-dir", str(data), "--n", str(n)]
    done = subprocess.run(  # the secret goes in HUB_SECRET, not on the command line
        [*seed, "--out", str(tokens_file)], cwd=REPO, env=env, timeout=600, capture_output=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"hub fixture failed:\n{done.stderr.decode()[-2000:]}")
    fixture = orjson.loads(tokens_file.read_bytes())
    target.channel = fixture["channel"]
    target.publisher_token = fixture["publisher"]
    target.tokens = fixture["subscribers"]


def start_server(system: str, n: int, logdir: Path) -> Server:
    nodes = 2 if system == "hub_cluster" else 1
    ports = [free_port() for _ in range(nodes)]
    port = ports[0]
    env = dict(os.environ)
    target = Target(system, port, ports=ports if nodes > 1 else [])
    cleanup: list[Path] = []
    drop_db: str | None = None
    if system == "bare_ws":
        cmds = [[PY, "-m", "bench.alternatives.bare_ws", "--port", str(port)]]
    elif system == "blast":
        cmds = [[PY, "-m", "bench.blast", "--port", str(port)]]
    elif system == "socketio":
        channel = f"bench-socketio-{uuid.uuid4().hex[:12]}"
        cmd = [PY, "-m", "bench.alternatives.socketio_server", "--port", str(port)]
        cmds = [[*cmd, "--redis-channel", channel, "--redis-url", REDIS_URL]]
    elif system in ("hub", "hub_cluster"):
        from bench.hub_fixture import hub_env

        data = Path(tempfile.mkdtemp(prefix="hubbench-"))
        cleanup.append(data)
        env.update(hub_env(data, secrets.token_urlsafe(24)))
        if system == "hub_cluster":
            drop_db = f"hubbench_{uuid.uuid4().hex[:12]}"
            _pg_admin(f'CREATE DATABASE "{drop_db}"')
            env["HUB_DATABASE_URL"] = f"{PG_BASE}/{drop_db}"
            env["HUB_REDIS_URL"] = REDIS_URL
            env["HUB_REDIS_PREFIX"] = f"hubbench-{uuid.uuid4().hex[:12]}:"
        try:
            _hub_fixture(env, data, n, target)
        except Exception:
            shutil.rmtree(data, ignore_errors=True)
            if drop_db:
                _drop_database(drop_db)
            raise
        hub = shutil.which("hub", path=str(Path(PY).parent)) or "hub"
        cmds = [[hub, "serve", "--port", str(p), "--log-level", "warning"] for p in ports]
    else:
        raise ValueError(f"unknown system {system!r}")
    log = logdir / f"{system}-{n}.log"
    server = Server(system, ports, cmds, env, log, target, cleanup=cleanup, drop_db=drop_db)
    server.start()
    return server


@contextlib.contextmanager
def redis_available() -> Iterator[str]:
    """Yield a note on Redis (at ``REDIS_URL``); start a private redis-server on its port
    if none answers, unless ``HUB_BENCH_START_REDIS=0``."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
    try:
        info = client.info("server")
        yield f"Redis {info['redis_version']} (already running, not pinned)"
        return
    except redis.RedisError:
        pass
    exe = shutil.which("redis-server")
    if exe is None or not START_REDIS:
        yield "Redis not available: socketio and hub_cluster cannot run"
        return
    port = client.connection_pool.connection_kwargs.get("port", 6379)
    proc = subprocess.Popen(
        [exe, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port, 10)
        info = client.info("server")
        yield f"Redis {info['redis_version']} (started by the benchmark, not pinned)"
    finally:
        proc.terminate()
        proc.wait(10)


def machine() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    mem = "unknown"
    with contextlib.suppress(OSError), open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    versions = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    return {
        "cpu": model,
        "nproc": nproc,
        "memory": mem,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "packages": versions,
    }


def quick_options(n: int, workers: int) -> Options:
    return Options(
        n=n,
        workers=workers,
        notices=10,
        warmup=1,
        settle=0.5,
        step_seconds=1.0,
        rates=(10, 100),
        bisect_steps=0,
        reconnect_notices=5,
        reconnect_spacing=0.02,
        blast_burst=5,
        time_limit=180,
    )


def options(n: int, workers: int, quick: bool, time_limit: float) -> Options:
    if quick:
        return quick_options(n, workers)
    return Options(n=n, workers=workers, time_limit=time_limit)


def wait_quiet(limit_s: float, threshold: float = QUIET) -> float:
    """Wait (up to limit_s) until other processes use less than `threshold` cores."""
    deadline = time.monotonic() + limit_s
    load = other_load(1.0)
    while load > threshold and time.monotonic() < deadline:
        print(f"[run_all] other processes use {load:.2f} cores; waiting for quiet", flush=True)
        time.sleep(4)
        load = other_load(1.0)
    return load


def run_one(system: str, opts: Options, logdir: Path, quiet_s: float = 0) -> dict[str, Any]:
    load_before = wait_quiet(quiet_s) if quiet_s else other_load(0.5)
    print(f"[run_all] {system} N={opts.n} workers={opts.workers} ...", flush=True)
    t0, busy0, own0 = time.monotonic(), machine_busy_seconds(), own_seconds()
    svc0 = services_seconds()
    try:
        server = start_server(system, opts.n, logdir)
    except Exception as e:
        return {"system": system, "n": opts.n, "aborted": f"server did not start: {e}"}
    try:
        result = run_sync(server.target, opts, server.restart)
    finally:
        server.stop()
    wall = time.monotonic() - t0
    other = (machine_busy_seconds() - busy0) - (own_seconds() - own0)
    services = services_seconds() - svc0
    if system in ("hub_cluster", "socketio"):  # their PostgreSQL/Redis are part of the system
        other -= services
        result["services_cores"] = round(services / wall, 2)
    result["other_load_cores"] = round(max(0.0, other) / wall, 2)
    result["other_load_before"] = round(load_before, 2)
    result["options"] = asdict(opts)
    if "aborted" in result:
        result["server_log_tail"] = server.tail()
    result["wall_seconds"] = round(wall, 1)
    print(
        f"[run_all] {system} N={opts.n} done in {result['wall_seconds']}s, other processes "
        f"used {result['other_load_cores']} cores meanwhile"
        + (f" (aborted: {result['aborted']})" if "aborted" in result else ""),
        flush=True,
    )
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--systems", default=",".join(SYSTEMS))
    ap.add_argument("--n", default="1000,3000,10000", help="comma-separated client counts")
    ap.add_argument("--quick", action="store_true", help="N=50 and short steps (test suite)")
    ap.add_argument("--workers", type=int, help="load generator processes (default: measured)")
    ap.add_argument("--time-limit", type=float, default=900, help="seconds per (system, N)")
    ap.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="S",
        help=f"before each run wait up to S s until other processes use < {QUIET} cores",
    )
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    ap.add_argument("--img", type=Path, default=REPO / "docs" / "img")
    ap.add_argument("--json", type=Path, help="raw results (default: next to --out)")
    args = ap.parse_args(argv)

    systems = [s for s in args.systems.split(",") if s]
    for s in systems:
        if s not in SYSTEMS:
            ap.error(f"unknown system {s!r}: expected some of {', '.join(SYSTEMS)}")
    sizes = [50] if args.quick else [int(x) for x in args.n.split(",") if x]
    host = machine()  # before pinning: nproc counts the cores this process may use
    pin(LOADGEN_CORE)
    nofile = raise_nofile()
    if nofile < max(sizes) + 100:
        print(f"[run_all] warning: RLIMIT_NOFILE is {nofile}, below N={max(sizes)}", flush=True)
    started = datetime.now(UTC)
    logdir = Path(tempfile.mkdtemp(prefix="bench-logs-"))
    results: dict[str, Any] = {
        "started": started.isoformat(timespec="seconds"),
        "command": " ".join(
            ["python -m bench.run_all", *(argv if argv is not None else sys.argv[1:])]
        ),
        "quick": args.quick,
        "machine": host,
        "pinning": {"server_core": SERVER_CORE, "loadgen_core": LOADGEN_CORE},
        "quiet_threshold_cores": QUIET,
        "ceiling": {},
        "runs": [],
    }
    with redis_available() as redis_note:
        results["redis"] = redis_note
        for n in sizes:
            workers, best = 0, 0.0
            for w in [args.workers] if args.workers else [1, 2]:
                opts = options(n, w, args.quick, args.time_limit)
                r = run_one("blast", opts, logdir, args.wait_quiet)
                results["ceiling"][f"{n}/{w}"] = r
                rate = float((r.get("ceiling") or {}).get("receive_ceiling_frames_per_s") or 0)
                if rate > best * 1.1:  # more processes only when they clearly help
                    workers, best = w, rate
            workers = workers or args.workers or 1
            results["ceiling"][str(n)] = {"workers": workers, "frames_per_s": best}
            for system in systems:
                opts = options(n, workers, args.quick, args.time_limit)
                results["runs"].append(run_one(system, opts, logdir, args.wait_quiet))
    results["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    json_path = args.json or args.out.with_suffix(".json")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    report.write(results, args.out, args.img)
    shutil.rmtree(logdir, ignore_errors=True)
    print(f"[run_all] wrote {args.out}, {json_path} and plots in {args.img}", flush=True)
    failed = [f"{r['system']}@{r['n']}" for r in results["runs"] if "aborted" in r]
    if failed:
        print(f"[run_all] aborted runs: {', '.join(failed)}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

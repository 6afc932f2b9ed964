"""A private Redis Cluster on loopback: three masters, each with one replica, in a temp dir.

Started with ``redis-server --cluster-enabled yes`` per node and ``redis-cli --cluster
create``; a test may kill a master or fail one over (the replica takes its slots). Skips
(fails under ``HUB_TEST_REQUIRE_SERVICES=1``) only when redis-server or redis-cli is
missing.
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis
from redis.crc import key_slot

from tests.utils import TIMEOUT
from tests.utils.backends import REQUIRE

NODE_TIMEOUT_MS = 1000  # how long a master may be silent before its replica takes over


def _free_ports(n: int) -> list[int]:
    """``n`` free ports below the kernel's ephemeral range: a killed node may be started
    again on its port, and its cluster bus port is chosen here too (the default, port +
    10000, may not exist)."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    rnd = random.Random()
    ports: list[int] = []
    while len(ports) < n:
        port = rnd.randrange(20000, max(20001, low))
        if port in ports:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        ports.append(port)
    return ports


def _need(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        msg = f"{name} is not installed"
        if name == "redis-cli":
            msg = "redis-server is not installed (redis-cli is missing)"
        if REQUIRE:
            pytest.fail(msg)
        pytest.skip(msg)
    return exe


class RedisCluster:
    def __init__(self, tmp: Path, masters: int = 3, replicas: int = 1) -> None:
        self.server = _need("redis-server")
        self.cli = _need("redis-cli")
        self.tmp = tmp
        n = masters * (1 + replicas)
        both = _free_ports(2 * n)
        self.ports, self.bus = both[:n], dict(zip(both[:n], both[n:], strict=True))
        self.replicas = replicas
        self.procs: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def url(self) -> str:
        """The hub's URL for this cluster: every master as a seed."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in self.ports[:3]) + "/"

    def start_node(self, port: int) -> None:
        d = self.tmp / str(port)
        d.mkdir(parents=True, exist_ok=True)
        self.procs[port] = subprocess.Popen(
            [
                self.server,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(d),
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-port",
                str(self.bus[port]),
                "--cluster-node-timeout",
                str(NODE_TIMEOUT_MS),
                "--repl-diskless-sync-delay",
                "0",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"redis-server on {port} did not start") from None
                time.sleep(0.02)

    def start(self) -> RedisCluster:
        for p in self.ports:
            self.start_node(p)
        subprocess.run(
            [
                self.cli,
                "--cluster",
                "create",
                *(f"127.0.0.1:{p}" for p in self.ports),
                "--cluster-replicas",
                str(self.replicas),
                "--cluster-yes",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=TIMEOUT * 3,
        )
        self.wait_ok()
        return self

    def client(self, port: int) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=port, socket_timeout=2)

    def _info(self, port: int) -> dict[str, str]:
        with self.client(port) as r:
            text = r.execute_command("CLUSTER INFO")
        if isinstance(text, bytes):
            text = text.decode()
        if isinstance(text, dict):
            return {str(k): str(v) for k, v in text.items()}
        return dict(line.split(":", 1) for line in text.split() if ":" in line)

    def slots(self) -> dict[tuple[int, int], tuple[int, list[int]]]:
        """``(first, last) slot -> (master port, replica ports)``, as a live node sees it."""
        for port in self.live():
            try:
                with self.client(port) as r:
                    rows = r.execute_command("CLUSTER SLOTS")
            except redis.RedisError:
                continue
            out: dict[tuple[int, int], tuple[int, list[int]]] = {}
            if isinstance(rows, dict):  # redis-py's parsed form
                for (a, b), v in rows.items():
                    out[(int(a), int(b))] = (
                        int(v["primary"][1]),
                        [int(x[1]) for x in v["replicas"]],
                    )
                return out
            for row in rows:
                out[(int(row[0]), int(row[1]))] = (int(row[2][1]), [int(x[1]) for x in row[3:]])
            return out
        raise RuntimeError("no live cluster node answers")

    def master_of(self, key: str) -> int:
        s = key_slot(key.encode())
        for (a, b), (master, _) in self.slots().items():
            if a <= s <= b:
                return master
        raise RuntimeError(f"slot {s} is not served")

    def replica_of(self, master: int) -> int:
        for m, replicas in self.slots().values():
            if m == master and replicas:
                return replicas[0]
        raise RuntimeError(f"master {master} has no replica")

    def masters(self) -> set[int]:
        return {m for m, _ in self.slots().values()}

    def live(self) -> list[int]:
        return [p for p, proc in self.procs.items() if proc.poll() is None]

    def wait_ok(self, timeout: float = TIMEOUT * 2) -> None:
        """Every live node says ``cluster_state:ok``, three masters serve the slots and
        every master has its replica (when it still has one alive) attached and in sync."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if all(self._info(p).get("cluster_state") == "ok" for p in self.live()) and (
                    len(self.masters()) == 3 and self._replicas_in_sync()
                ):
                    return
            except (redis.RedisError, RuntimeError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("the Redis Cluster did not reach cluster_state:ok")
            time.sleep(0.05)

    def _replicas_in_sync(self) -> bool:
        masters = self.masters()
        replicas = [p for p in self.live() if p not in masters]
        attached = [r for _, rs in self.slots().values() for r in rs]
        if sorted(attached) != sorted(replicas):
            return False
        for p in replicas:
            with self.client(p) as r:
                if r.info("replication").get("master_link_status") != "up":
                    return False
        return True

    def kill(self, port: int) -> None:
        proc = self.procs[port]
        proc.kill()
        proc.wait()

    def failover(self, replica: int) -> None:
        """A graceful failover: ``replica`` takes its master's slots (CLUSTER FAILOVER)."""
        with self.client(replica) as r:
            r.execute_command("CLUSTER FAILOVER")

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()

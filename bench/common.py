"""Small helpers shared by the servers, the load generator and the runner."""

from __future__ import annotations

import os
import resource
import socket
import time
from dataclasses import dataclass
from pathlib import Path

SERVER_CORE = 0
LOADGEN_CORE = 1
HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def raise_nofile(want: int = 65536) -> int:
    """Raise RLIMIT_NOFILE as far as the hard limit allows; return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def pin(core: int) -> None:
    """Pin the calling process (and its future children) to one core, if it exists."""
    if core < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {core})


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 20.0) -> None:
    """Block until something accepts TCP connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listening on {HOST}:{port} after {timeout}s") from None
            time.sleep(0.05)


def rss_bytes(pid: int) -> int:
    """VmRSS of a process, from /proc/<pid>/status."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def self_cpu() -> float:
    t = os.times()
    return t.user + t.system


@dataclass
class Percentiles:
    n: int
    p50: float
    p99: float
    max: float

    def as_dict(self) -> dict[str, float]:
        return {"n": self.n, "p50": _r(self.p50), "p99": _r(self.p99), "max": _r(self.max)}


def _r(x: float) -> float:
    return x if x != x or x in (float("inf"), float("-inf")) else round(x, 3)


def percentiles(values: list[float] | object) -> Percentiles:
    """p50/p99/max of a sequence (numpy array, list or array.array)."""
    import numpy as np

    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        nan = float("nan")
        return Percentiles(0, nan, nan, nan)
    # inf (never arrived) sorts last; a percentile that reaches into it is inf too
    finite = arr[np.isfinite(arr)]
    if finite.size == 0:
        inf = float("inf")
        return Percentiles(int(arr.size), inf, inf, inf)
    top = float(finite.max())
    big = np.where(np.isinf(arr), top * 2 + 1, arr)
    p50, p99, hi = (float(x) for x in np.percentile(big, [50, 99, 100]))
    return Percentiles(int(arr.size), *(x if x <= top else float("inf") for x in (p50, p99, hi)))


def machine_busy_seconds() -> float:
    """CPU seconds all processes on the machine have used since boot (from /proc/stat)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


SERVICES = ("postgres", "redis-server")


def services_seconds() -> float:
    """CPU seconds used so far by the PostgreSQL and Redis processes on the machine."""
    total = 0.0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        if comm in SERVICES:  # its own time, and its exited children's (PostgreSQL's
            # backends end with their connections: the postmaster keeps their time)
            fields = stat[stat.rindex(")") + 2 :].split()
            total += sum(int(x) for x in fields[11:15]) / CLK_TCK
    return total


def own_seconds() -> float:
    """CPU seconds of this process and of its children that have been waited for."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def other_load(seconds: float = 1.0) -> float:
    """Cores used by processes other than this one and its children, over `seconds`."""
    b0, o0 = machine_busy_seconds(), own_seconds()
    time.sleep(seconds)
    return max(0.0, (machine_busy_seconds() - b0) - (own_seconds() - o0)) / seconds


def write_section(path: Path, text: str, start: str, end: str) -> None:
    """Replace the section of ``path`` between the markers ``start`` and ``end`` with
    ``text`` (which carries them), or append it; leave the rest of the file alone."""
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    if start in old and end in old:
        head, rest = old.split(start, 1)
        _, tail = rest.split(end, 1)
        new = head + text + tail
    else:
        new = old.rstrip("\n") + "\n\n" + text + "\n"
    path.write_text(new)

"""docs/benchmarks.md and its plots, from bench/run_all.py's results."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any

COLORS = {
    "hub": "tab:blue",
    "hub_cluster": "tab:purple",
    "bare_ws": "tab:orange",
    "socketio": "tab:green",
}
FLOOR_FACTOR = 1.5  # fan-out within this factor of the load generator's own floor: its limit
CEILING_SHARE = 0.8  # sustained deliveries/s above this share of the receive ceiling: ditto

SYSTEM_INFO = {
    "hub": (
        "Session Hub: `hub serve` (Starlette on uvicorn), default embedded set-up: "
        "SQLite (WAL) + in-process broker",
        "every message, in the database, before fan-out; ack/read receipts",
        "replays what was missed from the log (`since`)",
    ),
    "hub_cluster": (
        "Session Hub on two nodes (two `hub serve` processes, both on the server core) "
        "sharing PostgreSQL and Redis pub/sub; subscribers split between the nodes, the "
        "publisher on the first",
        "every message, in PostgreSQL, before fan-out; ack/read receipts",
        "replays what was missed from the log (`since`), on either node",
    ),
    "bare_ws": (
        "`websockets.asyncio.server` + `websockets.broadcast()`: the Python ceiling",
        "nothing",
        "what was sent while away is lost",
    ),
    "socketio": (
        "python-socketio `AsyncServer` + `AsyncRedisManager` (one Redis channel per run), "
        "served by uvicorn, broadcast to a room",
        "nothing (each emit passes through Redis pub/sub, not kept)",
        "what was sent while away is lost",
    ),
}


def _f(x: Any, digits: int = 1) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        if math.isnan(x):
            return "–"
        if math.isinf(x):
            return "∞"
        return f"{x:,.{digits}f}"
    if isinstance(x, int):
        return f"{x:,}"
    return str(x)


def _table(head: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(_f(c) for c in row) + " |" for row in rows]
    return [*out, ""]


def _ceiling(results: dict[str, Any], n: int) -> dict[str, Any]:
    choice = results["ceiling"].get(str(n), {})
    raw = results["ceiling"].get(f"{n}/{choice.get('workers', 1)}", {})
    return raw.get("ceiling") or {}


def _runs(results: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in results["runs"] if "system" in r]


def _noisy(results: dict[str, Any], r: dict[str, Any]) -> bool:
    return float(r.get("other_load_cores") or 0) > results.get("quiet_threshold_cores", 0.2)


def _name(results: dict[str, Any], r: dict[str, Any]) -> str:
    return r["system"] + (" ⚠" if _noisy(results, r) else "")


def limits(results: dict[str, Any]) -> dict[tuple[str, int, str], str]:
    """(system, N, scenario) -> why the load generator, not the server, was the limit."""
    out: dict[tuple[str, int, str], str] = {}
    for r in _runs(results):
        ceil = _ceiling(results, r["n"])
        floor = (ceil.get("single_notice_time_to_last_ms") or {}).get("p50")
        fan = r.get("fanout") or {}
        ttl = (fan.get("time_to_last_ms") or {}).get("p50")
        if floor and ttl and ttl <= FLOOR_FACTOR * floor:
            out[(r["system"], r["n"], "fanout")] = (
                f"time-to-last p50 {ttl:.1f} ms is within {FLOOR_FACTOR}× of the load "
                f"generator's own floor ({floor:.1f} ms)"
            )
        sus = r.get("sustained") or {}
        frames = ceil.get("receive_ceiling_frames_per_s")
        best = sus.get("best_deliveries_per_s") or 0
        if sus.get("loadgen_limited"):
            out[(r["system"], r["n"], "sustained")] = (
                "the load generator's core was ≥ 90 % busy at the first failing rate"
            )
        elif frames and best >= CEILING_SHARE * frames:
            out[(r["system"], r["n"], "sustained")] = (
                f"{best:,.0f} deliveries/s is ≥ {CEILING_SHARE:.0%} of the receive ceiling "
                f"({frames:,} frames/s)"
            )
    return out


def _sustained_limit(r: dict[str, Any], lim: dict[tuple[str, int, str], str]) -> str:
    sus = r.get("sustained") or {}
    if (r["system"], r["n"], "sustained") in lim:
        return "load generator"
    if sus.get("first_failing_rate") is None:
        return "not reached (highest step passed)"
    steps = sus.get("steps", [])
    failing = next((s for s in steps if s["rate"] == sus["first_failing_rate"]), None)
    if sus.get("best_rate") is None and failing:
        return (
            f"SLO unreachable at this N: at {failing['rate']:g} notice/s the p99 time to the "
            f"last client is already {_f(failing['time_to_last_p99_ms'], 0)} ms"
        )
    if failing and failing["server_cpu_busy"] >= 0.9:
        return "server CPU (core 0 saturated)"
    if failing and failing["incomplete"]:
        return "latency (deliveries still queued when the step ended)"
    return "latency"


def plots(results: dict[str, Any], img: Path) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    img.mkdir(parents=True, exist_ok=True)
    runs = _runs(results)
    systems = [s for s in COLORS if any(r["system"] == s for r in runs)]
    sizes = sorted({r["n"] for r in runs})
    made: list[tuple[str, str]] = []

    def series(fn: Any) -> dict[str, tuple[list[int], list[float]]]:
        out: dict[str, tuple[list[int], list[float]]] = {}
        for s in systems:
            xs, ys = [], []
            for r in sorted((r for r in runs if r["system"] == s), key=lambda r: r["n"]):
                y = fn(r)
                if y is not None and not (isinstance(y, float) and not math.isfinite(y)):
                    xs.append(r["n"])
                    ys.append(y)
            out[s] = (xs, ys)
        return out

    def save(fig: Any, name: str, title: str) -> None:
        fig.tight_layout()
        fig.savefig(img / name, dpi=110)
        plt.close(fig)
        made.append((name, title))

    fig, ax = plt.subplots(figsize=(6.4, 4))
    for s, (xs, ys) in series(
        lambda r: ((r.get("fanout") or {}).get("time_to_last_ms") or {}).get("p99")
    ).items():
        ax.plot(xs, ys, marker="o", label=s, color=COLORS[s])
    floor = [
        (n, (_ceiling(results, n).get("single_notice_time_to_last_ms") or {}).get("p50"))
        for n in sizes
    ]
    floor = [(n, f) for n, f in floor if f]
    if floor:
        ax.plot(*zip(*floor, strict=True), "kx--", label="load generator floor (p50)")
    ax.set(xlabel="clients N", ylabel="ms", title="Fan-out: time until the last client, p99")
    ax.set_yscale("log")
    ax.legend()
    save(fig, "bench-fanout.png", "Fan-out: p99 time until the last of N clients has a notice")

    fig, ax = plt.subplots(figsize=(6.4, 4))
    for s, (xs, ys) in series(
        lambda r: (r.get("sustained") or {}).get("best_deliveries_per_s")
    ).items():
        ax.plot(xs, ys, marker="o", label=s, color=COLORS[s])
    ceil = [(n, _ceiling(results, n).get("receive_ceiling_frames_per_s")) for n in sizes]
    ceil = [(n, c) for n, c in ceil if c]
    if ceil:
        ax.plot(*zip(*ceil, strict=True), "kx--", label="load generator receive ceiling")
    ax.set(
        xlabel="clients N",
        ylabel="deliveries/s",
        title="Sustained: deliveries/s with p99 time-to-last < 250 ms",
    )
    ax.set_yscale("log")
    ax.legend()
    save(fig, "bench-sustained.png", "Sustained publishing: best deliveries/s within the SLO")

    fig, ax = plt.subplots(figsize=(6.4, 4))
    for s, (xs, ys) in series(lambda r: (r.get("connect") or {}).get("rss_per_conn_kb")).items():
        ax.plot(xs, ys, marker="o", label=s, color=COLORS[s])
    ax.set(xlabel="clients N", ylabel="KiB", title="Server RSS per idle connection")
    ax.legend()
    save(fig, "bench-memory.png", "Server memory per idle connection")

    biggest = max(sizes) if sizes else None
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for r in sorted(runs, key=lambda r: list(COLORS).index(r["system"])):
        if r["n"] != biggest or not r.get("sustained"):
            continue
        steps = sorted(r["sustained"]["steps"], key=lambda s: s["rate"])
        xs = [s["rate"] for s in steps]
        ys = [min(s["time_to_last_p99_ms"] or math.inf, 1e5) for s in steps]
        ax.plot(xs, ys, marker="o", label=r["system"], color=COLORS[r["system"]])
    ax.axhline(250, color="k", linestyle="--", label="SLO 250 ms")
    ax.set(
        xlabel="notices/s",
        ylabel="p99 time-to-last, ms (never: 10^5)",
        title=f"Sustained steps at N={biggest}",
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.legend()
    save(fig, "bench-steps.png", f"Sustained publishing steps at N={biggest}")
    return made


def _trouble(r: dict[str, Any]) -> list[str]:
    """Closed connections, errors and publisher reconnects seen in one run."""
    out: list[str] = []
    pub = r.get("publisher") or {}
    if pub.get("reconnects"):
        out.append(
            f"the publisher's connection was lost and reopened {pub['reconnects']}× "
            "(unconfirmed notices resent)"
        )
    if pub.get("unconfirmed_at_end"):
        out.append(f"{pub['unconfirmed_at_end']} notices were never confirmed to the publisher")
    out += [f"publisher: {e.removeprefix('publisher: ')}" for e in pub.get("errors", [])[:3]]
    for phase in ("fanout", "reconnect", "restart"):
        p = r.get(phase) or {}
        if p.get("dropped_connections"):
            out.append(f"{phase}: {p['dropped_connections']} client connections closed")
        if p.get("error_count"):
            out.append(f"{phase}: {p['error_count']} errors, e.g. {'; '.join(p['errors'][:2])}")
    for step in (r.get("sustained") or {}).get("steps", []):
        if step.get("dropped_connections"):
            out.append(
                f"sustained at {step['rate']:g}/s: {step['dropped_connections']} client "
                f"connections closed so far ({'; '.join(step.get('errors', [])[:2])})"
            )
            break
    return out


def _noise_lines(results: dict[str, Any]) -> list[str]:
    runs = [r for r in results["runs"] if "other_load_cores" in r]
    ceil = [r for r in results["ceiling"].values() if "other_load_cores" in r]
    every = runs + ceil
    if not every:
        return []
    worst = max(every, key=lambda r: r["other_load_cores"])
    mean = sum(r["other_load_cores"] for r in every) / len(every)
    limit = results.get("quiet_threshold_cores", 0.2)
    noisy = [r for r in every if r["other_load_cores"] > limit]
    out = [
        f"- Other processes on the machine used {mean:.2f} cores on average during the runs "
        f"(most: {worst['other_load_cores']:.2f} during {worst['system']} at N={worst['n']}).",
    ]
    svc = [r for r in runs if "services_cores" in r]
    if svc:
        out.append(
            "- PostgreSQL and Redis (part of `hub_cluster`, Redis of `socketio`; not pinned, "
            "not in the servers' CPU per delivery, not counted as other processes) used on "
            "average: "
            + ", ".join(
                f"{r['system']} at N={r['n']}: {r['services_cores']:.2f} cores" for r in svc
            )
            + "."
        )
    if noisy:
        out.append(
            f"- ⚠ marks the {len(noisy)} of {len(every)} runs during which other processes used "
            f"more than {limit} cores: they competed with the pinned server and load "
            "generator, so those numbers are disturbed (worse tails, lower rates). Rerun on a "
            "quiet machine (`--wait-quiet 600`) before drawing conclusions from them."
        )
    return out


def kept_sections(out: Path) -> str:
    """Sections written by hand or by other scripts in the same file, each between
    ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` markers, kept as they are."""
    if not out.exists():
        return ""
    text = out.read_text()
    kept = [
        m.group(0) for m in re.finditer(r"<!-- ([\w-]+):start -->.*?<!-- \1:end -->", text, re.S)
    ]
    return "".join("\n\n" + k for k in kept) + ("\n" if kept else "")


def _reconnect_table(results: dict[str, Any], runs: list[dict[str, Any]], key: str) -> list[str]:
    rows = []
    for r in runs:
        rc = r.get(key)
        if not rc:
            continue
        rows.append(
            [
                _name(results, r),
                r["n"],
                rc.get("server_away_s"),
                f"{rc['reconnected']:,}/{rc['clients']:,}",
                (rc.get("reconnected_s") or {}).get("p50"),
                rc["seconds_until_all_reconnected"],
                f"{rc['clients_with_all_notices']:,}",
                (rc.get("holds_all_s") or {}).get("p50"),
                rc["seconds_until_all_hold_all"]
                if rc["seconds_until_all_hold_all"] is not None
                else "never",
                f"{rc['lost_fraction']:.1%}" if rc["lost_fraction"] is not None else None,
            ]
        )
    if not rows:
        return ["Not run.", ""]
    return _table(
        [
            "system",
            "N",
            "server away s",
            "reconnected",
            "s until reconnected, p50",
            "s until all reconnected",
            "clients holding all",
            "s until a client holds all, p50",
            "s until all hold all",
            "deliveries lost",
        ],
        rows,
    )


def write(results: dict[str, Any], out: Path, img: Path) -> None:
    made = plots(results, img)
    runs = _runs(results)
    sizes = sorted({r["n"] for r in runs})
    lim = limits(results)
    m = results["machine"]
    o = next((r["options"] for r in runs if "options" in r), {})
    rates = ", ".join(f"{x:g}" for x in o.get("rates", ()))
    rel = Path(os.path.relpath(img.resolve(), out.parent.resolve()))
    L: list[str] = ["# Benchmarks", ""]
    if results.get("quick"):
        L += ["> **Quick run** (N=50, short steps): proves the harness, not the systems.", ""]
    L += [
        f"Generated by `{results['command']}` from {results['started']} to "
        f"{results.get('finished', '?')} (UTC). Raw numbers: `{out.with_suffix('.json').name}`.",
        "",
        "Reproduce: `.venv/bin/pip install -e '.[bench]'`, Redis on 127.0.0.1:6379 (started "
        "if missing), then `.venv/bin/python -m bench.run_all` (see `--help`).",
        "",
        "## Systems and what they store",
        "",
    ]
    L += _table(
        ["system", "what", "stores", "after a reconnect"],
        [[s, *SYSTEM_INFO[s]] for s in sorted({r["system"] for r in runs})],
    )
    L += [
        "## Machine and method",
        "",
        f"- CPU: {m['cpu']}, `nproc` = {m['nproc']}, memory {m['memory']}, "
        f"Linux {m['kernel']}, Python {m['python']}.",
        f"- Server pinned to core {results['pinning']['server_core']}; the load generator "
        f"(coordinator + workers) to core {results['pinning']['loadgen_core']}. "
        f"{results.get('redis', '')}. All traffic on 127.0.0.1; every phase has a time limit.",
        "- Clients: a minimal RFC 6455 client on uvloop (`bench/wsclient.py`), no compression "
        "offered. Latency = receive time − send time embedded by the publisher "
        "(`time.monotonic_ns()`, one clock for all processes).",
        "- Fan-out: one ~300-byte JSON notice at a time to all N (next one when all N have "
        f"it), {o.get('notices')} notices after {o.get('warmup')} warm-up ones.",
        "- Receipt storm: every client sends `ack` + `read` at a random moment within "
        f"{o.get('receipt_window')} s; time until the server confirmed all of them as stored.",
        f"- Sustained: notices/s stepped up ({rates}, then {o.get('bisect_steps')} bisection "
        f"steps), {o.get('step_seconds')} s per step; the best rate whose p99 "
        f"time-until-last-client stays under {o.get('slo_ms')} ms.",
        "- Reconnect storm: all N drop (TCP close) and reconnect at once (≤ "
        f"{o.get('connect_concurrency')} handshakes in flight per worker) while "
        f"{o.get('reconnect_notices')} notices are published, one every "
        f"{(o.get('reconnect_spacing') or 0) * 1000:g} ms; the hub's clients resubscribe "
        "with `since` = the last seq they hold. Then the same after a restart: the server "
        "(every node of it) gets SIGTERM, closes its clients and is started again on the "
        "same port and data; clients retry every 0.1 s until it answers; the notices go out "
        "once the publisher is back.",
        "- Topology: `hub` is one node with the embedded SQLite and in-process broker; "
        "`hub_cluster` is two nodes with PostgreSQL and Redis, both pinned to the server "
        "core (so its CPU per delivery counts both nodes; PostgreSQL and Redis are not "
        "pinned and not counted).",
        f"- Memory: server VmRSS before and {o.get('settle')} s after connecting N; CPU: utime+stime from "
        "/proc/<pid>/stat over the fan-out phase, divided by the deliveries.",
        "- Hub settings: `HUB_FRAME_RATE`/`HUB_FRAME_BURST` lifted so that one publisher "
        "connection can drive the rate steps; everything else default.",
        "",
        *_noise_lines(results),
        "",
        "Package versions: "
        + ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v != "not installed")
        + ".",
        "",
        "## Load generator ceiling",
        "",
        "Measured against `bench/blast.py`, a server that only copies ready-made frames, so "
        "the numbers are the load generator's own limits: the time until the last of N "
        "clients has parsed one notice (its floor for fan-out), and frames/s taken in during "
        "a burst (its ceiling for sustained rates).",
        "",
    ]
    rows = []
    for n in sizes:
        for key, raw in results["ceiling"].items():
            if not key.startswith(f"{n}/"):
                continue
            c = raw.get("ceiling") or {}
            chosen = results["ceiling"].get(str(n), {}).get("workers")
            rows.append(
                [
                    f"{n:,}" + (" ⚠" if _noisy(results, raw) else ""),
                    f"{raw.get('workers')}" + (" (used)" if raw.get("workers") == chosen else ""),
                    (c.get("single_notice_time_to_last_ms") or {}).get("p50"),
                    c.get("receive_ceiling_frames_per_s"),
                    c.get("loadgen_busy"),
                    raw.get("aborted"),
                ]
            )
    L += _table(
        [
            "N",
            "worker processes",
            "one notice to all, ms (p50)",
            "receive ceiling, frames/s",
            "CPU busy",
            "aborted",
        ],
        rows,
    )
    L += ["## 1. Fan-out", ""]
    rows = []
    for r in runs:
        f = r.get("fanout")
        if not f:
            continue
        lat, ttl = f["latency_ms"], f["time_to_last_ms"]
        rows.append(
            [
                _name(results, r),
                r["n"],
                (r.get("connect") or {}).get("connected"),
                lat["p50"],
                lat["p99"],
                ttl["p50"],
                ttl["p99"],
                f"{f['deliveries']:,}/{f['expected_deliveries']:,}",
                r["n"] / ttl["p50"] * 1000 if ttl["p50"] else None,
                f["server_cpu_us_per_delivery"],
                "load generator" if (r["system"], r["n"], "fanout") in lim else "",
            ]
        )
    L += _table(
        [
            "system",
            "N",
            "connected",
            "delivery p50 ms",
            "delivery p99 ms",
            "last client p50 ms",
            "last client p99 ms",
            "delivered",
            "deliveries/s within a notice",
            "server CPU µs/delivery",
            "limit",
        ],
        rows,
    )
    L += ["## 2. Receipt storm", ""]
    rows = []
    for r in runs:
        rc = r.get("receipts")
        if rc is None:
            continue
        if not rc.get("supported"):
            rows.append(
                [_name(results, r), r["n"], "not supported / not stored", "", "", "", "", ""]
            )
            continue
        cl = rc["confirm_latency_ms"]
        rows.append(
            [
                _name(results, r),
                r["n"],
                f"{rc['confirmed']:,}/{rc['sent']:,}",
                rc["seconds_until_last_confirmed"],
                rc["confirmed_per_s"],
                cl["p50"],
                cl["p99"],
                rc["server_cpu_us_per_receipt"],
            ]
        )
    L += _table(
        [
            "system",
            "N",
            "confirmed (stored)",
            "s until last confirmed",
            "confirmed/s",
            "confirm p50 ms",
            "confirm p99 ms",
            "server CPU µs/receipt",
        ],
        rows,
    )
    L += ["## 3. Sustained publishing", ""]
    rows = []
    for r in runs:
        s = r.get("sustained")
        if not s:
            continue
        rows.append(
            [
                _name(results, r),
                r["n"],
                s["best_rate"],
                s["best_deliveries_per_s"],
                s["first_failing_rate"],
                _sustained_limit(r, lim),
            ]
        )
    L += _table(
        [
            "system",
            "N",
            "best notices/s (p99 last client < 250 ms)",
            "deliveries/s",
            "first failing notices/s",
            "what limited it",
        ],
        rows,
    )
    L += ["## 4. Reconnect storm", ""]
    for key, title in (
        ("reconnect", "After a drop: every client's connection is cut, the server keeps running"),
        ("restart", "After a restart: the server's node(s) are stopped and started again"),
    ):
        L += [f"### {title}", ""]
        L += _reconnect_table(results, runs, key)
    window = (o.get("reconnect_notices") or 0) * (o.get("reconnect_spacing") or 0)
    L += [
        f"The {o.get('reconnect_notices')} notices go out over the first {window:g} s of the "
        f"storm, so no system can finish before ~{window:g} s; a system that stores nothing "
        "loses whatever was published while a client was away. In the restart, the clock "
        'starts when the server is told to stop; "server away" is how long it took to stop '
        "(closing every client) and to answer on its port again; the notices go out once "
        "the publisher has reconnected.",
        "",
        "## 5. Memory and CPU",
        "",
    ]
    rows = []
    for r in runs:
        c = r.get("connect") or {}
        rows.append(
            [
                _name(results, r),
                r["n"],
                c.get("connected"),
                c.get("seconds"),
                c.get("rss_before_mb"),
                c.get("rss_after_mb"),
                c.get("rss_per_conn_kb"),
                (r.get("fanout") or {}).get("server_cpu_us_per_delivery"),
            ]
        )
    L += _table(
        [
            "system",
            "N",
            "connected",
            "s to connect all",
            "RSS before MB",
            "RSS after MB",
            "KiB per idle connection",
            "CPU µs per delivery",
        ],
        rows,
    )
    L += ["## When the load generator was the limit", ""]
    if lim:
        L += [f"- {s} at N={n}, {what}: {why}." for (s, n, what), why in sorted(lim.items())]
    else:
        L += [
            "Nowhere: in every run the servers were slower than the load generator's floor "
            f"(fan-out more than {FLOOR_FACTOR}× its one-notice time) and its ceiling "
            f"(sustained below {CEILING_SHARE:.0%} of its frames/s, its core below 90 % busy)."
        ]
    L += [""]
    trouble = [(r, _trouble(r)) for r in runs]
    if any(t for _, t in trouble):
        L += ["## What went wrong during the runs", ""]
        for r, lines in trouble:
            L += [f"- {r['system']} at N={r['n']}: {line}" for line in lines]
        L += [""]
    aborted = [r for r in results["runs"] if "aborted" in r]
    if aborted:
        L += ["## Aborted runs", ""]
        L += [f"- {r.get('system')} at N={r.get('n')}: {r['aborted']}" for r in aborted]
        L += [""]
    L += ["## Plots", ""]
    L += [f"![{title}]({rel / name})" for name, title in made]
    L += [""]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(L) + kept_sections(out))


def cli() -> None:
    import argparse

    import orjson

    ap = argparse.ArgumentParser(description="Rewrite the report from run_all's raw JSON.")
    ap.add_argument("results", type=Path)
    ap.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"))
    ap.add_argument("--img", type=Path, default=Path("docs/img"))
    args = ap.parse_args()
    write(orjson.loads(args.results.read_bytes()), args.out, args.img)


if __name__ == "__main__":
    cli()

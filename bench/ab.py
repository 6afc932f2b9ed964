"""Before and after on the fan-out path: two checkouts, interleaved, in one session.

Each checkout is a clone of the hub with its own venv (``.venv``). Each round runs the
bench's own fan-out once per side (``run_one("hub", Options(n, scenarios=("fanout",)))``:
a fresh ``hub serve`` pinned to core 0, the load generator on core 1, ``n`` clients, 3
warm-up notices then 50), the order alternating per round so that a drift of the
machine's load hits both sides alike. Printed: each side's median server CPU per
delivery and time until the last client, and after/before with a bootstrap 95 %
interval of the ratio of medians.

    .venv/bin/python -m bench.ab --before /tmp/a --after /tmp/b --rounds 20 [--n 1000]

Both sides publish kind ``bulletin`` with the same settings (the bench's own).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import Any

RUN = (
    "import json, sys\n"
    "from pathlib import Path\n"
    "from bench.loadgen import Options\n"
    "from bench.run_all import run_one\n"
    "r = run_one('hub', Options(n=int(sys.argv[2]), workers=1, scenarios=('fanout',)),"
    " Path(sys.argv[1]))\n"
    "print('RESULT ' + json.dumps(r.get('fanout') or r))\n"
)


def run_side(checkout: Path, n: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as logdir:
        done = subprocess.run(
            [str(checkout / ".venv/bin/python"), "-c", RUN, logdir, str(n)],
            cwd=checkout,
            capture_output=True,
            text=True,
            timeout=900,
        )
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            out: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
            return out
    raise RuntimeError(f"{checkout}: no result\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


def ratio_interval(
    before: list[float], after: list[float], draws: int = 5000
) -> tuple[float, float]:
    """Bootstrap 95 % interval of median(after) / median(before)."""
    rng = random.Random(7)
    ratios = sorted(
        statistics.median(rng.choices(after, k=len(after)))
        / statistics.median(rng.choices(before, k=len(before)))
        for _ in range(draws)
    )
    return ratios[int(draws * 0.025)], ratios[int(draws * 0.975)]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--before", type=Path, required=True)
    ap.add_argument("--after", type=Path, required=True)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--out", type=Path, help="raw results as JSON")
    a = ap.parse_args(argv)
    sides = {"before": a.before, "after": a.after}
    runs: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    for k in range(a.rounds):
        order = ["before", "after"] if k % 2 == 0 else ["after", "before"]
        for side in order:
            r = run_side(sides[side], a.n)
            runs[side].append(r)
            print(
                f"round {k + 1:3} {side:6} cpu {r['server_cpu_us_per_delivery']} µs/delivery",
                flush=True,
            )
    cpu = {s: [r["server_cpu_us_per_delivery"] for r in runs[s]] for s in runs}
    last = {
        s: [r["time_to_last_ms"]["p50"] for r in runs[s] if "time_to_last_ms" in r] for s in runs
    }
    for s in ("before", "after"):
        lp = f", last client p50 {statistics.median(last[s]):.1f} ms" if last[s] else ""
        print(f"{s:6}: {len(cpu[s])} runs, server CPU {statistics.median(cpu[s]):.2f} µs/delivery "
              f"(min {min(cpu[s])}, max {max(cpu[s])}){lp}")  # fmt: skip
    lo, hi = ratio_interval(cpu["before"], cpu["after"])
    ratio = statistics.median(cpu["after"]) / statistics.median(cpu["before"])
    print(f"after/before: {ratio:.3f} (bootstrap 95 % interval {lo:.3f}-{hi:.3f})")
    if a.out:
        a.out.write_text(json.dumps(runs, indent=2))


if __name__ == "__main__":
    main()

"""Bench fixture for the hub: a fresh database with one meeting, N deputies and a secretary.

Uses the hub's own Python API (migrations, hub.session.members, hub.auth.Tokens) and writes
the tokens as JSON: {"channel": "meeting:<id>", "publisher": T, "subscribers": [T, ...]}.
Run it in its own process, before the hub starts, with the same HUB_* settings:

  python -m bench.hub_fixture --data-dir /tmp/hubbench --n 1000 --out tokens.json
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import time
from pathlib import Path
from typing import Any

import orjson


def hub_env(data_dir: Path, secret: str) -> dict[str, str]:
    """The settings a bench hub runs with: embedded SQLite + in-process broker, and the
    per-account frame limit and daily publish quota lifted so that one publisher can drive
    the rate steps."""
    return {
        "HUB_DATA_DIR": str(data_dir),
        "HUB_SECRET": secret,
        "HUB_FRAME_RATE": "1000000",
        "HUB_FRAME_BURST": "1000000",
        "HUB_PUBLISH_QUOTA": "0",
        "HUB_AUTH_TIMEOUT": "60",
    }


async def _seed(db_url: str, secret: str, n: int) -> dict[str, Any]:
    from hub.auth import Tokens
    from hub.session.members import add_participants, create_delegation, create_meeting, create_user
    from hub.store.engine import make_engine

    engine = make_engine(db_url)
    try:
        async with engine.begin() as conn:
            tag = secrets.token_hex(3)
            delegation = await create_delegation(conn, f"bench delegation {tag}")
            meeting = await create_meeting(conn, f"bench meeting {tag}")
            secretary = await create_user(
                conn, f"bench-sec-{tag}", "Bench secretary", "secretariat"
            )
            deputies = [
                await create_user(
                    conn, f"bench-{tag}-{i}", f"Deputy {i}", "deputy", delegation_id=delegation
                )
                for i in range(n)
            ]
            await add_participants(conn, meeting, [*deputies, secretary])
    finally:
        await engine.dispose()
    tokens = Tokens(secret, 24 * 3600)
    return {
        "channel": f"meeting:{meeting}",
        "publisher": tokens.issue(secretary, 0),
        "subscribers": [tokens.issue(uid, 0) for uid in deputies],
    }


def prepare(data_dir: Path, n: int, secret: str) -> dict[str, Any]:
    """Migrate a database under data_dir and seed it; returns channel and tokens."""
    from hub.config import Settings
    from hub.store.migrate import upgrade

    settings = Settings.from_env({**os.environ, **hub_env(data_dir, secret)})
    data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.db_url)
    return asyncio.run(_seed(settings.db_url, secret, n))


def cli() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--secret", default=os.environ.get("HUB_SECRET") or secrets.token_urlsafe(24))
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    t0 = time.monotonic()
    result = prepare(args.data_dir, args.n, args.secret)
    args.out.write_bytes(orjson.dumps(result))
    print(f"seeded {args.n} deputies in {result['channel']} in {time.monotonic() - t0:.1f}s")


if __name__ == "__main__":
    cli()

"""The demo comes with points rules and registrations, and its whole log verifies."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from hub import demo
from hub.store.engine import make_engine
from hub.supervision import points
from hub.supervision.registrations import registrations
from hub.supervision.verify import verify_log

TZ = ZoneInfo("Asia/Shanghai")


async def test_demo_seeds_rules_and_registrations(db_url: str, tmp_path: Path) -> None:
    """Rules in force from 1 January, two confirmed registrations and one to decide;
    the confirmed ones score by the kind-specific and the general rule; the log verifies."""
    engine = make_engine(db_url)
    try:
        seeded = await demo.seed(engine, tmp_path)
        assert seeded is not None and seeded["points_ruleset_id"]
        now = datetime.now(UTC)
        async with engine.connect() as conn:
            [rs] = await points.load_rulesets(conn)
            assert rs.valid_from == datetime(now.astimezone(TZ).year, 1, 1, tzinfo=TZ)
            assert points.in_force([rs], now) == rs
            regs = (await conn.execute(sa.select(registrations).order_by(registrations.c.id))).all()
            assert [r.state for r in regs] == ["confirmed", "confirmed", "submitted"]
            start = datetime(now.astimezone(TZ).year, 1, 1, tzinfo=TZ)
            dep = int(regs[0].deputy_id)
            tally = (await points.tally(conn, {dep}, start, now, now, TZ))[dep]
        got = {
            e["key"]: e["points"] for e in tally.entries if e["event"].startswith("registration")
        }
        this_year = date(now.astimezone(TZ).year, 1, 1)
        want = {
            f"registration:{r.id}": {"inspection": 3, "constituents": 2}[r.kind]
            for r in regs[:2]
            if r.activity_date >= this_year
        }
        assert got == want
        report = await verify_log(engine)
        assert report.ok and report.messages > 0
    finally:
        await engine.dispose()

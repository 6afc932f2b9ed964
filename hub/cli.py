"""The ``hub`` command: serve, migrate, demo, user add, token, verify.

Run ``hub --help`` for the list; every command reads the same ``HUB_*`` settings.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import socket
import sys
from typing import Any

import orjson

from hub.config import Settings


def _print(obj: Any) -> None:
    sys.stdout.write(orjson.dumps(obj, option=orjson.OPT_INDENT_2).decode() + "\n")
    sys.stdout.flush()


def _migrate(settings: Settings) -> None:
    from hub.store.migrate import upgrade

    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    upgrade(settings.db_url)


async def _with_engine(settings: Settings, fn: Any) -> Any:
    from hub.store.engine import make_engine

    engine = make_engine(settings.db_url)
    try:
        return await fn(engine)
    finally:
        await engine.dispose()


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> None:
    _migrate(settings)
    print(f"database at {settings.db_url.split('@')[-1]} is up to date")


def cmd_demo(settings: Settings, args: argparse.Namespace) -> None:
    from hub import demo

    _migrate(settings)
    if args.size != "demo":
        from hub.demo_city import seed_summary

        created = asyncio.run(
            _with_engine(settings, lambda e: seed_summary(e, settings.data_dir, args.size))
        )
    else:
        created = asyncio.run(_with_engine(settings, lambda e: demo.seed(e, settings.data_dir)))
    _print({"created": created is not None, **(created or {})})
    if args.serve:
        cmd_serve(settings, args, demo_banner=True)


def _bind_or_exit(host: str, port: int) -> socket.socket:
    """The listening socket, or one line on stderr saying what to do and exit 1."""
    from hub.server import bind

    try:
        sock = bind(host, port)
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            why = (
                f"port {port} on {host} is already in use: choose another with --port"
                " (0 picks a free one) or stop the program using it"
            )
        elif e.errno == errno.EACCES:
            why = f"no permission to listen on port {port}: choose a port above 1023 with --port"
        else:
            why = f"cannot listen on {host}:{port}: {e.strerror or e}"
        sys.stderr.write(f"hub: {why}\n")
        raise SystemExit(1) from None
    return sock


def _lan_address() -> str | None:
    """This machine's address on its local network (of the default route), if it has one.

    Connecting a UDP socket sends nothing; it only asks the kernel which source address
    it would use.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed anywhere real
        except OSError:
            return None
        addr: str = s.getsockname()[0]
    return None if addr.startswith("127.") or addr == "0.0.0.0" else addr


def cmd_serve(settings: Settings, args: argparse.Namespace, demo_banner: bool = False) -> None:
    from hub import demo
    from hub.app import create_app
    from hub.server import run

    # Bound first: a busy port is reported before any migration or seeding.
    sock = _bind_or_exit(args.host, args.port)
    if args.demo and not demo_banner:
        _migrate(settings)
        asyncio.run(_with_engine(settings, lambda e: demo.seed(e, settings.data_dir)))
        demo_banner = True
    if demo_banner:
        settings = settings.with_(demo=True)
    port = sock.getsockname()[1]
    everywhere = args.host in ("0.0.0.0", "::")
    shown = "127.0.0.1" if everywhere else args.host
    url = f"http://{shown}:{port}/"
    lines = [f"Session Hub listening on {url}  (WebSocket: ws://{shown}:{port}/ws)"]
    if everywhere:
        lan = _lan_address()
        if lan is not None:
            lines.append(f"On this network: http://{lan}:{port}/")
    if demo_banner:
        lines.append(f"Demo accounts (password {demo.PASSWORD}):")
        lines += [f"  {u:<12} {who}" for u, who in demo.logins()]
    print("\n".join(lines), flush=True)
    app = create_app(settings)
    run(app, settings, sock, log_level=args.log_level, access_log=False)


async def _check_meetings(conn: Any, meeting_ids: list[int]) -> None:
    """Each ``--meeting`` exists, checked before anything is inserted (the account's own
    references are checked by ``create_user``, one clear error per cause)."""
    import sqlalchemy as sa

    from hub.errors import NotFound
    from hub.session.schema import meetings

    for m in meeting_ids:
        row = await conn.execute(sa.select(sa.literal(1)).where(meetings.c.id == m).limit(1))
        if row.first() is None:
            raise NotFound(f"meeting {m} does not exist")


def cmd_user_add(settings: Settings, args: argparse.Namespace) -> None:
    from hub.auth import Tokens, check_password_policy
    from hub.clock import Clock
    from hub.node import Writer
    from hub.services import load_secret
    from hub.session import setup
    from hub.session.common import SYSTEM
    from hub.session.members import add_participants, create_user

    if args.password is not None:
        check_password_policy(args.password, args.username)

    async def go(engine: Any) -> dict[str, Any]:
        async with engine.begin() as conn:
            await _check_meetings(conn, args.meeting or [])
            uid = await create_user(
                conn,
                args.username,
                args.name or args.username,
                args.role,
                password=args.password,
                delegation_id=args.delegation,
                unit_id=args.unit,
                phone=args.phone,
                preferred_contact=args.contact,
            )
            for m in dict.fromkeys(args.meeting or []):  # a repeated --meeting once
                await add_participants(conn, m, [uid])
            # logged like an admin's on the console, sent by the hub itself
            await setup.account_created(Writer(conn, Clock(settings.timezone)), SYSTEM, uid)
        tokens = Tokens(load_secret(settings), settings.token_ttl)
        return {"id": uid, "token": tokens.issue(uid, 0)}

    _print(asyncio.run(_with_engine(settings, go)))


def cmd_token(settings: Settings, args: argparse.Namespace) -> None:
    from hub.auth import Tokens
    from hub.identity import load_principal, user_id_by_name
    from hub.services import load_secret

    async def go(engine: Any) -> dict[str, Any]:
        uid = await user_id_by_name(engine, args.user)
        me = await load_principal(engine, uid)
        tokens = Tokens(load_secret(settings), settings.token_ttl)
        return {"id": uid, "token": tokens.issue(uid, me.token_version, args.ttl)}

    _print(asyncio.run(_with_engine(settings, go)))


def cmd_verify(settings: Settings, args: argparse.Namespace) -> None:
    from hub.supervision.verify import verify_log

    report = asyncio.run(_with_engine(settings, lambda e: verify_log(e, args.channel)))
    _print(report.as_dict())
    if not report.ok:
        raise SystemExit(1)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="hub", description="Session Hub")
    sub = ap.add_subparsers(dest="command", required=True)

    def serve_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=8000, help="0 picks a free port")
        p.add_argument(
            "--log-level",
            default="warning",
            help="uvicorn's (default warning: its start-up lines would follow the URL)",
        )

    p = sub.add_parser("serve", help="run the hub (HTTP + WebSocket)")
    serve_args(p)
    p.add_argument("--demo", action="store_true", help="migrate and seed the demo first")
    p.set_defaults(fn=cmd_serve)

    p = sub.add_parser("migrate", help="create or upgrade the database schema")
    p.set_defaults(fn=cmd_migrate)

    p = sub.add_parser("demo", help="seed a demo meeting with accounts (idempotent)")
    p.add_argument("--serve", action="store_true", help="then serve")
    p.add_argument(
        "--size",
        choices=("demo", "city", "province"),
        default="demo",
        help="demo: a few of each; city: 400 deputies, 1,000 opinions; province: 800, 3,000",
    )
    serve_args(p)
    p.set_defaults(fn=cmd_demo, demo=True)

    p = sub.add_parser("user", help="manage accounts")
    usub = p.add_subparsers(dest="user_command", required=True)
    a = usub.add_parser("add", help="create an account; prints its id and a token as JSON")
    a.add_argument("--username", required=True)
    a.add_argument("--name")
    a.add_argument(
        "--role", required=True, choices=("deputy", "secretariat", "unit", "supervisor", "admin")
    )
    a.add_argument("--password")
    a.add_argument("--delegation", type=int)
    a.add_argument("--unit", type=int)
    a.add_argument("--phone", help="the roster's mobile (手机), e.g. 13905801234")
    a.add_argument(
        "--contact",
        choices=("phone", "sms", "wechat", "in_person"),
        help="preferred contact (首选联系方式): 电话, 短信, 微信, 当面",
    )
    a.add_argument("--meeting", type=int, action="append", help="add as participant")
    a.set_defaults(fn=cmd_user_add)

    p = sub.add_parser("token", help="print a fresh access token for USER (name or id)")
    p.add_argument("user")
    p.add_argument("--ttl", type=int, help="seconds (default HUB_TOKEN_TTL)")
    p.set_defaults(fn=cmd_token)

    p = sub.add_parser(
        "verify", help="recompute the message hash chains; exit 1 if a link is broken"
    )
    p.add_argument("--channel", help="only this channel (default: all)")
    p.set_defaults(fn=cmd_verify)
    return ap


def main(argv: list[str] | None = None) -> None:
    # Before anything is created: the database, its WAL, the secret and uploaded files
    # are readable by this account alone (0600, directories 0700), never group or world.
    os.umask(0o077)
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Alembic's INFO lines (a dozen plugin and "Context impl" lines on every run, even with
    # nothing to migrate) pushed `hub serve --demo`'s URL and logins off the screen; its
    # warnings and errors still show.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from hub.errors import HubError

    try:
        args.fn(Settings.from_env(), args)
    except HubError as e:
        sys.stderr.write(f"hub: {e.code}: {e.message}\n")
        raise SystemExit(2) from None

"""DingTalk's and WeCom's open APIs on this machine, speaking their documented wire format:
the token from the app's key and secret, every call refused without a valid
``access_token`` (40014; 42001 once a token is expired), the directory's lookup of a user
id by mobile number, and the work notification / app message, whose duplicate (the same
text to the same person) is answered as sent but delivered once, as the providers do.

Each user's answers are scripted in turn: ``ok``, ``busy`` (errcode -1), ``fail``
(a refusal for good), ``hang`` (taken, the answer never sent in time).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

KEY = "dingappkey0001"
SECRET = "im-secret-Qw8e7r6t5y"
AGENT = "2000123"


@dataclass
class Delivered:
    user: str
    text: str


@dataclass
class WorkImServer:
    kind: str  # dingtalk | wecom
    directory: dict[str, str] = field(default_factory=dict)  # mobile -> user id
    script: dict[str, list[str]] = field(default_factory=dict)  # user id -> answers
    sends: list[tuple[str, str]] = field(default_factory=list)  # (user, answer) per request
    delivered: list[Delivered] = field(default_factory=list)
    tokens_issued: int = 0
    origin: str = ""
    _valid: set[str] = field(default_factory=set)
    _closing: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None

    def expire_tokens(self) -> None:
        self._valid.clear()

    def _check_token(self, request: web.Request) -> web.Response | None:
        token = request.query.get("access_token", "")
        if token in self._valid:
            return None
        code = 42001 if token else 40014
        return web.json_response({"errcode": code, "errmsg": "access_token invalid or expired"})

    async def _token(self, request: web.Request) -> web.Response:
        q = request.query
        ok = (
            (q.get("appkey"), q.get("appsecret")) == (KEY, SECRET)
            if self.kind == "dingtalk"
            else (q.get("corpid"), q.get("corpsecret")) == (KEY, SECRET)
        )
        if not ok:
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        token = secrets.token_hex(16)
        self._valid.add(token)
        self.tokens_issued += 1
        return web.json_response(
            {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200}
        )

    async def _lookup(self, request: web.Request) -> web.Response:
        refused = self._check_token(request)
        if refused:
            return refused
        mobile = json.loads(await request.read())["mobile"]
        user = self.directory.get(mobile)
        if self.kind == "dingtalk":
            if user is None:
                return web.json_response({"errcode": 60121, "errmsg": "找不到该用户"})
            return web.json_response({"errcode": 0, "errmsg": "ok", "result": {"userid": user}})
        if user is None:
            return web.json_response({"errcode": 46004, "errmsg": "user no exist"})
        return web.json_response({"errcode": 0, "errmsg": "ok", "userid": user})

    async def _send(self, request: web.Request) -> web.Response:
        refused = self._check_token(request)
        if refused:
            return refused
        p: dict[str, Any] = json.loads(await request.read())
        if self.kind == "dingtalk":
            assert p["agent_id"] == int(AGENT) and p["msg"]["msgtype"] == "text", p
            user, text = p["userid_list"], p["msg"]["text"]["content"]
        else:
            assert p["agentid"] == int(AGENT) and p["msgtype"] == "text", p
            assert p["enable_duplicate_check"] == 1 and p["duplicate_check_interval"] <= 14400
            user, text = p["touser"], p["text"]["content"]
        answer = self.script.get(user, []).pop(0) if self.script.get(user) else "ok"
        self.sends.append((user, answer))
        if answer == "busy":
            return web.json_response({"errcode": -1, "errmsg": "系统繁忙"})
        if answer == "fail":
            return web.json_response({"errcode": 33012, "errmsg": "无效的userid"})
        if not any(d.user == user and d.text == text for d in self.delivered):
            self.delivered.append(Delivered(user, text))  # a duplicate is dropped
        if answer == "hang":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), 3600)
        if self.kind == "dingtalk":
            return web.json_response({"errcode": 0, "task_id": len(self.sends), "request_id": "r"})
        return web.json_response(
            {"errcode": 0, "errmsg": "ok", "invaliduser": "", "msgid": f"m{len(self.sends)}"}
        )

    async def start(self) -> WorkImServer:
        app = web.Application()
        if self.kind == "dingtalk":
            app.router.add_get("/gettoken", self._token)
            app.router.add_post("/topapi/v2/user/getbymobile", self._lookup)
            app.router.add_post("/topapi/message/corpconversation/asyncsend_v2", self._send)
        else:
            app.router.add_get("/cgi-bin/gettoken", self._token)
            app.router.add_post("/cgi-bin/user/getuserid", self._lookup)
            app.router.add_post("/cgi-bin/message/send", self._send)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.origin = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def env(self) -> dict[str, Any]:
        return {
            "im_provider": self.kind,
            "im_endpoint": self.origin,
            "im_key": KEY,
            "im_secret": SECRET,
            "im_agent_id": AGENT,
        }

"""Alibaba Cloud SMS (dysmsapi 2017-05-25) on this machine, speaking its documented wire
format: it takes the hub's real POST, checks every common parameter and the RPC signature
(v1.0, HMAC-SHA1 over the sorted, percent-encoded parameters, keyed with the AccessKey
secret + "&"), refuses a reused nonce or a stale timestamp as the provider does, and
answers SendSms and QuerySendDetails.

Each phone number's answers are scripted, in turn: ``ok`` (Code OK with a BizId),
``throttle`` (isv.BUSINESS_LIMIT_CONTROL), ``fail`` (isv.MOBILE_NUMBER_ILLEGAL), ``down``
(HTTP 503 with no JSON), ``hang`` (accepted and kept, the answer never sent in time);
``ok`` once the script is used up. ``down_all`` makes every request a 503 (an outage).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote

from aiohttp import web

KEY_ID = "LTAI5tTestKeyId0001"
SECRET = "test-secret-Zx9w7uQ2aLmN3pR5"
SIGN_NAME = "会议服务"
TEMPLATE = "SMS_480150001"
CHINA = timedelta(hours=8)


def _enc(v: str) -> str:
    return quote(v, safe="-_.~")


def expected_signature(params: dict[str, str], secret: str = SECRET) -> str:
    """Written from the provider's documentation, apart from the hub's code."""
    canonical = "&".join(
        _enc(k) + "=" + _enc(params[k]) for k in sorted(params) if k != "Signature"
    )
    to_sign = "POST&" + _enc("/") + "&" + _enc(canonical)
    mac = hmac.new((secret + "&").encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


@dataclass
class Sent:
    phone: str
    out_id: str
    params: dict[str, str]
    answer: str
    at: datetime


@dataclass
class AliyunSmsServer:
    script: dict[str, list[str]] = field(default_factory=dict)
    sends: list[Sent] = field(default_factory=list)  # every SendSms request checked
    queries: list[dict[str, str]] = field(default_factory=list)
    down_all: bool = False
    origin: str = ""
    _nonces: set[str] = field(default_factory=set)
    _runner: web.AppRunner | None = None
    _closing: asyncio.Event = field(default_factory=asyncio.Event)

    def accepted(self, phone: str | None = None) -> list[Sent]:
        return [s for s in self.sends if s.answer in ("ok", "hang") and phone in (None, s.phone)]

    def tried(self, phone: str) -> list[str]:
        return [s.answer for s in self.sends if s.phone == phone]

    def _check(self, p: dict[str, str]) -> str | None:
        """The provider's checks of a signed request: an error code, or None."""
        for k in (
            "AccessKeyId",
            "Action",
            "Format",
            "RegionId",
            "SignatureMethod",
            "SignatureNonce",
            "SignatureVersion",
            "Timestamp",
            "Version",
            "Signature",
        ):
            if not p.get(k):
                return "MissingParameter"
        assert p["Format"] == "JSON" and p["Version"] == "2017-05-25", p
        assert p["SignatureMethod"] == "HMAC-SHA1" and p["SignatureVersion"] == "1.0", p
        if p["AccessKeyId"] != KEY_ID:
            return "InvalidAccessKeyId.NotFound"
        if p["Signature"] != expected_signature(p):
            return "SignatureDoesNotMatch"
        ts = datetime.strptime(p["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        if abs((datetime.now(UTC) - ts).total_seconds()) > 15 * 60:
            return "InvalidTimeStamp.Expired"
        if p["SignatureNonce"] in self._nonces:
            return "SignatureNonceUsed"
        self._nonces.add(p["SignatureNonce"])
        return None

    async def _handle(self, request: web.Request) -> web.Response:
        assert request.method == "POST"
        assert request.headers["content-type"].startswith("application/x-www-form-urlencoded")
        p = dict(parse_qsl((await request.read()).decode(), keep_blank_values=True))
        p.update(request.query)
        if self.down_all:
            return web.Response(status=503, text="Service Unavailable")
        err = self._check(p)
        rid = f"req-{time.monotonic_ns()}"
        if err is not None:
            status = 404 if err == "InvalidAccessKeyId.NotFound" else 400
            return web.json_response({"Code": err, "Message": err, "RequestId": rid}, status=status)
        if p["Action"] == "SendSms":
            return await self._send(p, rid)
        if p["Action"] == "QuerySendDetails":
            return self._query(p, rid)
        return web.json_response({"Code": "InvalidAction.NotFound", "RequestId": rid}, status=404)

    async def _send(self, p: dict[str, str], rid: str) -> web.Response:
        assert p["SignName"] == SIGN_NAME and p["TemplateCode"] == TEMPLATE, p
        params = json.loads(p["TemplateParam"])
        assert all(isinstance(v, str) for v in params.values()), "values must be strings"
        phone = p["PhoneNumbers"]
        if not (len(phone) == 11 and phone.isdigit() and phone[0] == "1"):
            answer = "fail"
        else:
            answer = self.script.get(phone, []).pop(0) if self.script.get(phone) else "ok"
        self.sends.append(Sent(phone, p.get("OutId", ""), params, answer, datetime.now(UTC)))
        if answer == "down":
            return web.Response(status=503, text="Service Unavailable")
        if answer == "throttle":
            return web.json_response(
                {
                    "Code": "isv.BUSINESS_LIMIT_CONTROL",
                    "Message": "触发分钟级流控",
                    "RequestId": rid,
                }
            )
        if answer == "fail":
            return web.json_response(
                {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法手机号", "RequestId": rid}
            )
        if answer == "hang":
            # The hub's timeout, or its death, comes first (or the test's end).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), 3600)
        return web.json_response(
            {"Code": "OK", "Message": "OK", "BizId": f"9{len(self.sends):05d}^0", "RequestId": rid}
        )

    def _query(self, p: dict[str, str], rid: str) -> web.Response:
        self.queries.append(p)
        page, size = int(p["CurrentPage"]), int(p["PageSize"])
        assert 1 <= size <= 50
        day = p["SendDate"]
        mine = [
            s
            for s in self.sends
            if s.phone == p["PhoneNumber"]
            and (s.at + CHINA).strftime("%Y%m%d") == day
            and s.answer in ("ok", "hang")
        ]
        part = mine[(page - 1) * size : page * size]
        return web.json_response(
            {
                "Code": "OK",
                "Message": "OK",
                "RequestId": rid,
                "TotalCount": len(mine),
                "SmsSendDetailDTOs": {
                    "SmsSendDetailDTO": [
                        {"PhoneNum": s.phone, "OutId": s.out_id, "SendStatus": 3, "Content": "…"}
                        for s in part
                    ]
                },
            }
        )

    async def start(self) -> AliyunSmsServer:
        app = web.Application()
        app.router.add_post("/", self._handle)
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
        """The hub's settings for this provider (as keyword arguments of Settings)."""
        return {
            "sms_provider": "aliyun",
            "sms_endpoint": self.origin + "/",
            "sms_key_id": KEY_ID,
            "sms_key_secret": SECRET,
            "sms_sign_name": SIGN_NAME,
            "sms_template": TEMPLATE,
        }

"""Tencent Cloud SMS (API 3.0, 2021-01-11) on this machine, speaking its documented wire
format: it takes the hub's real POST, checks the ``X-TC-*`` headers and recomputes the
TC3-HMAC-SHA256 signature from the documentation (canonical request, string to sign,
derived key), refuses a stale timestamp, and answers ``SendSms`` and
``PullSmsSendStatusByPhoneNumber`` (the delivery reports, with each send's
``SessionContext``).

Each number's answers are scripted in turn, like the Alibaba Cloud one's: ``ok``,
``throttle`` (LimitExceeded.PhoneNumberThirtySecondLimit in the send's status), ``fail``
(InvalidParameterValue.IncorrectPhoneNumber), ``down`` (HTTP 502), ``hang``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

SECRET_ID = "AKIDtestSecretId000000000000000001"
SECRET_KEY = "testSecretKey0000000000000000001"
APP_ID = "1400000001"
SIGN_NAME = "会议服务"
TEMPLATE = "2000001"


def expected_authorization(headers: dict[str, str], body: bytes, host: str) -> str:
    """Written from the provider's documentation, apart from the hub's code."""
    ts = int(headers["x-tc-timestamp"])
    day = time.strftime("%Y-%m-%d", time.gmtime(ts))
    canonical_headers = f"content-type:{headers['content-type']}\nhost:{host}\n"
    canonical_request = "POST\n/\n\n" + canonical_headers + "\ncontent-type;host\n"
    canonical_request += hashlib.sha256(body).hexdigest()
    scope = day + "/sms/tc3_request"
    string_to_sign = (
        "TC3-HMAC-SHA256\n"
        + str(ts)
        + "\n"
        + scope
        + "\n"
        + hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
    )

    def h(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()

    signing = h(h(h(("TC3" + SECRET_KEY).encode("utf-8"), day), "sms"), "tc3_request")
    sig = hmac.new(signing, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    return (
        "TC3-HMAC-SHA256 Credential="
        + SECRET_ID
        + "/"
        + scope
        + ", SignedHeaders=content-type;host, Signature="
        + sig
    )


@dataclass
class Sent:
    phone: str
    context: str
    params: list[str]
    answer: str
    at: float


@dataclass
class TencentSmsServer:
    script: dict[str, list[str]] = field(default_factory=dict)
    sends: list[Sent] = field(default_factory=list)
    pulls: list[dict[str, Any]] = field(default_factory=list)
    origin: str = ""
    _runner: web.AppRunner | None = None
    _closing: asyncio.Event = field(default_factory=asyncio.Event)

    def accepted(self) -> list[Sent]:
        return [s for s in self.sends if s.answer in ("ok", "hang")]

    def tried(self, phone: str) -> list[str]:
        return [s.answer for s in self.sends if s.phone == phone]

    @staticmethod
    def _error(code: str) -> web.Response:
        return web.json_response(
            {"Response": {"Error": {"Code": code, "Message": code}, "RequestId": "r"}}
        )

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        h = {k.lower(): v for k, v in request.headers.items()}
        assert h["content-type"] == "application/json; charset=utf-8"
        assert h["x-tc-version"] == "2021-01-11" and h["x-tc-region"], h
        if h.get("authorization") != expected_authorization(h, body, request.host):
            return self._error("AuthFailure.SignatureFailure")
        if abs(time.time() - int(h["x-tc-timestamp"])) > 300:
            return self._error("AuthFailure.SignatureExpire")
        p = json.loads(body)
        if h["x-tc-action"] == "SendSms":
            return await self._send(p)
        if h["x-tc-action"] == "PullSmsSendStatusByPhoneNumber":
            return self._pull(p)
        return self._error("InvalidAction")

    async def _send(self, p: dict[str, Any]) -> web.Response:
        assert p["SmsSdkAppId"] == APP_ID and p["SignName"] == SIGN_NAME, p
        assert p["TemplateId"] == TEMPLATE and all(
            isinstance(x, str) for x in p["TemplateParamSet"]
        )
        [number] = p["PhoneNumberSet"]
        assert number.startswith("+86"), number
        phone = number[3:]
        answer = self.script.get(phone, []).pop(0) if self.script.get(phone) else "ok"
        if not (len(phone) == 11 and phone.isdigit()):
            answer = "fail"
        self.sends.append(
            Sent(phone, p.get("SessionContext", ""), p["TemplateParamSet"], answer, time.time())
        )
        if answer == "down":
            return web.Response(status=502, text="Bad Gateway")
        if answer == "hang":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), 3600)
        code, message = {
            "ok": ("Ok", "send success"),
            "hang": ("Ok", "send success"),
            "throttle": ("LimitExceeded.PhoneNumberThirtySecondLimit", "30秒内发送过短信"),
            "fail": ("InvalidParameterValue.IncorrectPhoneNumber", "手机号格式错误"),
        }[answer]
        return web.json_response(
            {
                "Response": {
                    "SendStatusSet": [
                        {
                            "SerialNo": f"5000:{len(self.sends)}",
                            "PhoneNumber": number,
                            "Fee": 1,
                            "SessionContext": p.get("SessionContext", ""),
                            "Code": code,
                            "Message": message,
                            "IsoCode": "CN",
                        }
                    ],
                    "RequestId": "r",
                }
            }
        )

    def _pull(self, p: dict[str, Any]) -> web.Response:
        self.pulls.append(p)
        assert p["SmsSdkAppId"] == APP_ID and 0 < p["Limit"] <= 100
        phone = p["PhoneNumber"][3:]
        mine = [
            s
            for s in self.sends
            if s.phone == phone and s.answer in ("ok", "hang") and s.at >= p["BeginTime"]
        ]
        part = mine[p["Offset"] : p["Offset"] + p["Limit"]]
        return web.json_response(
            {
                "Response": {
                    "PullSmsSendStatusSet": [
                        {
                            "UserReceiveTime": int(s.at),
                            "CountryCode": "86",
                            "SubscriberNumber": s.phone,
                            "PhoneNumber": "+86" + s.phone,
                            "SerialNo": "5000",
                            "ReportStatus": "SUCCESS",
                            "Description": "用户短信送达成功",
                            "SessionContext": s.context,
                        }
                        for s in part
                    ],
                    "RequestId": "r",
                }
            }
        )

    async def start(self) -> TencentSmsServer:
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
        return {
            "sms_provider": "tencent",
            "sms_endpoint": self.origin + "/",
            "sms_key_id": SECRET_ID,
            "sms_key_secret": SECRET_KEY,
            "sms_app_id": APP_ID,
            "sms_sign_name": SIGN_NAME,
            "sms_template": TEMPLATE,
        }

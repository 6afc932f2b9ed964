"""Text messages through Alibaba Cloud SMS (短信服务, ``dysmsapi`` 2017-05-25).

``SendSms`` sends the configured template (``HUB_SMS_TEMPLATE``, a TemplateCode approved in
the console, e.g. "您有一条紧急会议通知：${title}，请打开会议应用查看。") with the signature
(``HUB_SMS_SIGN_NAME``) to one mobile number, its parameters as the JSON ``TemplateParam``,
and the hub's idempotency key as ``OutId`` (the provider keeps it with the send).
``QuerySendDetails`` lists what was sent to a number on a day, with each send's ``OutId``:
that is how a node that died between the provider's acceptance and recording it learns,
after the restart, that the message went out, and does not send it twice.

Every request is an RPC call signed as the provider documents (signature version 1.0):
the parameters (common ones included, ``Signature`` excluded) sorted by name, names and
values percent-encoded per RFC 3986 (space ``%20``, ``*`` ``%2A``, ``~`` kept), joined
``k=v&…``; the string to sign is ``POST&%2F&`` + that string percent-encoded once more;
the signature is Base64(HMAC-SHA1(AccessKeySecret + "&", string to sign)).

The AccessKey secret stays in this object: never logged, stored or shown; a phone number
appears in a log line only masked (:func:`hub.reach.mask`).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
import orjson

from hub.config import Settings
from hub.reach import Message, Outcome, Result

VERSION = "2017-05-25"
ENDPOINT = "https://dysmsapi.aliyuncs.com/"
REGION = "cn-hangzhou"
THROTTLED = {
    "isv.BUSINESS_LIMIT_CONTROL",  # the per-number limits (per minute, hour, day)
    "Throttling",
    "Throttling.User",
    "Throttling.Api",
    "isp.SYSTEM_ERROR",
    "ServiceUnavailable",
    "InternalError",
}
"""Codes that mean "not now": tried again after a back-off."""
CHINA = timedelta(hours=8)  # QuerySendDetails' SendDate is a day in Beijing time


def encode(value: str) -> str:
    """Percent-encoding as the signature wants it (RFC 3986 unreserved kept)."""
    return quote(value, safe="-_.~")


def string_to_sign(method: str, params: dict[str, str]) -> str:
    canonical = "&".join(f"{encode(k)}={encode(params[k])}" for k in sorted(params))
    return f"{method}&{encode('/')}&{encode(canonical)}"


def sign(secret: str, method: str, params: dict[str, str]) -> str:
    digest = hmac.new(
        (secret + "&").encode(), string_to_sign(method, params).encode(), hashlib.sha1
    ).digest()
    return base64.b64encode(digest).decode()


def require(provider: str, settings: Settings, *extra: tuple[str, str]) -> None:
    """Exit with one line naming every setting the SMS ``provider`` needs and lacks."""
    needed = (
        ("HUB_SMS_KEY_ID", settings.sms_key_id),
        ("HUB_SMS_KEY_SECRET", settings.sms_key_secret),
        ("HUB_SMS_SIGN_NAME", settings.sms_sign_name),
        ("HUB_SMS_TEMPLATE", settings.sms_template),
        *extra,
    )
    missing = [env for env, value in needed if not value]
    if missing:
        raise SystemExit(f"HUB_SMS_PROVIDER={provider} needs {', '.join(missing)}")


def check_endpoint(url: str) -> str:
    """The provider's endpoint: https, or http only to this machine (a test's server)."""
    u = urlsplit(url)
    if u.scheme == "https" and u.hostname:
        return url
    if u.scheme == "http" and u.hostname in ("127.0.0.1", "localhost", "::1"):
        return url
    raise SystemExit("HUB_SMS_ENDPOINT must be an https URL (http only to 127.0.0.1)")


class AliyunSms:
    name = "sms"
    provider = "aliyun"

    def __init__(self, settings: Settings) -> None:
        require("aliyun", settings)
        self.endpoint = check_endpoint(settings.sms_endpoint or ENDPOINT)
        self.region = settings.sms_region or REGION
        self._key_id = settings.sms_key_id
        self._secret = settings.sms_key_secret
        self.sign_name = settings.sms_sign_name
        self.template = settings.sms_template
        self.timeout = settings.sms_timeout
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"AliyunSms(endpoint={self.endpoint!r})"

    def _signed(self, action: str, params: dict[str, str]) -> dict[str, str]:
        p = {
            "AccessKeyId": self._key_id,
            "Action": action,
            "Format": "JSON",
            "RegionId": self.region,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": secrets.token_hex(16),
            "SignatureVersion": "1.0",
            "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": VERSION,
            **params,
        }
        p["Signature"] = sign(self._secret, "POST", p)
        return p

    async def _call(self, action: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if self._session is None:
            self._session = aiohttp.ClientSession(trust_env=True)  # HTTPS_PROXY
        body = "&".join(f"{encode(k)}={encode(v)}" for k, v in self._signed(action, params).items())
        async with asyncio.timeout(self.timeout):
            async with self._session.post(
                self.endpoint,
                data=body.encode(),
                headers={"content-type": "application/x-www-form-urlencoded"},
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as resp:
                raw = await resp.read()
                try:
                    answer = orjson.loads(raw) if raw else {}
                except orjson.JSONDecodeError:
                    answer = {}
                return resp.status, answer if isinstance(answer, dict) else {}

    @staticmethod
    def _judge(status: int, answer: dict[str, Any]) -> Result:
        code = str(answer.get("Code", ""))[:60]
        if status == 200 and code == "OK":
            return Result(Outcome.ACCEPTED, status, "OK", ref=str(answer.get("BizId", ""))[:60])
        if status == 429 or status >= 500 or code in THROTTLED or code.startswith("Throttling"):
            return Result(Outcome.RETRY, status, code or f"HTTP {status}")
        return Result(Outcome.FAILED, status, code or f"HTTP {status}")

    async def send(self, phone: str, message: Message, key: str) -> Result:
        try:
            status, answer = await self._call(
                "SendSms",
                {
                    "PhoneNumbers": phone,
                    "SignName": self.sign_name,
                    "TemplateCode": self.template,
                    "TemplateParam": orjson.dumps({"title": message.short()}).decode(),
                    "OutId": key,
                },
            )
        except (TimeoutError, aiohttp.ClientError, OSError) as e:
            return Result(Outcome.RETRY, None, type(e).__name__)
        return self._judge(status, answer)

    async def sent(self, phone: str, key: str, since: float) -> Result | None:
        """Looks through QuerySendDetails for each day (Beijing time) from ``since`` to
        today, 50 sends a page, for one tagged ``key``."""
        first = (datetime.fromtimestamp(since, UTC) + CHINA).date()
        today = (datetime.now(UTC) + CHINA).date()
        day = first
        try:
            while day <= today:
                page, seen = 1, 0
                while True:
                    status, answer = await self._call(
                        "QuerySendDetails",
                        {
                            "PhoneNumber": phone,
                            "SendDate": day.strftime("%Y%m%d"),
                            "PageSize": "50",
                            "CurrentPage": str(page),
                        },
                    )
                    r = self._judge(status, answer)
                    if r.outcome is not Outcome.ACCEPTED:
                        return Result(Outcome.RETRY, status, r.reason)
                    found = (answer.get("SmsSendDetailDTOs") or {}).get("SmsSendDetailDTO") or []
                    for d in found:
                        # SendStatus 1 waiting for the carrier's receipt, 2 failed, 3 delivered:
                        # 1 and 3 were accepted by the provider.
                        if d.get("OutId") == key and int(d.get("SendStatus", 0)) in (1, 3):
                            return Result(Outcome.ACCEPTED, status, "already accepted")
                    seen += len(found)
                    if not found or seen >= int(answer.get("TotalCount", 0)) or page >= 20:
                        break
                    page += 1
                day += timedelta(days=1)
        except (TimeoutError, aiohttp.ClientError, OSError) as e:
            return Result(Outcome.RETRY, None, type(e).__name__)
        return None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

"""Text messages through Tencent Cloud SMS (短信, API 3.0, version 2021-01-11).

``SendSms`` sends the approved template (``HUB_SMS_TEMPLATE``: its TemplateId, whose one
variable ``{1}`` is the notice's title) with the signature (``HUB_SMS_SIGN_NAME``) of the
application ``HUB_SMS_APP_ID`` (SmsSdkAppId) to one number (``+86…``), the hub's
idempotency key as ``SessionContext`` (returned with the send and with its delivery
report). ``PullSmsSendStatusByPhoneNumber`` lists a number's delivery reports with their
``SessionContext``: how a node that died between the provider's acceptance and recording
it learns that the message went out. A report comes from the carrier some seconds after
the send; until :data:`REPORT_WAIT` has passed since the job was made, "no report" means
"cannot say yet", never "not sent".

Every request is signed with TC3-HMAC-SHA256 as the provider documents: the canonical
request (``POST``, ``/``, an empty query, the headers ``content-type`` and ``host``, the
SHA-256 of the JSON body), hashed into the string to sign
(``TC3-HMAC-SHA256\\n<timestamp>\\n<date>/sms/tc3_request\\n<hash>``), signed with the key
derived from the SecretKey (``HMAC("TC3" + key, date)`` → ``sms`` → ``tc3_request``); the
``Authorization`` header names the SecretId, the scope and the signed headers. The
SecretKey stays in this object: never logged, stored or shown.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

from hub.config import Settings
from hub.reach import Message, Outcome, Result
from hub.reach.sms import check_endpoint, require

VERSION = "2021-01-11"
SERVICE = "sms"
ENDPOINT = "https://sms.tencentcloudapi.com/"
REGION = "ap-guangzhou"
REPORT_WAIT = 600.0  # seconds after which a send with no delivery report was not accepted
CONTENT_TYPE = "application/json; charset=utf-8"


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def authorization(
    secret_id: str, secret_key: str, host: str, payload: bytes, timestamp: int
) -> str:
    """The ``Authorization`` header of a POST with this JSON ``payload`` to ``host``."""
    day = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    canonical = "\n".join(
        [
            "POST",
            "/",
            "",
            f"content-type:{CONTENT_TYPE}\nhost:{host}\n",
            "content-type;host",
            hashlib.sha256(payload).hexdigest(),
        ]
    )
    scope = f"{day}/{SERVICE}/tc3_request"
    to_sign = "\n".join(
        [
            "TC3-HMAC-SHA256",
            str(timestamp),
            scope,
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )
    key = _hmac(_hmac(_hmac(("TC3" + secret_key).encode(), day), SERVICE), "tc3_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return (
        f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, "
        f"SignedHeaders=content-type;host, Signature={signature}"
    )


def e164(phone: str) -> str:
    digits = "".join(c for c in phone if c.isdigit())
    return phone if phone.startswith("+") else f"+86{digits}"


class TencentSms:
    name = "sms"
    provider = "tencent"

    def __init__(self, settings: Settings) -> None:
        require("tencent", settings, ("HUB_SMS_APP_ID", settings.sms_app_id))
        self.endpoint = check_endpoint(settings.sms_endpoint or ENDPOINT)
        self.host = urlsplit(self.endpoint).netloc
        self.region = settings.sms_region or REGION
        self._id = settings.sms_key_id
        self._key = settings.sms_key_secret
        self.app_id = settings.sms_app_id
        self.sign_name = settings.sms_sign_name
        self.template = settings.sms_template
        self.timeout = settings.sms_timeout
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"TencentSms(endpoint={self.endpoint!r})"

    async def _call(self, action: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if self._session is None:
            self._session = aiohttp.ClientSession(trust_env=True)  # HTTPS_PROXY
        payload = orjson.dumps(body)
        ts = int(time.time())
        headers = {
            "Authorization": authorization(self._id, self._key, self.host, payload, ts),
            "Content-Type": CONTENT_TYPE,
            "Host": self.host,
            "X-TC-Action": action,
            "X-TC-Timestamp": str(ts),
            "X-TC-Version": VERSION,
            "X-TC-Region": self.region,
        }
        async with asyncio.timeout(self.timeout):
            async with self._session.post(
                self.endpoint,
                data=payload,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as resp:
                raw = await resp.read()
                try:
                    answer = orjson.loads(raw) if raw else {}
                except orjson.JSONDecodeError:
                    answer = {}
                inner = answer.get("Response") if isinstance(answer, dict) else None
                return resp.status, inner if isinstance(inner, dict) else {}

    @staticmethod
    def _judge(status: int, answer: dict[str, Any]) -> Result:
        error = answer.get("Error") or {}
        sent = (answer.get("SendStatusSet") or [{}])[0]
        code = str(error.get("Code") or sent.get("Code") or "")[:60]
        if status == 200 and not error and code in ("Ok", ""):
            return Result(Outcome.ACCEPTED, status, "Ok", ref=str(sent.get("SerialNo", ""))[:60])
        if (
            status == 429
            or status >= 500
            or code.startswith(("LimitExceeded", "RequestLimitExceeded", "InternalError"))
            or code in ("ResourceUnavailable", "FailedOperation.ServiceUnavailable")
        ):
            return Result(Outcome.RETRY, status, code or f"HTTP {status}")
        return Result(Outcome.FAILED, status, code or f"HTTP {status}")

    async def send(self, phone: str, message: Message, key: str) -> Result:
        try:
            status, answer = await self._call(
                "SendSms",
                {
                    "PhoneNumberSet": [e164(phone)],
                    "SmsSdkAppId": self.app_id,
                    "SignName": self.sign_name,
                    "TemplateId": self.template,
                    "TemplateParamSet": [message.short()],
                    "SessionContext": key,
                },
            )
        except (TimeoutError, aiohttp.ClientError, OSError) as e:
            return Result(Outcome.RETRY, None, type(e).__name__)
        return self._judge(status, answer)

    async def sent(self, phone: str, key: str, since: float) -> Result | None:
        """The number's delivery reports since ``since``, 100 a page, for one tagged
        ``key``; none yet within :data:`REPORT_WAIT`: cannot say (retry)."""
        offset = 0
        try:
            while offset < 2000:
                status, answer = await self._call(
                    "PullSmsSendStatusByPhoneNumber",
                    {
                        "BeginTime": int(since) - 60,
                        "Offset": offset,
                        "Limit": 100,
                        "PhoneNumber": e164(phone),
                        "SmsSdkAppId": self.app_id,
                    },
                )
                if status != 200 or answer.get("Error"):
                    return Result(Outcome.RETRY, status, self._judge(status, answer).reason)
                found = answer.get("PullSmsSendStatusSet") or []
                if any(r.get("SessionContext") == key for r in found):
                    return Result(Outcome.ACCEPTED, status, "already accepted")
                if len(found) < 100:
                    break
                offset += 100
        except (TimeoutError, aiohttp.ClientError, OSError) as e:
            return Result(Outcome.RETRY, None, type(e).__name__)
        if time.time() - since < REPORT_WAIT:
            return Result(Outcome.RETRY, 200, "no delivery report yet")
        return None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

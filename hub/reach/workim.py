"""Government work IM: DingTalk work notifications (工作通知) and WeCom app messages (应用消息).

Both reach a person by the roster's mobile number, which the organisation's directory maps
to its own user id, through the provider's HTTP API with an ``access_token``:

* **DingTalk** (``HUB_IM_PROVIDER=dingtalk``, endpoint ``https://oapi.dingtalk.com``):
  ``GET /gettoken?appkey&appsecret``; ``POST /topapi/v2/user/getbymobile`` →
  ``result.userid``; ``POST /topapi/message/corpconversation/asyncsend_v2`` with
  ``agent_id``, ``userid_list`` and a ``text`` message.
* **WeCom** (``HUB_IM_PROVIDER=wecom``, endpoint ``https://qyapi.weixin.qq.com``):
  ``GET /cgi-bin/gettoken?corpid&corpsecret``; ``POST /cgi-bin/user/getuserid`` →
  ``userid``; ``POST /cgi-bin/message/send`` with ``touser``, ``agentid``, a ``text``
  message and ``enable_duplicate_check`` (4 hours).

The token is fetched once and kept until shortly before it expires; an answer saying it is
invalid or expired (40014, 42001) drops it and the call is made once more with a new one.
Neither API can be asked whether a message went out, but both drop a repeat: the same
text to the same person within WeCom's duplicate-check interval, or within the day for
DingTalk's work notifications. A message's text is the same for every attempt of one
notice (:meth:`hub.reach.Message.text`), so a send in doubt is simply sent again and the
provider keeps one. The app secret stays in this object: never logged, stored or shown.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import orjson

from hub.config import Settings
from hub.reach import Message, Outcome, Result
from hub.reach.sms import check_endpoint

TOKEN_INVALID = {40001, 40014, 42001}
NO_ACCOUNT = {60121, 46004, 60111}  # no such user for that mobile number


class WorkIm:
    """What DingTalk and WeCom share: the token, the calls, reading an ``errcode``."""

    name = ""
    provider = ""
    default_endpoint = ""
    busy: frozenset[int] = frozenset({-1})

    def __init__(self, settings: Settings) -> None:
        missing = [
            env
            for env, value in (
                ("HUB_IM_KEY", settings.im_key),
                ("HUB_IM_SECRET", settings.im_secret),
                ("HUB_IM_AGENT_ID", settings.im_agent_id),
            )
            if not value
        ]
        if missing:
            raise SystemExit(f"HUB_IM_PROVIDER={self.provider} needs {', '.join(missing)}")
        try:
            self.agent_id = int(settings.im_agent_id)
        except ValueError:
            raise SystemExit("HUB_IM_AGENT_ID must be the app's numeric agent id") from None
        self.endpoint = check_endpoint(settings.im_endpoint or self.default_endpoint).rstrip("/")
        self._key = settings.im_key
        self._secret = settings.im_secret
        self.timeout = settings.sms_timeout
        self._session: aiohttp.ClientSession | None = None
        self._token: tuple[str, float] | None = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(endpoint={self.endpoint!r})"

    def _token_query(self) -> tuple[str, dict[str, str]]:
        raise NotImplementedError

    async def _http(
        self, method: str, path: str, params: dict[str, str], body: Any = None
    ) -> dict[str, Any]:
        if self._session is None:
            self._session = aiohttp.ClientSession(trust_env=True)  # HTTPS_PROXY
        async with asyncio.timeout(self.timeout):
            async with self._session.request(
                method,
                self.endpoint + path,
                params=params,
                data=None if body is None else orjson.dumps(body),
                headers={"content-type": "application/json"} if body is not None else {},
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as resp:
                if resp.status >= 500 or resp.status == 429:
                    return {"errcode": -1, "status": resp.status}
                raw = await resp.read()
                try:
                    answer = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    return {"errcode": -1, "status": resp.status}
                return answer if isinstance(answer, dict) else {"errcode": -1}

    async def _access_token(self) -> str:
        async with self._lock:
            if self._token is not None and self._token[1] > time.monotonic():
                return self._token[0]
            path, query = self._token_query()
            answer = await self._http("GET", path, query)
            if answer.get("errcode", 0) != 0 or not answer.get("access_token"):
                raise _Refused(int(answer.get("errcode", -1)))
            ttl = float(answer.get("expires_in", 7200))
            self._token = (str(answer["access_token"]), time.monotonic() + max(60.0, ttl - 300))
            return self._token[0]

    async def _call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """A POST with the token; once more with a new token if it was refused."""
        for _ in range(2):
            token = await self._access_token()
            answer = await self._http("POST", path, {"access_token": token}, body)
            if int(answer.get("errcode", 0)) in TOKEN_INVALID:
                self._token = None
                continue
            return answer
        return answer

    def _judge(self, code: int, what: str) -> Result:
        if code in self.busy:
            return Result(Outcome.RETRY, 200, f"{what} errcode {code}")
        if code in NO_ACCOUNT:
            return Result(Outcome.FAILED, 200, "no_account")
        return Result(Outcome.FAILED, 200, f"{what} errcode {code}")

    async def _user(self, phone: str) -> str | Result:
        raise NotImplementedError

    async def _deliver(self, user: str, message: Message) -> Result:
        raise NotImplementedError

    async def send(self, phone: str, message: Message, key: str) -> Result:
        try:
            user = await self._user(phone)
            if isinstance(user, Result):
                return user
            return await self._deliver(user, message)
        except _Refused as e:
            return self._judge(e.code, "token")
        except (TimeoutError, aiohttp.ClientError, OSError) as e:
            return Result(Outcome.RETRY, None, type(e).__name__)

    async def sent(self, phone: str, key: str, since: float) -> Result | None:
        return None  # sending the same text again is dropped by the provider (above)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class _Refused(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class DingTalk(WorkIm):
    name = "dingtalk"
    provider = "dingtalk"
    default_endpoint = "https://oapi.dingtalk.com"
    busy = frozenset({-1, 90002, 90006, 90018})  # system busy, rate limits

    def _token_query(self) -> tuple[str, dict[str, str]]:
        return "/gettoken", {"appkey": self._key, "appsecret": self._secret}

    async def _user(self, phone: str) -> str | Result:
        a = await self._call("/topapi/v2/user/getbymobile", {"mobile": phone})
        code = int(a.get("errcode", -1))
        if code != 0 or not (a.get("result") or {}).get("userid"):
            return self._judge(code, "getbymobile")
        return str(a["result"]["userid"])

    async def _deliver(self, user: str, message: Message) -> Result:
        a = await self._call(
            "/topapi/message/corpconversation/asyncsend_v2",
            {
                "agent_id": self.agent_id,
                "userid_list": user,
                "msg": {"msgtype": "text", "text": {"content": message.text()}},
            },
        )
        code = int(a.get("errcode", -1))
        if code == 0:
            return Result(Outcome.ACCEPTED, 200, "ok", ref=str(a.get("task_id", ""))[:60])
        return self._judge(code, "asyncsend_v2")


class WeCom(WorkIm):
    name = "wecom"
    provider = "wecom"
    default_endpoint = "https://qyapi.weixin.qq.com"
    busy = frozenset({-1, 45009, 45033})  # system busy, frequency and concurrency limits

    def _token_query(self) -> tuple[str, dict[str, str]]:
        return "/cgi-bin/gettoken", {"corpid": self._key, "corpsecret": self._secret}

    async def _user(self, phone: str) -> str | Result:
        a = await self._call("/cgi-bin/user/getuserid", {"mobile": phone})
        code = int(a.get("errcode", -1))
        if code != 0 or not a.get("userid"):
            return self._judge(code, "getuserid")
        return str(a["userid"])

    async def _deliver(self, user: str, message: Message) -> Result:
        a = await self._call(
            "/cgi-bin/message/send",
            {
                "touser": user,
                "msgtype": "text",
                "agentid": self.agent_id,
                "text": {"content": message.text()},
                "safe": 0,
                "enable_duplicate_check": 1,
                "duplicate_check_interval": 14400,
            },
        )
        code = int(a.get("errcode", -1))
        if code == 0 and not a.get("invaliduser"):
            return Result(Outcome.ACCEPTED, 200, "ok", ref=str(a.get("msgid", ""))[:60])
        if code == 0:
            return Result(Outcome.FAILED, 200, "no_account")
        return self._judge(code, "message/send")

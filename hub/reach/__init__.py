"""Reaching people who have no page open: the channels and their one interface.

A notice reaches an open page over its WebSocket. A deputy whose phone is locked in a
pocket has no page open; for them the hub sends the notice through a **reach channel**:
Web Push to each browser they registered (``hub.reach.webpush``), or, with nothing
configured, a channel that only logs what it would send (``hub.reach.logged``), so the
demo runs with nothing set up. The channel is chosen by configuration, like the broker
(:func:`make_reach`).

A channel only sends: one payload to one device, and says what the provider answered
(:class:`Result`). Who is sent what, when, how often, and what is recorded of it is the
dispatcher's (``hub.reach.dispatch``), the same for every channel.

The second kind of channel reaches a *person*, not a device: a text message to the
roster's mobile number (:class:`Texter`: Alibaba Cloud SMS in ``hub.reach.sms``, Tencent
Cloud SMS in ``hub.reach.tencent``, DingTalk or WeCom in ``hub.reach.workim``, or the
channel that logs), used when an urgent notice is still unread after a delay
(``hub.reach.escalate``). A text message cannot be recalled or replaced, so such a
channel also answers whether the provider already accepted a send with a given key
(:meth:`Texter.sent`): a node that died between the provider's acceptance and recording
it never sends it twice.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Protocol

from hub.config import Settings


class Outcome(enum.StrEnum):
    ACCEPTED = "accepted"  # the provider took it (201): never sent again
    GONE = "gone"  # the device's subscription no longer exists (404, 410): removed
    RETRY = "retry"  # the provider is busy or down (429, 5xx, timeout): tried again later
    FAILED = "failed"  # refused for good (400, 403, 413 ...): not tried again


@dataclass(frozen=True)
class Device:
    """One registered browser of one person (a ``push_subscriptions`` row)."""

    id: int
    user_id: int
    endpoint: str
    p256dh: str
    auth: str


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    status: int | None = None  # the provider's HTTP status, if it answered
    reason: str = ""  # a short reason, never a secret nor the provider's body
    retry_after: float | None = None  # seconds the provider asked us to wait
    ref: str = ""  # the provider's id of an accepted send (a receipt number), if any


class Reach(Protocol):
    """One reach channel: sends one payload to one device."""

    name: str  # the channel's name in the log: "webpush"

    @property
    def public_key(self) -> str | None:
        """The key a browser subscribes with (VAPID application server key), if any."""
        ...

    async def send(self, device: Device, payload: dict[str, Any], topic: str) -> Result:
        """Send ``payload`` to ``device``; ``topic`` names the send so that a push
        service replaces a copy it still holds instead of delivering it twice."""
        ...

    async def close(self) -> None: ...


def make_reach(settings: Settings) -> Reach:
    """Web Push when ``HUB_VAPID_PRIVATE_KEY`` is set, else the channel that logs."""
    if settings.vapid_private_key:
        from hub.reach.webpush import WebPush

        return WebPush(settings)
    from hub.reach.logged import Logged

    return Logged()


def mask(phone: str) -> str:
    """A phone number as the log, the pages and the record show it: its first three and
    last four digits (``138****5678``); the whole number is only ever sent to the
    provider."""
    digits = "".join(c for c in phone if c.isdigit())
    if len(digits) < 8:
        return "*" * len(digits)
    return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"


@dataclass(frozen=True)
class Message:
    """What a text message says: the title of a notice or an item and its number (never
    its text); ``about`` is ``notice``, ``item`` (handed to the unit) or ``overdue``."""

    title: str
    notice: int
    about: str = "notice"

    def short(self, limit: int = 20) -> str:
        """The title as a template parameter (providers take about 20 characters), an
        item's marked 交办 or 逾期."""
        t = {"item": "交办：", "overdue": "逾期："}.get(self.about, "") + self.title
        return t if len(t) <= limit else t[: limit - 1] + "…"

    def text(self) -> str:
        """The whole message, for channels that take free text (work IM): the same for
        every attempt of one job, so a provider's duplicate check can drop a repeat."""
        if self.about == "item":
            return f"交办事项：{self.title}（事项编号 {self.notice}）已交贵单位办理，请打开会议服务平台签收。"
        if self.about == "overdue":
            return f"交办事项逾期：{self.title}（事项编号 {self.notice}），请尽快办理。"
        return (
            f"紧急会议通知：{self.title}（通知编号 {self.notice}）。请打开会议服务平台查看并确认。"
        )


class Texter(Protocol):
    """A channel that reaches a person by a text message to their mobile number."""

    name: str  # the channel's name in the log: "sms", "dingtalk", "wecom", or "smslog"
    provider: str  # "aliyun", "tencent", "dingtalk", "wecom", or "log"

    async def send(self, phone: str, message: Message, key: str) -> Result:
        """Send ``message`` (through the configured template) to ``phone``, tagged with
        ``key`` where the provider keeps one with the send."""
        ...

    async def sent(self, phone: str, key: str, since: float) -> Result | None:
        """Whether the provider accepted a send tagged ``key`` to ``phone`` since the Unix
        time ``since``: an ``accepted`` result if so, None if not; ``retry`` if the
        provider cannot say now."""
        ...

    async def close(self) -> None: ...


def make_texters(settings: Settings) -> list[Texter]:
    """The second channels: text messages of ``HUB_SMS_PROVIDER`` (``aliyun``,
    ``tencent``) and work IM of ``HUB_IM_PROVIDER`` (``dingtalk``, ``wecom``), each when
    configured; with neither, the text channel that logs."""
    out: list[Texter] = []
    if settings.sms_provider == "aliyun":
        from hub.reach.sms import AliyunSms

        out.append(AliyunSms(settings))
    elif settings.sms_provider == "tencent":
        from hub.reach.tencent import TencentSms

        out.append(TencentSms(settings))
    elif settings.sms_provider:
        raise SystemExit(
            f"HUB_SMS_PROVIDER must be aliyun, tencent or empty, got {settings.sms_provider!r}"
        )
    if settings.im_provider in ("dingtalk", "wecom"):
        from hub.reach.workim import DingTalk, WeCom

        out.append((DingTalk if settings.im_provider == "dingtalk" else WeCom)(settings))
    elif settings.im_provider:
        raise SystemExit(
            f"HUB_IM_PROVIDER must be dingtalk, wecom or empty, got {settings.im_provider!r}"
        )
    if not out:
        from hub.reach.logged import LoggedText

        out.append(LoggedText())
    return out

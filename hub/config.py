"""Settings: one object, read once from the environment (``HUB_*``).

Every variable is documented in the README's configuration table; defaults give the
embedded set-up (SQLite file, in-process broker) that needs nothing else running.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be an integer, got {raw!r}") from None


def _minutes(env: dict[str, str], name: str, default: int | None) -> int | None:
    """Minutes from 0 to 1440; ``none`` means no limit, unset or empty the default."""
    raw = (env.get(name) or "").strip()
    if raw == "":
        return default
    if raw.lower() == "none":
        return None
    if not raw.isdigit() or int(raw) > 1440:
        raise SystemExit(f"{name} must be minutes from 0 to 1440, or none; got {raw!r}")
    return int(raw)


def _speech_limit(env: dict[str, str]) -> int:
    n = _int(env, "HUB_SPEECH_LIMIT", 300)
    if not 10 <= n <= 7200:
        raise SystemExit(f"HUB_SPEECH_LIMIT must be seconds from 10 to 7200, got {n}")
    return n


def _float(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a number, got {raw!r}") from None


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("var")
    database_url: str = ""
    redis_url: str = ""
    redis_prefix: str = "hub:"
    secret: str = ""
    token_ttl: int = 15 * 60  # an access token; a browser refreshes it (hub/devices.py)
    device_ttl: int = 30 * 24 * 3600  # a browser's lasting login, from its last use
    max_frame: int = 64 * 1024
    send_queue: int = 1000
    frame_rate: float = 50.0
    frame_burst: int = 200
    auth_timeout: float = 10.0
    catchup_interval: float = 1.0
    allowed_origins: tuple[str, ...] = ()
    login_rate: int = 5
    upload_limit: int = 20 * 1024 * 1024
    receipt_flush: float = 0.02
    presence_ttl: float = 30.0
    tally_interval: float = 0.5
    account_check: float = 5.0
    timezone: str = "Asia/Shanghai"
    deadline_interval: float = 60.0
    deadline_lease: float = 180.0
    redis_health_interval: float = 1.0
    redis_socket_timeout: float = 3.0
    node_id: str = field(default_factory=lambda: secrets.token_hex(4))
    db_connect_timeout: float = 5.0
    db_pool_timeout: float = 5.0
    db_statement_timeout: float = 10.0
    db_idle_tx_timeout: float = 10.0
    # What one account may hold or store, and how long a client may take over its headers.
    account_connections: int = 10
    publish_quota: int = 16 * 1024 * 1024
    header_timeout: float = 10.0
    # Security (docs/operations.md "Security"):
    login_address_rate: int = 600
    trusted_proxies: tuple[str, ...] = ()
    metrics_token: str = ""
    demo: bool = False  # `hub serve --demo`: the login page may show the demo password
    # Reaching people with no page open (docs/reach.md): Web Push with VAPID when a key is
    # configured, else a channel that only logs.
    vapid_private_key: str = field(default="", repr=False)
    vapid_subject: str = ""
    push_timeout: float = 10.0
    push_ttl: int = 24 * 3600
    push_retry: float = 5.0
    push_attempts: int = 8
    # Push service origins reached over plain http (the tests' local push service); never
    # from the environment: a real push service is always https.
    push_insecure_origins: tuple[str, ...] = ()
    # A new sitting's defaults (hub/session/meetings.py), each overridable per sitting:
    # check-in opens this many minutes before its start and closes this many after it
    # (None: no limit on that side; check-in always ends with the sitting), and a speech's
    # limit in seconds on the convenor's timer.
    checkin_opens_before: int | None = 60
    checkin_closes_after: int | None = None
    speech_limit: int = 300
    # The second channel (docs/reach.md): text messages through a provider's HTTP API when
    # one is configured (aliyun), else a channel that only logs; the escalation policy.
    sms_provider: str = ""
    sms_endpoint: str = ""  # empty: the provider's own
    sms_region: str = ""  # empty: the provider's default
    sms_app_id: str = ""  # tencent: the SmsSdkAppId
    sms_key_id: str = field(default="", repr=False)
    sms_key_secret: str = field(default="", repr=False)
    sms_sign_name: str = ""
    sms_template: str = ""
    sms_timeout: float = 10.0
    sms_retry: float = 30.0
    sms_attempts: int = 8
    # work IM (dingtalk, wecom): the app's key (appkey / corpid), secret and agent id
    im_provider: str = ""
    im_endpoint: str = ""
    im_key: str = ""
    im_secret: str = field(default="", repr=False)
    im_agent_id: str = ""
    escalate_after: float = 300.0  # seconds an urgent message may stay unread
    escalate_interval: float = 30.0  # seconds between the cluster's escalation scans
    escalate_all: bool = False  # also the messages that are not urgent (in waking hours)
    quiet_hours: str = ""  # "22:00-07:00" in HUB_TIMEZONE: nothing but urgent is texted
    reach_claim: float = 0.0  # seconds a node holds a send it took (0: from the timeouts)

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'hub.sqlite3'}"

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        e = dict(os.environ if env is None else env)
        origins = _list(e, "HUB_ALLOWED_ORIGINS")
        return cls(
            data_dir=Path(e.get("HUB_DATA_DIR", "var")),
            database_url=_normalise_db_url(e.get("HUB_DATABASE_URL", "")),
            redis_url=e.get("HUB_REDIS_URL", ""),
            redis_prefix=e.get("HUB_REDIS_PREFIX", "hub:"),
            secret=e.get("HUB_SECRET", ""),
            token_ttl=_int(e, "HUB_TOKEN_TTL", 15 * 60),
            device_ttl=_int(e, "HUB_DEVICE_TTL", 30 * 24 * 3600),
            max_frame=_int(e, "HUB_MAX_FRAME", 64 * 1024),
            send_queue=_int(e, "HUB_SEND_QUEUE", 1000),
            frame_rate=_float(e, "HUB_FRAME_RATE", 50.0),
            frame_burst=_int(e, "HUB_FRAME_BURST", 200),
            auth_timeout=_float(e, "HUB_AUTH_TIMEOUT", 10.0),
            catchup_interval=_float(e, "HUB_CATCHUP_INTERVAL", 1.0),
            allowed_origins=origins,
            login_rate=_int(e, "HUB_LOGIN_RATE", 5),
            upload_limit=_int(e, "HUB_UPLOAD_LIMIT", 20 * 1024 * 1024),
            receipt_flush=_float(e, "HUB_RECEIPT_FLUSH", 0.02),
            presence_ttl=_float(e, "HUB_PRESENCE_TTL", 30.0),
            tally_interval=_float(e, "HUB_TALLY_INTERVAL", 0.5),
            timezone=e.get("HUB_TIMEZONE") or "Asia/Shanghai",
            deadline_interval=_float(e, "HUB_DEADLINE_INTERVAL", 60.0),
            deadline_lease=_float(e, "HUB_DEADLINE_LEASE", 180.0),
            redis_health_interval=_float(e, "HUB_REDIS_HEALTH_INTERVAL", 1.0),
            redis_socket_timeout=_float(e, "HUB_REDIS_SOCKET_TIMEOUT", 3.0),
            account_check=_float(e, "HUB_ACCOUNT_CHECK", 5.0),
            node_id=e.get("HUB_NODE_ID") or secrets.token_hex(4),
            db_connect_timeout=_float(e, "HUB_DB_CONNECT_TIMEOUT", 5.0),
            db_pool_timeout=_float(e, "HUB_DB_POOL_TIMEOUT", 5.0),
            db_statement_timeout=_float(e, "HUB_DB_STATEMENT_TIMEOUT", 10.0),
            db_idle_tx_timeout=_float(e, "HUB_DB_IDLE_TX_TIMEOUT", 10.0),
            account_connections=_int(e, "HUB_ACCOUNT_CONNECTIONS", 10),
            publish_quota=_int(e, "HUB_PUBLISH_QUOTA", 16 * 1024 * 1024),
            header_timeout=_float(e, "HUB_HEADER_TIMEOUT", 10.0),
            login_address_rate=_int(e, "HUB_LOGIN_ADDRESS_RATE", 600),
            trusted_proxies=_list(e, "HUB_TRUSTED_PROXIES"),
            metrics_token=e.get("HUB_METRICS_TOKEN", ""),
            vapid_private_key=e.get("HUB_VAPID_PRIVATE_KEY", ""),
            vapid_subject=e.get("HUB_VAPID_SUBJECT", ""),
            push_timeout=_float(e, "HUB_PUSH_TIMEOUT", 10.0),
            push_ttl=_int(e, "HUB_PUSH_TTL", 24 * 3600),
            push_retry=_float(e, "HUB_PUSH_RETRY", 5.0),
            push_attempts=_int(e, "HUB_PUSH_ATTEMPTS", 8),
            checkin_opens_before=_minutes(e, "HUB_CHECKIN_OPENS_BEFORE", 60),
            checkin_closes_after=_minutes(e, "HUB_CHECKIN_CLOSES_AFTER", None),
            speech_limit=_speech_limit(e),
            sms_provider=e.get("HUB_SMS_PROVIDER", "").strip().lower(),
            sms_endpoint=e.get("HUB_SMS_ENDPOINT", ""),
            sms_region=e.get("HUB_SMS_REGION", ""),
            sms_app_id=e.get("HUB_SMS_APP_ID", ""),
            sms_key_id=e.get("HUB_SMS_KEY_ID", ""),
            sms_key_secret=e.get("HUB_SMS_KEY_SECRET", ""),
            sms_sign_name=e.get("HUB_SMS_SIGN_NAME", ""),
            sms_template=e.get("HUB_SMS_TEMPLATE", ""),
            sms_timeout=_float(e, "HUB_SMS_TIMEOUT", 10.0),
            sms_retry=_float(e, "HUB_SMS_RETRY", 30.0),
            sms_attempts=_int(e, "HUB_SMS_ATTEMPTS", 8),
            im_provider=e.get("HUB_IM_PROVIDER", "").strip().lower(),
            im_endpoint=e.get("HUB_IM_ENDPOINT", ""),
            im_key=e.get("HUB_IM_KEY", ""),
            im_secret=e.get("HUB_IM_SECRET", ""),
            im_agent_id=e.get("HUB_IM_AGENT_ID", ""),
            escalate_after=_float(e, "HUB_ESCALATE_AFTER", 300.0),
            escalate_interval=_float(e, "HUB_ESCALATE_INTERVAL", 30.0),
            escalate_all=e.get("HUB_ESCALATE_ALL", "").strip().lower() in ("1", "true", "yes"),
            quiet_hours=e.get("HUB_QUIET_HOURS", "").strip(),
            reach_claim=_float(e, "HUB_REACH_CLAIM", 0.0),
        )


def _list(env: dict[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated setting, blanks dropped."""
    return tuple(x.strip() for x in env.get(name, "").split(",") if x.strip())


def _normalise_db_url(url: str) -> str:
    """Accept the plain URLs operators paste (postgres://, postgresql://, sqlite:///)."""
    for plain, driver in (
        ("postgres://", "postgresql+asyncpg://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("sqlite:///", "sqlite+aiosqlite:///"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url

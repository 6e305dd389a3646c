"""Settings: the environment contract of the bot, read once at start-up.

Everything the program reads from the environment (or a `.env` file) is declared here and nowhere
else. A missing or malformed value becomes a `ConfigError` whose message is one line naming the
variable and what to put there; the CLI prints it and exits without a traceback.
"""

from __future__ import annotations

import base64
import binascii
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from chatbot.database_url import ACCEPTED, DatabaseUrl


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one line meant for the operator."""


class Network(StrEnum):
    MAINNET = "mainnet"
    TESTNET = "testnet"


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


DEFAULT_URLS: dict[Network, tuple[str, str, str]] = {
    # (REST root, market-stream root, WebSocket API URL)
    Network.MAINNET: (
        "https://api.binance.com",
        "wss://stream.binance.com:9443",
        "wss://ws-api.binance.com:443/ws-api/v3",
    ),
    Network.TESTNET: (
        "https://testnet.binance.vision",
        "wss://stream.testnet.binance.vision",
        "wss://ws-api.testnet.binance.vision/ws-api/v3",
    ),
}

FUTURES_URLS: dict[Network, tuple[str, str]] = {
    # (REST root, market-stream root) of USDT-M futures, hosts apart from spot's. Since
    # 2026-04-23 Binance serves mark price, aggTrade and kline streams under `/market` only.
    Network.MAINNET: ("https://fapi.binance.com", "wss://fstream.binance.com/market"),
    Network.TESTNET: (
        "https://testnet.binancefuture.com",
        "wss://fstream.binancefuture.com/market",
    ),
}

MASTER_KEY_HINT = "32 random bytes in urlsafe base64; run `chatbot keygen` to make one"

# What to tell the operator for each variable when its value is refused.
HINTS: dict[str, str] = {
    "TELEGRAM_BOT_TOKEN": "the token BotFather gave you, like 123456:ABC-DEF...",
    "TELEGRAM_API_URL": "an http(s) URL such as https://api.telegram.org",
    "CHATBOT_MASTER_KEY": MASTER_KEY_HINT,
    "CHATBOT_OLD_MASTER_KEYS": "comma-separated earlier master keys (" + MASTER_KEY_HINT + ")",
    "CHATBOT_DB": ACCEPTED,
    "BINANCE_NETWORK": "mainnet or testnet",
    "BINANCE_API_URL": "an http(s) URL such as https://api.binance.com",
    "BINANCE_STREAM_URL": "a ws(s) URL such as wss://stream.binance.com:9443",
    "BINANCE_WS_API_URL": "a ws(s) URL such as wss://ws-api.binance.com:443/ws-api/v3",
    "BINANCE_FUTURES_API_URL": "an http(s) URL such as https://fapi.binance.com",
    "BINANCE_FUTURES_STREAM_URL": "a ws(s) URL such as wss://fstream.binance.com",
    "CHATBOT_ALLOWED_USERS": "comma-separated Telegram user ids such as 12345,67890, or *",
    "CHATBOT_CONFIRM_TTL": "a whole number of seconds between 5 and 600, such as 30",
    "CHATBOT_MAX_SLIPPAGE_PCT": "a percentage between 0 and 50, such as 1 or 0.5",
    "CHATBOT_MAX_ORDER_USDT": "a positive amount of USDT such as 1000, or leave it empty",
    "CHATBOT_STOP_LIMIT_DISTANCE_PCT": "a percentage above 0 and below 50, such as 0.5",
    "CHATBOT_COMMAND_LIMIT": "a whole number of commands per user per minute, such as 20",
    "CHATBOT_BUTTON_LIMIT": "a whole number of button presses per user per minute, such as 40",
    "CHATBOT_WEIGHT_SHARE": "a percentage of Binance's request-weight limit, such as 80",
    "CHATBOT_REPLICA_ID": "a name unique among the replicas, such as bot-1",
    "CHATBOT_TAKEOVER_SECONDS": "seconds, such as 10",
    "CHATBOT_LEASE_SHARDS": "a whole number of shards, such as 16",
    "CHATBOT_WS_CONNECT_LIMIT": "a whole number of WebSocket connection attempts, such as 240",
    "CHATBOT_WS_CONNECT_WINDOW": "seconds, such as 300 (Binance's 5 minutes)",
    "CHATBOT_WS_SUBSCRIPTION_IDS": "a whole number of ids, such as 65535 (Binance's limit)",
    "CHATBOT_ALERT_LIMIT": "a whole number of active alerts per user, such as 100",
    "CHATBOT_ALERT_COOLDOWN": "seconds before a repeat alert may fire again, such as 900",
    "CHATBOT_ALERT_EXPIRY_CHECK": "seconds between checks for expired alerts, such as 30",
    "CHATBOT_BACKTEST_WAIT": "seconds an /alert reply waits for its backtest, such as 3",
    "CHATBOT_PRICE_DELAY_NOTICE": "seconds of market stream outage, such as 60",
    "CHATBOT_OUTBOX_CLAIM": "seconds a sender's claim on a chat's alert messages lasts, such as 30",
    "CHATBOT_HTTP_PORT": "a TCP port between 1 and 65535, or leave it empty",
    "CHATBOT_HTTP_HOST": "the address to listen on, such as 127.0.0.1 or 0.0.0.0",
    "CHATBOT_HEALTH_INTERVAL": "seconds between background health checks, such as 15",
    "CHATBOT_WEBHOOK_URL": "the public https URL Telegram should call, or leave it empty",
    "LOG_LEVEL": "DEBUG, INFO, WARNING or ERROR",
    "LOG_FORMAT": "text or json",
}


def decode_master_key(value: str) -> bytes:
    """Decode a urlsafe-base64 master key; raises ValueError unless it is exactly 32 bytes."""
    try:
        raw = base64.urlsafe_b64decode(value.strip().encode())
    except (binascii.Error, ValueError):
        raise ValueError("not valid base64") from None
    if len(raw) != 32:
        raise ValueError("must decode to 32 bytes")
    return raw


class AllowedUsers:
    """Who may talk to the bot: a set of Telegram user ids, or everyone (`*`)."""

    def __init__(self, ids: frozenset[int] = frozenset(), *, everyone: bool = False) -> None:
        self.ids = ids
        self.everyone = everyone

    @classmethod
    def parse(cls, value: str) -> AllowedUsers:
        text = value.strip()
        if text == "*":
            return cls(everyone=True)
        parts = [p.strip() for p in text.split(",") if p.strip()]
        if not all(p.lstrip("-").isdigit() for p in parts):
            raise ValueError("not a list of user ids")
        return cls(frozenset(int(p) for p in parts))

    def allows(self, user_id: int) -> bool:
        return self.everyone or user_id in self.ids

    def __repr__(self) -> str:
        return "AllowedUsers(*)" if self.everyone else f"AllowedUsers({sorted(self.ids)})"


def _url(value: str | None, schemes: tuple[str, ...]) -> str | None:
    if value is None or value.strip() == "":
        return None
    text = value.strip().rstrip("/")
    if not text.startswith(tuple(s + "://" for s in schemes)) or text.endswith("://"):
        raise ValueError("not a URL")
    return text


class Settings(BaseSettings):
    """The configuration contract; see `.env.example` for every variable with a comment."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        arbitrary_types_allowed=True,
    )

    telegram_bot_token: SecretStr | None = Field(None, alias="TELEGRAM_BOT_TOKEN")
    telegram_api_url: str = Field("https://api.telegram.org", alias="TELEGRAM_API_URL")
    master_key: SecretStr | None = Field(None, alias="CHATBOT_MASTER_KEY")
    old_master_keys: Annotated[tuple[SecretStr, ...], NoDecode] = Field(
        (), alias="CHATBOT_OLD_MASTER_KEYS"
    )
    # CHATBOT_DB: a SQLite file path (the default, needs nothing) or a
    # postgresql://user:password@host:5432/db URL (see `database_url`, which picks the engine);
    # any other scheme:// is refused in one line. Out of repr, since a URL may hold a password.
    db_path: str = Field("./data/chatbot.sqlite3", alias="CHATBOT_DB", repr=False)
    network: Network = Field(Network.MAINNET, alias="BINANCE_NETWORK")
    binance_api_url: str | None = Field(None, alias="BINANCE_API_URL")
    binance_stream_url: str | None = Field(None, alias="BINANCE_STREAM_URL")
    binance_ws_api_url: str | None = Field(None, alias="BINANCE_WS_API_URL")
    binance_futures_api_url: str | None = Field(None, alias="BINANCE_FUTURES_API_URL")
    binance_futures_stream_url: str | None = Field(None, alias="BINANCE_FUTURES_STREAM_URL")
    allowed_users: Annotated[AllowedUsers, NoDecode] = Field(
        default_factory=AllowedUsers, alias="CHATBOT_ALLOWED_USERS"
    )
    confirm_ttl: int = Field(30, ge=5, le=600, alias="CHATBOT_CONFIRM_TTL")
    max_slippage_pct: Decimal = Field(Decimal(1), ge=0, le=50, alias="CHATBOT_MAX_SLIPPAGE_PCT")
    max_order_usdt: Decimal | None = Field(None, gt=0, alias="CHATBOT_MAX_ORDER_USDT")
    # How far below its trigger a STOP_LOSS_LIMIT exit puts its limit, on symbols that do not
    # list the market-on-trigger STOP_LOSS: wide enough to fill in a fast fall, and the most
    # the exit can give up past its trigger.
    stop_limit_distance_pct: Decimal = Field(
        Decimal("0.5"), gt=0, lt=50, alias="CHATBOT_STOP_LIMIT_DISTANCE_PCT"
    )
    # /risk's "Protect" button: the stop-loss it proposes, this many percent below the price.
    risk_default_stop_pct: Decimal = Field(
        Decimal(5), gt=0, lt=50, alias="CHATBOT_RISK_DEFAULT_STOP_PCT"
    )
    order_watch: float = Field(600.0, ge=1, le=86400, alias="CHATBOT_ORDER_WATCH")
    command_limit: int = Field(20, ge=1, le=10_000, alias="CHATBOT_COMMAND_LIMIT")
    button_limit: int = Field(40, ge=1, le=10_000, alias="CHATBOT_BUTTON_LIMIT")
    # The share of Binance's per-IP weight limit the whole bot may spend (the rest is margin
    # for other programs on the same IP and for clock skew at the minute's edge).
    weight_share: float = Field(80.0, gt=0, le=100, alias="CHATBOT_WEIGHT_SHARE")
    # Replicas (see services/leases.py): this one's name (default hostname-pid), how soon a dead
    # replica's work is taken over (seconds; below 1 s only for tests), and how many shards of
    # each kind (market symbols, users) the work is cut into.
    replica_id: str | None = Field(None, min_length=1, alias="CHATBOT_REPLICA_ID")
    takeover_seconds: float = Field(10.0, ge=0.2, le=600, alias="CHATBOT_TAKEOVER_SECONDS")
    lease_shards: int = Field(16, ge=1, le=1024, alias="CHATBOT_LEASE_SHARDS")
    # WebSocket connection attempts (market streams and WebSocket API together) per window:
    # Binance allows 300 per 5 minutes per IP; the default leaves a fifth for other programs.
    ws_connect_limit: int = Field(240, ge=1, le=300, alias="CHATBOT_WS_CONNECT_LIMIT")
    ws_connect_window: float = Field(300.0, gt=0, le=3600, alias="CHATBOT_WS_CONNECT_WINDOW")
    # Subscription ids one WebSocket API connection hands out before the bot moves its users to
    # a fresh one (Binance: 65,535, then -2042); lower only to test the move (above 400: twice
    # the 200 users a connection carries).
    ws_subscription_ids: int = Field(65_535, ge=401, le=65_535, alias="CHATBOT_WS_SUBSCRIPTION_IDS")
    alert_retention_days: float = Field(30.0, gt=0, le=3650, alias="CHATBOT_ALERT_RETENTION_DAYS")
    alert_limit: int = Field(100, ge=1, le=10_000, alias="CHATBOT_ALERT_LIMIT")
    # seconds before a `repeat` alert may fire again; below 1 s only for tests
    alert_cooldown: float = Field(900.0, gt=0, le=86_400, alias="CHATBOT_ALERT_COOLDOWN")
    # seconds between sweeps for alerts past their `until`/`for` (an alert expires within this
    # long of its instant); below 1 s only for tests
    alert_expiry_check: float = Field(30.0, gt=0, le=3600, alias="CHATBOT_ALERT_EXPIRY_CHECK")
    # seconds the reply to /alert waits for its 90-day backtest; a slower one follows in an
    # edit of the reply (0: always in an edit)
    backtest_wait: float = Field(3.0, ge=0, le=60, alias="CHATBOT_BACKTEST_WAIT")
    # seconds the market stream may be down before /alerts says prices are delayed and users
    # with alerts hear when they are back (shorter outages pass unmentioned)
    price_delay_notice: float = Field(60.0, ge=0, le=86_400, alias="CHATBOT_PRICE_DELAY_NOTICE")
    # seconds a replica's outbox sender holds the chats it claimed unrenewed: a live sender
    # renews while it sends (however slow a send), so one that dies mid-send (killed, cut off)
    # has their alert messages sent by another replica within this time, like the takeover
    outbox_claim: float = Field(10.0, ge=1, le=3600, alias="CHATBOT_OUTBOX_CLAIM")
    # bytes; glibc's mmap and trim thresholds held fixed (0: glibc's own, raised as it goes);
    # see chatbot/memory.py
    malloc_threshold: int = Field(
        128 * 1024, ge=0, le=32 * 1024 * 1024, alias="CHATBOT_MALLOC_THRESHOLD"
    )
    http_port: int | None = Field(None, ge=1, le=65535, alias="CHATBOT_HTTP_PORT")
    http_host: str = Field("127.0.0.1", min_length=1, alias="CHATBOT_HTTP_HOST")
    # below 1 s only for tests, which cannot wait for a real interval
    health_interval: float = Field(15.0, gt=0, le=3600, alias="CHATBOT_HEALTH_INTERVAL")
    # seconds between looks for digests that are due (every replica looks; each digest is
    # claimed once); below 1 s only for tests
    digest_poll_seconds: float = Field(30.0, gt=0, le=3600, alias="CHATBOT_DIGEST_POLL_SECONDS")
    webhook_url: str | None = Field(None, alias="CHATBOT_WEBHOOK_URL")
    log_level: str = Field("INFO", alias="LOG_LEVEL")
    log_format: LogFormat = Field(LogFormat.TEXT, alias="LOG_FORMAT")

    @field_validator("master_key", mode="before")
    @classmethod
    def _check_master_key(cls, value: Any) -> Any:
        if value is None or str(value).strip() == "":
            return None
        raw = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        decode_master_key(raw)
        return raw.strip()

    @field_validator("old_master_keys", mode="before")
    @classmethod
    def _split_old_keys(cls, value: Any) -> Any:
        if isinstance(value, str):
            keys = [k.strip() for k in value.split(",") if k.strip()]
            for key in keys:
                decode_master_key(key)
            return tuple(keys)
        return value

    @field_validator("allowed_users", mode="before")
    @classmethod
    def _parse_allowed(cls, value: Any) -> Any:
        return AllowedUsers.parse(value) if isinstance(value, str) else value

    @field_validator(
        "max_order_usdt",
        "http_port",
        "webhook_url",
        "telegram_bot_token",
        "replica_id",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and value.strip() == "" else value

    @field_validator("http_host", mode="before")
    @classmethod
    def _host(cls, value: Any) -> Any:
        """Empty means the default, loopback; an address holds no spaces or slashes."""
        if not isinstance(value, str):
            return value
        text = value.strip()
        if any(c.isspace() or c in "/?#" for c in text):
            raise ValueError("not an address")
        return text or "127.0.0.1"

    @field_validator("db_path", mode="before")
    @classmethod
    def _database(cls, value: Any) -> Any:
        """A file path or a PostgreSQL URL; any other `scheme://` is refused, not made a folder."""
        return DatabaseUrl.parse(value).target if isinstance(value, str) else value

    @field_validator("telegram_api_url", mode="before")
    @classmethod
    def _http_url(cls, value: Any) -> Any:
        return _url(value, ("http", "https")) if isinstance(value, str) else value

    @field_validator("binance_api_url", "binance_futures_api_url", mode="before")
    @classmethod
    def _rest_url(cls, value: Any) -> Any:
        return _url(value, ("http", "https")) if isinstance(value, str) else value

    @field_validator(
        "binance_stream_url", "binance_ws_api_url", "binance_futures_stream_url", mode="before"
    )
    @classmethod
    def _ws_url(cls, value: Any) -> Any:
        return _url(value, ("ws", "wss")) if isinstance(value, str) else value

    @field_validator("webhook_url", mode="after")
    @classmethod
    def _https_webhook(cls, value: str | None) -> str | None:
        """Telegram calls webhooks over https only; plain http is for a local Bot API server."""
        if value is None:
            return None
        local = urlsplit(value).hostname in {"127.0.0.1", "localhost", "::1"}
        if not value.startswith("https://") and not (local and value.startswith("http://")):
            raise ValueError("Telegram calls webhooks over https only")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level(cls, value: Any) -> Any:
        level = str(value).strip().upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("unknown level")
        return level

    @field_validator("network", "log_format", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _webhook_needs_a_port(self) -> Settings:
        if self.webhook_url and self.http_port is None:
            raise ValueError(
                "CHATBOT_HTTP_PORT is not set: webhook mode (CHATBOT_WEBHOOK_URL) needs a port "
                "to listen on, such as 8080"
            )
        return self

    @model_validator(mode="after")
    def _network_defaults(self) -> Settings:
        rest, stream, ws_api = DEFAULT_URLS[self.network]
        self.binance_api_url = self.binance_api_url or rest
        self.binance_stream_url = self.binance_stream_url or stream
        self.binance_ws_api_url = self.binance_ws_api_url or ws_api
        futures_rest, futures_stream = FUTURES_URLS[self.network]
        self.binance_futures_api_url = self.binance_futures_api_url or futures_rest
        self.binance_futures_stream_url = self.binance_futures_stream_url or futures_stream
        return self

    @property
    def database_url(self) -> DatabaseUrl:
        """CHATBOT_DB as a typed value: which engine, and its path or DSN."""
        return DatabaseUrl.parse(self.db_path)

    @property
    def master_key_bytes(self) -> bytes:
        """The current master key; raises ConfigError when it is not set."""
        if self.master_key is None:
            raise missing("CHATBOT_MASTER_KEY")
        return decode_master_key(self.master_key.get_secret_value())

    @property
    def old_master_key_bytes(self) -> list[bytes]:
        return [decode_master_key(k.get_secret_value()) for k in self.old_master_keys]

    def require(self, *variables: str) -> None:
        """Raise ConfigError for the first of these variables that has no value."""
        for variable in variables:
            name = _FIELD_BY_ENV[variable]
            if getattr(self, name) is None:
                raise missing(variable)


_FIELD_BY_ENV = {field.alias: name for name, field in Settings.model_fields.items()}


def missing(variable: str) -> ConfigError:
    return ConfigError(f"{variable} is not set: put {HINTS[variable]}")


def load_settings(**overrides: Any) -> Settings:
    """Read the settings from the environment and `.env`; raise ConfigError on a bad value."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        error = exc.errors()[0]
        if not error["loc"]:  # a rule across variables states its own message
            raise ConfigError(str(error["msg"]).removeprefix("Value error, ")) from None
        variable = str(error["loc"][0])
        hint = HINTS.get(variable, "a valid value")
        raise ConfigError(f"{variable} is not valid: put {hint}") from None

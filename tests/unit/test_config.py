"""The environment contract: defaults, the network switch, and one-line errors."""

import subprocess
import sys
from pathlib import Path

import pytest

from chatbot.config import ConfigError, Network, load_settings
from chatbot.database_url import DatabaseKind, DatabaseUrl

KEY = "3q2-796tvu_erb7v3q2-796tvu_erb7v3q2-796tvu8="


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Run each test in an empty directory (no .env) with no chatbot variables set."""
    monkeypatch.chdir(tmp_path)
    for name in list(__import__("os").environ):
        if name.startswith(("CHATBOT_", "BINANCE_", "TELEGRAM_", "LOG_")):
            monkeypatch.delenv(name)


def test_defaults_are_mainnet_and_deny_everyone():
    settings = load_settings()
    assert settings.network is Network.MAINNET
    assert settings.binance_api_url == "https://api.binance.com"
    assert settings.binance_stream_url == "wss://stream.binance.com:9443"
    assert settings.binance_ws_api_url == "wss://ws-api.binance.com:443/ws-api/v3"
    assert settings.binance_futures_api_url == "https://fapi.binance.com"
    assert settings.binance_futures_stream_url == "wss://fstream.binance.com/market"
    assert settings.confirm_ttl == 30
    assert settings.alert_limit == 100 and settings.alert_cooldown == 900
    assert not settings.allowed_users.allows(1)


def test_testnet_switch_picks_the_three_testnet_urls(monkeypatch):
    monkeypatch.setenv("BINANCE_NETWORK", "testnet")
    settings = load_settings()
    assert settings.binance_api_url == "https://testnet.binance.vision"
    assert settings.binance_stream_url == "wss://stream.testnet.binance.vision"
    assert settings.binance_ws_api_url == "wss://ws-api.testnet.binance.vision/ws-api/v3"
    assert settings.binance_futures_api_url == "https://testnet.binancefuture.com"
    assert settings.binance_futures_stream_url == "wss://fstream.binancefuture.com/market"


def test_explicit_url_wins_over_the_network_default(monkeypatch):
    monkeypatch.setenv("BINANCE_NETWORK", "testnet")
    monkeypatch.setenv("BINANCE_API_URL", "http://127.0.0.1:9000/")
    assert load_settings().binance_api_url == "http://127.0.0.1:9000"


def test_explicit_futures_urls_win_over_the_network_default(monkeypatch):
    monkeypatch.setenv("BINANCE_NETWORK", "testnet")
    monkeypatch.setenv("BINANCE_FUTURES_API_URL", "http://127.0.0.1:9100/")
    monkeypatch.setenv("BINANCE_FUTURES_STREAM_URL", "ws://127.0.0.1:9101")
    settings = load_settings()
    assert settings.binance_futures_api_url == "http://127.0.0.1:9100"
    assert settings.binance_futures_stream_url == "ws://127.0.0.1:9101"


def test_secrets_are_hidden_in_repr(monkeypatch):
    monkeypatch.setenv("CHATBOT_MASTER_KEY", KEY)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:SECRET-TOKEN")
    settings = load_settings()
    assert KEY not in repr(settings) and "SECRET-TOKEN" not in repr(settings)
    assert len(settings.master_key_bytes) == 32


def test_allowed_users_list_and_star(monkeypatch):
    monkeypatch.setenv("CHATBOT_ALLOWED_USERS", "12, 34")
    users = load_settings().allowed_users
    assert users.allows(12) and users.allows(34) and not users.allows(56)
    monkeypatch.setenv("CHATBOT_ALLOWED_USERS", "*")
    assert load_settings().allowed_users.allows(56)


def test_env_file_is_read(tmp_path):
    (tmp_path / ".env").write_text("CHATBOT_CONFIRM_TTL=45\nCHATBOT_MAX_ORDER_USDT=250.5\n")
    settings = load_settings()
    assert settings.confirm_ttl == 45
    assert str(settings.max_order_usdt) == "250.5"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CHATBOT_MASTER_KEY", "too-short"),
        ("CHATBOT_OLD_MASTER_KEYS", f"{KEY},nope"),
        ("BINANCE_NETWORK", "moon"),
        ("BINANCE_API_URL", "api.binance.com"),
        ("BINANCE_STREAM_URL", "https://stream.binance.com"),
        ("CHATBOT_ALLOWED_USERS", "alice,bob"),
        ("CHATBOT_CONFIRM_TTL", "soon"),
        ("CHATBOT_CONFIRM_TTL", "0"),
        ("CHATBOT_MAX_SLIPPAGE_PCT", "-1"),
        ("CHATBOT_ALERT_LIMIT", "0"),
        ("CHATBOT_ALERT_COOLDOWN", "-5"),
        ("CHATBOT_MAX_ORDER_USDT", "0"),
        ("CHATBOT_HTTP_PORT", "70000"),
        ("CHATBOT_WEBHOOK_URL", "http://insecure.example"),
        ("LOG_LEVEL", "LOUD"),
        ("BINANCE_FUTURES_API_URL", "fapi.binance.com"),
        ("BINANCE_FUTURES_API_URL", "wss://fstream.binance.com"),
        ("BINANCE_FUTURES_STREAM_URL", "https://fapi.binance.com"),
        ("LOG_FORMAT", "xml"),
    ],
)
def test_bad_value_names_the_variable_in_one_line(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as excinfo:
        load_settings()
    message = str(excinfo.value)
    assert message.startswith(variable)
    assert "\n" not in message
    if "KEY" in variable:
        assert value not in message  # a secret is never echoed back


def test_missing_required_value_is_named():
    with pytest.raises(ConfigError, match=r"^TELEGRAM_BOT_TOKEN is not set: put "):
        load_settings().require("TELEGRAM_BOT_TOKEN")


def run_cli(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m chatbot ARGS` in its own process, on this checkout's code (not whichever
    checkout the virtual environment has installed), with only `env` and PATH set."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parents[2]), **env}
    return subprocess.run(
        [sys.executable, "-m", "chatbot", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )


def test_cli_prints_one_line_and_no_traceback(tmp_path):
    result = run_cli(tmp_path, {"CHATBOT_MASTER_KEY": "short"}, "run")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "chatbot: CHATBOT_MASTER_KEY is not valid: put 32 random bytes in urlsafe base64; "
        "run `chatbot keygen` to make one"
    ]
    assert "Traceback" not in result.stderr + result.stdout


def test_keygen_prints_a_usable_key(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "chatbot", "keygen"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    from chatbot.config import decode_master_key

    assert len(decode_master_key(result.stdout.strip())) == 32


def test_webhook_mode_needs_a_port(monkeypatch):
    monkeypatch.setenv("CHATBOT_WEBHOOK_URL", "https://bot.example.com/telegram")
    with pytest.raises(ConfigError, match=r"^CHATBOT_HTTP_PORT is not set: webhook mode"):
        load_settings()
    monkeypatch.setenv("CHATBOT_HTTP_PORT", "8080")
    assert load_settings().webhook_url == "https://bot.example.com/telegram"


def test_limits_and_http_address_defaults_and_overrides(monkeypatch):
    settings = load_settings()
    assert (settings.command_limit, settings.button_limit) == (20, 40)
    assert settings.http_host == "127.0.0.1" and settings.health_interval == 15
    monkeypatch.setenv("CHATBOT_HTTP_HOST", "0.0.0.0")
    monkeypatch.setenv("CHATBOT_BUTTON_LIMIT", "100")
    settings = load_settings()
    assert settings.http_host == "0.0.0.0" and settings.button_limit == 100
    monkeypatch.setenv("CHATBOT_HTTP_HOST", "http://x/")
    with pytest.raises(ConfigError, match="CHATBOT_HTTP_HOST"):
        load_settings()
    monkeypatch.setenv("CHATBOT_HTTP_HOST", "")
    monkeypatch.setenv("CHATBOT_BUTTON_LIMIT", "0")
    with pytest.raises(ConfigError, match="CHATBOT_BUTTON_LIMIT"):
        load_settings()


def test_database_default_and_a_plain_path_are_sqlite_files(monkeypatch):
    assert load_settings().database_url == DatabaseUrl(
        DatabaseKind.SQLITE, "./data/chatbot.sqlite3"
    )
    monkeypatch.setenv("CHATBOT_DB", " /var/lib/chatbot/bot.sqlite3 ")
    settings = load_settings()
    assert settings.db_path == "/var/lib/chatbot/bot.sqlite3"
    assert settings.database_url.kind is DatabaseKind.SQLITE


@pytest.mark.parametrize(
    "value",
    ["postgresql://bot:pw@db.example:5432/chatbot", "postgres://bot@127.0.0.1/chatbot"],
)
def test_a_postgresql_url_is_read_as_one(value):
    url = DatabaseUrl.parse(value)
    assert url.kind is DatabaseKind.POSTGRESQL and url.target == value


@pytest.mark.parametrize(
    "value", ["postgresql://bot:S3cret-pw@db.example:5432/chatbot", "postgres://db.example/x"]
)
def test_a_postgresql_url_is_taken_by_the_settings(monkeypatch, value):
    monkeypatch.setenv("CHATBOT_DB", value)
    settings = load_settings()
    assert settings.database_url == DatabaseUrl(DatabaseKind.POSTGRESQL, value)
    assert "S3cret-pw" not in repr(settings)


@pytest.mark.parametrize(
    "value",
    [
        "mysql://bot:S3cret-pw@db.example/chatbot",
        "sqlite:///data/chatbot.sqlite3",
        "postgresql://bot:S3cret-pw@db.example:port/chatbot",
        "postgresql://bot:S3cret-pw@db.example:5432/",
        "  ",
    ],
)
def test_another_database_url_is_refused_naming_what_is_accepted(monkeypatch, value):
    monkeypatch.setenv("CHATBOT_DB", value)
    with pytest.raises(ConfigError) as excinfo:
        load_settings()
    assert str(excinfo.value) == (
        "CHATBOT_DB is not valid: put a SQLite file path such as ./data/chatbot.sqlite3, "
        "or a postgresql:// URL"
    )


def test_a_database_password_stays_out_of_repr_and_logs():
    url = DatabaseUrl.parse("postgresql://bot:S3cret-pw@db.example:5432/chatbot")
    assert url.password == "S3cret-pw"
    assert url.redacted == "postgresql://bot:***@db.example:5432/chatbot"
    assert "S3cret-pw" not in repr(url) and "S3cret-pw" not in str(url)
    with pytest.raises(ValueError) as excinfo:
        DatabaseUrl.parse("postgresql://bot:S3cret-pw@db.example:port/chatbot")
    assert "S3cret-pw" not in str(excinfo.value)


def test_cli_names_an_unreachable_postgresql_server_in_one_line_without_its_password(tmp_path):
    env = {
        "CHATBOT_DB": "postgresql://bot:S3cret-pw@127.0.0.1:1/chatbot",  # port 1: refused
        "CHATBOT_MASTER_KEY": "Y2hhdGJvdC10ZXN0LW1hc3Rlci1rZXktMzItYnl0ZXM=",
    }
    result = run_cli(tmp_path, env, "rotate-key")
    assert result.returncode == 3, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("chatbot: the database postgresql://bot:***@127.0.0.1:1/chatbot")
    assert "S3cret-pw" not in result.stderr + result.stdout
    assert not (tmp_path / "postgresql:").exists()


def test_replica_settings_default_and_an_empty_replica_id_means_hostname_pid(monkeypatch):
    monkeypatch.setenv("CHATBOT_REPLICA_ID", "")
    settings = load_settings()
    assert settings.replica_id is None
    assert settings.takeover_seconds == 10.0 and settings.lease_shards == 16


def test_a_takeover_time_out_of_range_is_refused_in_one_line(monkeypatch):
    monkeypatch.setenv("CHATBOT_TAKEOVER_SECONDS", "0")
    with pytest.raises(ConfigError) as excinfo:
        load_settings()
    message = str(excinfo.value)
    assert message.startswith("CHATBOT_TAKEOVER_SECONDS") and "\n" not in message


def test_cli_refuses_an_unsupported_database_url_in_one_line_and_makes_no_folder(tmp_path):
    env = {"CHATBOT_DB": "mysql://bot:S3cret-pw@127.0.0.1/chatbot"}
    result = run_cli(tmp_path, env, "rotate-key")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "chatbot: CHATBOT_DB is not valid: put a SQLite file path such as "
        "./data/chatbot.sqlite3, or a postgresql:// URL"
    ]
    assert "S3cret-pw" not in result.stderr + result.stdout
    assert list(tmp_path.iterdir()) == []

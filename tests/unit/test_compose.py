"""The compose files, checked without Docker (the development machine runs no Docker engine):
they parse, every variable they give the bot is one the settings read, and the scaled-out file's
replicas, database and load balancer agree with one another."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from chatbot.config import Settings, load_settings
from chatbot.database_url import DatabaseKind, DatabaseUrl
from tests.e2e.conftest import MASTER_KEY

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_NAMES = {field.alias for field in Settings.model_fields.values()}
# what .env would hold for compose's own ${...} substitution
DOT_ENV = {"POSTGRES_PASSWORD": "pw-for-tests", "CHATBOT_WEBHOOK_URL": "https://bot.example/tg"}
_VARIABLE = re.compile(r"\$\{(\w+)(?::?[?-][^}]*)?\}")


def compose(name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))


def substituted(value: object) -> str:
    """A value as compose passes it on, after ${NAME}, ${NAME:?error} and ${NAME:-default}."""
    return _VARIABLE.sub(lambda m: DOT_ENV[m.group(1)], str(value))


def bots(services: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run the bot's image (built from the Dockerfile)."""
    return {name: service for name, service in services.items() if "build" in service}


@pytest.mark.parametrize("name", ["docker-compose.yml", "docker-compose.replicas.yml"])
def test_every_bot_setting_in_a_compose_file_is_one_the_bot_reads(name):
    services = compose(name)["services"]
    assert bots(services), "no service runs the bot"
    for service in bots(services).values():
        assert service["env_file"] == ".env"
        assert set(service["environment"]) <= SETTINGS_NAMES, set(service["environment"])


def test_the_replicas_file_gives_each_replica_settings_it_starts_with():
    services = compose("docker-compose.replicas.yml")["services"]
    replicas = bots(services)
    assert len(replicas) == 3
    environments = [service["environment"] for service in replicas.values()]
    assert all(env == environments[0] for env in environments)  # one bot, three processes
    values = {name: substituted(value) for name, value in environments[0].items()}
    secrets = {"TELEGRAM_BOT_TOKEN": "123456:ABC", "CHATBOT_MASTER_KEY": MASTER_KEY}
    settings = load_settings(_env_file=None, **values, **secrets)
    assert settings.database_url.kind is DatabaseKind.POSTGRESQL
    assert settings.webhook_url == DOT_ENV["CHATBOT_WEBHOOK_URL"]


def test_the_replicas_share_the_files_postgresql_server():
    services = compose("docker-compose.replicas.yml")["services"]
    database = services["postgres"]["environment"]
    for service in bots(services).values():
        url = DatabaseUrl.parse(substituted(service["environment"]["CHATBOT_DB"]))
        assert url.kind is DatabaseKind.POSTGRESQL
        assert url.target.startswith(
            f"postgresql://{database['POSTGRES_USER']}:{DOT_ENV['POSTGRES_PASSWORD']}@postgres:"
        )
        assert url.target.endswith("/" + database["POSTGRES_DB"])
        assert substituted(database["POSTGRES_PASSWORD"]) == DOT_ENV["POSTGRES_PASSWORD"]
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_the_load_balancer_sends_to_every_replica_and_only_it_is_published():
    services = compose("docker-compose.replicas.yml")["services"]
    balancer = services["balancer"]
    host_path, _, mounted = balancer["volumes"][0].partition(":")
    config = (ROOT / host_path).read_text(encoding="utf-8")
    assert mounted.startswith("/etc/nginx/conf.d/")
    upstream = set(re.findall(r"^\s*server\s+([\w.-]+:\d+)", config, re.MULTILINE))
    replicas = bots(services)
    assert upstream == {f"{n}:{s['environment']['CHATBOT_HTTP_PORT']}" for n, s in replicas.items()}
    assert balancer["ports"] and "ports" not in services["postgres"]
    assert all("ports" not in service for service in replicas.values())
    assert "proxy_next_upstream error timeout;" in config  # a refused connection: next replica

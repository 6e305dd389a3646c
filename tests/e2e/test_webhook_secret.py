"""The webhook's secret token is one per bot, not one per process: replicas behind one load
balancer each accept the updates Telegram signs with the token the last of them set."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import aiohttp
import pytest
from aiohttp import web
from telegram.ext import Application

from chatbot.app import build_application
from chatbot.config import Settings
from chatbot.metrics import Metrics
from chatbot.web import SECRET_HEADER, start_http, webhook_secret
from tests.e2e.conftest import MASTER_KEY, SettingsFactory
from tests.e2e.helpers import free_port

OTHER_MASTER_KEY = "b3RoZXItYm90LW90aGVyLW1hc3Rlci1rZXktMzJieXQ="  # 32 bytes, test only
UPDATE = {
    "update_id": 7,
    "message": {"message_id": 1, "date": 0, "chat": {"id": 1001, "type": "private"}},
}


class Replica:
    """One bot's HTTP server in webhook mode, on its own port, as one replica runs it."""

    def __init__(self, app: Application, url: str) -> None:
        self.app = app
        self.url = url


@pytest.fixture
async def replicas(settings_factory: SettingsFactory) -> AsyncIterator[list[Replica]]:
    """Two replicas of one bot (same token, same master key), each serving its own webhook
    URL; both called setWebhook at start, the second last."""
    async with AsyncExitStack() as stack:
        made = []
        for _ in range(2):
            port = free_port()
            url = f"http://127.0.0.1:{port}/telegram/hook"
            settings = settings_factory(CHATBOT_WEBHOOK_URL=url, CHATBOT_HTTP_PORT=str(port))
            app = build_application(settings)
            await stack.enter_async_context(app)  # initialize / shutdown
            runner = await start_http(
                app, "127.0.0.1", port, lambda: (True, {}), Metrics(), settings.webhook_url
            )
            stack.push_async_callback(runner.cleanup)
            made.append(Replica(app, url))
        yield made


async def post(url: str, headers: dict[str, str]) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=UPDATE, headers=headers) as response,
    ):
        return response.status


async def test_every_replica_accepts_the_token_the_last_one_set(api, replicas):
    token = api.webhook.secret_token
    assert api.webhook.url == replicas[1].url
    for replica in replicas:  # the first replica's own token is the one Telegram now sends
        assert await post(replica.url, {SECRET_HEADER: token}) == web.HTTPOk.status_code
        update = replica.app.update_queue.get_nowait()
        assert update.update_id == UPDATE["update_id"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {SECRET_HEADER: "guess"},
        {SECRET_HEADER: webhook_secret(b"\x00" * 32)},
    ],
    ids=["no token", "a guess", "another bot's token"],
)
async def test_a_call_without_this_bots_token_is_refused(replicas, headers):
    for replica in replicas:
        assert await post(replica.url, headers) == web.HTTPForbidden.status_code
        assert replica.app.update_queue.empty()


def test_the_token_is_fit_for_telegram_and_tied_to_the_master_key():
    from chatbot.config import decode_master_key

    token = webhook_secret(decode_master_key(MASTER_KEY))
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,256}", token)
    assert token == webhook_secret(decode_master_key(MASTER_KEY))
    assert token != webhook_secret(decode_master_key(OTHER_MASTER_KEY))
    assert MASTER_KEY.rstrip("=") not in token


@pytest.fixture
def settings(settings_factory: SettingsFactory) -> Settings:
    """A bot in webhook mode (for `bot_log`, which logs as `chatbot run` does)."""
    port = free_port()
    return settings_factory(
        CHATBOT_WEBHOOK_URL=f"http://127.0.0.1:{port}/hook", CHATBOT_HTTP_PORT=str(port)
    )


async def test_the_token_is_never_logged(api, settings, bot_log):
    app = build_application(settings)
    async with app:
        port, url = settings.http_port, settings.webhook_url
        runner = await start_http(app, "127.0.0.1", port, lambda: (True, {}), Metrics(), url)
        await runner.cleanup()
    token = api.webhook.secret_token
    assert token == webhook_secret(settings.master_key_bytes)
    assert "HTTP on 127.0.0.1" in bot_log.getvalue()  # the log was written, without the token
    assert token not in bot_log.getvalue()

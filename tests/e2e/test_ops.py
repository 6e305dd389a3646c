"""/healthz and /metrics on CHATBOT_HTTP_PORT: answering, and changing with the bot's state."""

from __future__ import annotations

import aiohttp

from tests.e2e.conftest import ALICE
from tests.e2e.test_run import free_port


async def get(url):
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def test_healthz_and_metrics(api, exchange, settings_factory):
    from chatbot.app import running_bot

    port = free_port()
    async with running_bot(settings_factory(CHATBOT_HTTP_PORT=str(port)), poll_timeout=1):
        base = f"http://127.0.0.1:{port}"
        status, body = await get(f"{base}/healthz")
        assert status == 200 and '"exchange": "ok"' in body and '"database": "ok"' in body
        alice = api.conversation(api.user(ALICE, first_name="Alice"))
        await alice.send("/price BTC")
        await alice.reply()
        status, metrics = await get(f"{base}/metrics")
        assert status == 200
        assert 'chatbot_commands_total{command="/price",outcome="allowed"} 1.0' in metrics
        assert "chatbot_binance_used_weight" in metrics and "chatbot_outbox_backlog" in metrics
        exchange.faults.ban(60)  # Binance refuses this IP: unhealthy
        status, body = await get(f"{base}/healthz")
        assert status == 503 and '"exchange": "error: IpBanned"' in body

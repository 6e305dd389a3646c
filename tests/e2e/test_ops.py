"""/healthz and /metrics on CHATBOT_HTTP_PORT: answering, changing with the bot's state, and
costing nothing per hit (no Binance weight, no database write lock), on the address set."""

from __future__ import annotations

import asyncio
import json
import sys

import aiohttp
import aiosqlite
import pytest

from chatbot.health import HealthBoard
from chatbot.runtime import runtime
from tests.conftest import SQLITE_ONLY
from tests.e2e.conftest import ALICE
from tests.e2e.helpers import free_port, get


async def healthz_until(base, check, seconds=10.0):
    """Poll /healthz until `check(status, body)` holds (the state is refreshed in the
    background, so the fact appears within an interval or two)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        status, body = await get(f"{base}/healthz")
        if check(status, json.loads(body)):
            return status, json.loads(body)
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"/healthz never got there: {status} {body}")
        await asyncio.sleep(0.05)


def used_weight(exchange) -> int:
    return exchange.limits.used_weight("127.0.0.1", exchange.clock.now_ms())


async def test_healthz_and_metrics(api, exchange, settings_factory):
    from chatbot.app import running_bot

    port = free_port()
    settings = settings_factory(CHATBOT_HTTP_PORT=str(port), CHATBOT_HEALTH_INTERVAL="0.2")
    async with running_bot(settings, poll_timeout=1) as app:
        base = f"http://127.0.0.1:{port}"
        status, body = await get(f"{base}/healthz")
        assert status == 200 and '"exchange": "ok"' in body and '"database": "ok"' in body
        assert json.loads(body)["exchange_last_contact"] is not None
        alice = api.conversation(api.user(ALICE, first_name="Alice"))
        await alice.send("/price BTC")
        await alice.reply()
        await runtime(app).services.futures.quotes(["BTCUSDT"])  # futures weight
        status, metrics = await get(f"{base}/metrics")
        assert status == 200
        assert 'chatbot_commands_total{command="/price",outcome="allowed"} 1.0' in metrics
        assert "chatbot_binance_used_weight" in metrics and "chatbot_outbox_backlog" in metrics
        (futures_used,) = [
            line.split()[1]
            for line in metrics.splitlines()
            if line.startswith("chatbot_binance_futures_used_weight ")
        ]
        assert float(futures_used) > 0  # counted apart from spot's, and shown
        exchange.faults.ban(60)  # Binance refuses this IP: unhealthy at the next check
        status, checks = await healthz_until(base, lambda s, _: s == 503)
        assert checks["exchange"] == "error: IpBanned"


@SQLITE_ONLY  # holds SQLite's write lock from a second connection
async def test_healthz_hits_cost_no_weight_and_no_write_lock(api, exchange, settings_factory):
    from chatbot.app import running_bot

    port, path = free_port(), settings_factory().db_path
    async with running_bot(settings_factory(CHATBOT_HTTP_PORT=str(port)), poll_timeout=1):
        base = f"http://127.0.0.1:{port}"
        await get(f"{base}/healthz")
        before = used_weight(exchange)
        # Another process holds the database's write lock: a hit that wanted it would wait
        # for the busy timeout (5 s) and fail.
        async with aiosqlite.connect(path) as other:
            await other.execute("BEGIN IMMEDIATE")
            async with aiohttp.ClientSession() as session:

                async def hit() -> int:
                    async with session.get(f"{base}/healthz") as response:
                        await response.read()
                        return response.status

                statuses = await asyncio.wait_for(
                    asyncio.gather(*(hit() for _ in range(300))), timeout=4
                )
            await other.execute("ROLLBACK")
        assert statuses == [200] * 300
        assert used_weight(exchange) <= before  # (a new minute may even have reset it)


async def test_healthz_shows_background_failures(api, exchange, settings_factory):
    from chatbot.app import running_bot

    port = free_port()
    async with running_bot(settings_factory(CHATBOT_HTTP_PORT=str(port)), poll_timeout=1) as app:
        board: HealthBoard = runtime(app).health
        board.failed("alert-sender", OSError("disk full"))
        board.failed("alert-sender", OSError("disk full"))
        status, body = await get(f"http://127.0.0.1:{port}/healthz")
        assert status == 200  # shown, not by itself unhealthy: the backlog check says that
        failure = json.loads(body)["failures"]["alert-sender"]
        assert failure["error"] == "OSError" and failure["count"] == 2
        assert "disk full" not in body  # the type only: the text may hold user data


@pytest.mark.skipif(sys.platform != "linux", reason="127.0.0.2 is loopback on Linux only")
async def test_http_server_listens_on_the_configured_address(api, exchange, settings_factory):
    from chatbot.app import running_bot

    port = free_port()
    async with running_bot(settings_factory(CHATBOT_HTTP_PORT=str(port)), poll_timeout=1):
        assert (await get(f"http://127.0.0.1:{port}/healthz"))[0] == 200
        with pytest.raises(aiohttp.ClientConnectorError):  # 127.0.0.1 only, by default
            await get(f"http://127.0.0.2:{port}/healthz")
    port = free_port()
    settings = settings_factory(CHATBOT_HTTP_PORT=str(port), CHATBOT_HTTP_HOST="127.0.0.2")
    async with running_bot(settings, poll_timeout=1):
        assert (await get(f"http://127.0.0.2:{port}/healthz"))[0] == 200

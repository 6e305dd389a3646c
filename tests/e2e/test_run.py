"""`chatbot run` as an operator runs it: webhook mode, and a clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp

import chatbot
from chatbot.runtime import runtime
from tests.e2e.conftest import ALICE, MASTER_KEY, bot_env
from tests.e2e.helpers import free_port

# `python -m chatbot` runs this checkout's code, not whichever one the environment installed
CHECKOUT = str(Path(chatbot.__file__).resolve().parents[1])


async def test_webhook_mode_receives_updates_signed_with_the_secret(api, settings_factory):
    from chatbot.app import running_bot

    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/hook"
    settings = settings_factory(CHATBOT_WEBHOOK_URL=url, CHATBOT_HTTP_PORT=str(port))
    async with running_bot(settings):
        assert api.webhook is not None and api.webhook.url == url
        alice = api.conversation(api.user(ALICE, first_name="Alice"))
        await alice.send("/price BTC")
        assert "BTCUSDT" in (await alice.reply()).text
        async with aiohttp.ClientSession() as session:
            forged = {"update_id": 999, "message": {"message_id": 1, "date": 0}}
            async with session.post(url, json=forged) as response:
                assert response.status == 403
            headers = {"X-Telegram-Bot-Api-Secret-Token": "guess"}
            async with session.post(url, json=forged, headers=headers) as response:
                assert response.status == 403


async def test_sigterm_finishes_the_reply_in_flight_and_exits_cleanly(
    api, exchange, database_target, tmp_path
):
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": CHECKOUT,
        **bot_env(api, exchange, database_target, CHATBOT_ALLOWED_USERS=str(ALICE)),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chatbot", "run",
        env=env, cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await api.wait_for_call("setMyCommands", timeout=30)
        await api.wait_for_call("getUpdates", timeout=30)
        alice = api.conversation(api.user(ALICE, first_name="Alice"))
        exchange.faults.hang_next("/api/v3/ticker/24hr", seconds=1.0, execute=True)
        await alice.send("/price BTC")
        await api.wait_for_call("sendChatAction", timeout=30)  # the command is being served
        process.send_signal(signal.SIGTERM)
        reply = await alice.reply(timeout=30)
        assert "BTCUSDT" in reply.text
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0
    log = stderr.decode()
    assert "Traceback" not in log and "bot stopped" in log
    assert api.token not in log


async def test_a_second_instance_on_the_same_token_exits_with_a_clear_message(
    api, exchange, settings, tmp_path
):
    from chatbot.app import running_bot

    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": CHECKOUT,
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_API_URL": api.url,
        "CHATBOT_MASTER_KEY": MASTER_KEY,
        "CHATBOT_DB": settings.db_path,  # the same database, as a second replica would
        "BINANCE_API_URL": exchange.rest_url,
        "BINANCE_STREAM_URL": exchange.stream_url,
        "BINANCE_WS_API_URL": exchange.ws_api_url,
        "BINANCE_FUTURES_API_URL": exchange.futures_rest_url,
        "BINANCE_FUTURES_STREAM_URL": exchange.futures_stream_url,
        "CHATBOT_ALLOWED_USERS": str(ALICE),
    }
    async with running_bot(settings, poll_timeout=2, conflict_window=0) as first:
        returncode, _, stderr = await run_to_exit(env, tmp_path)
        assert returncode == 3
        assert "another instance of the bot is already polling" in stderr
        assert "Traceback" not in stderr
        assert not runtime(first).conflict.is_set()  # the first one keeps serving
        alice = api.conversation(api.user(ALICE, first_name="Alice"))
        await alice.send("/help")
        assert "/price" in (await alice.reply(timeout=15)).text


async def test_an_unreachable_postgresql_server_stops_start_up_without_its_password(
    api, exchange, tmp_path
):
    database = f"postgresql://bot:S3cret-pw@127.0.0.1:{free_port()}/chatbot"  # nobody listens
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": CHECKOUT,
        **bot_env(api, exchange, database, LOG_LEVEL="DEBUG"),
    }
    returncode, out, err = await run_to_exit(env, tmp_path)
    everything = out + err
    assert returncode == 3, everything
    last = err.strip().splitlines()[-1]
    assert last.startswith("chatbot: the database postgresql://bot:***@127.0.0.1:"), last
    assert "S3cret-pw" not in everything and "Traceback" not in everything


async def run_to_exit(env: dict[str, str], cwd: Path) -> tuple[int | None, str, str]:
    """`chatbot run` in a process of its own with `env`, until it exits by itself (60 s at
    most, then killed): its exit status, stdout and stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chatbot", "run", env=env, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return process.returncode, out.decode(), err.decode()

"""/chart: a candlestick picture from the simulator's klines, sent through the emulator."""

from __future__ import annotations

import asyncio
import os
import struct
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import BOB, ask, bot_env

ROOT = Path(__file__).resolve().parents[2]


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


async def test_chart_is_a_png_of_the_expected_size(alice, api):
    message = await ask(alice, "/chart btc 4h")
    assert message.photo is not None and png_size(message.photo) == (1200, 800)
    assert message.text.startswith("BTCUSDT 4h · last ")
    assert any(c["action"] == "upload_photo" for c in api.calls_to("sendChatAction"))


async def test_price_has_a_chart_button(alice):
    quote = await ask(alice, "/price ETH")
    assert quote.buttons[0][0].text == "📈 Chart ETHUSDT"
    await alice.press(quote, "Chart ETHUSDT")
    picture = await alice.reply(timeout=20)
    assert picture.photo is not None and picture.text.startswith("ETHUSDT 1h")


async def test_unknown_symbol_or_interval_gets_a_clear_reply(alice):
    assert "Unknown symbol NOPEUSDT" in (await ask(alice, "/chart NOPEUSDT")).text
    reply = await ask(alice, "/chart BTC 7m")
    assert "Unknown interval" in reply.text and "15m, 1h, 4h, 1d" in reply.text
    assert "/chart BTCUSDT" in (await ask(alice, "/chart")).text


def _mapped(pid: int, package: str) -> bool:
    """Whether the process has loaded a compiled module of `package` (Linux /proc maps)."""
    return f"/{package}/" in Path(f"/proc/{pid}/maps").read_text()


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads /proc (Linux)")
async def test_matplotlib_loads_on_the_first_chart_not_at_start(
    api, exchange, database_target, tmp_path
):
    """matplotlib and numpy are most of the bot's memory; a bot nobody asks for a chart never
    loads them. The bot runs as `chatbot run` in its own process, watched from outside."""
    env = {
        **os.environ,
        **bot_env(api, exchange, database_target, CHATBOT_ALLOWED_USERS=str(BOB)),
        "PYTHONPATH": str(ROOT),
        "LOG_LEVEL": "WARNING",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chatbot", "run", env=env, cwd=tmp_path
    )
    try:
        bob = api.conversation(api.user(BOB, first_name="Bob"))
        assert "BTCUSDT" in (await ask(bob, "/price BTC")).text
        assert not _mapped(proc.pid, "matplotlib") and not _mapped(proc.pid, "numpy")
        assert (await ask(bob, "/chart BTC")).photo is not None
        assert _mapped(proc.pid, "matplotlib")
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)

"""/chart: a candlestick picture from the simulator's klines, sent through the emulator."""

from __future__ import annotations

import struct

from tests.e2e.conftest import ask


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

"""A buy with its exits, as the user lives it: the preview, Confirm, the entry's fill, the
take-profit's fill and the stop-loss's cancellation, each told once. Run with `-s` to print
the chat (the closing transcript of the exits' issue comes from here)."""

from __future__ import annotations

from decimal import Decimal

from chatbot.sandbox.botapi import Conversation
from tests.e2e.conftest import ask
from tests.e2e.helpers import confirm, following, notice_texts, sentinel_filled


def transcript(conv: Conversation) -> str:
    """The chat as it reads now: each message in order, an edited one in its last version."""
    lines = []
    for message in conv.messages:
        who = "bot" if message.from_bot else "you"
        text = conv.current(message).text if message.from_bot else message.text
        lines.append(f"{who}: " + text.replace("\n", "\n     "))
    return "\n".join(lines)


async def test_a_buy_with_tp_and_sl_from_preview_to_the_stops_cancellation(
    alice_with_key, exchange, running_bot
):
    alice = alice_with_key
    await following(running_bot)
    exchange.set_price("BTCUSDT", Decimal("60000"))
    preview = await ask(alice, "/buy BTC 0.01 @ 59000 tp 63000 sl 57000")
    print("\n(the preview, before Confirm)\nbot: " + preview.text.replace("\n", "\n     "))
    assert "Gain at the target: +38.74 USDT" in preview.text, preview.text
    assert "Preview: BUY BTCUSDT with exits (OTOCO)" in preview.text, preview.text
    placed = await confirm(alice, preview)
    assert "Entry placed" in placed.text, placed.text

    exchange.set_price("BTCUSDT", Decimal("58990"))  # the entry fills at 59,000
    await alice.wait_for(lambda: any("now on the book" in t for t in notice_texts(alice)), 15)
    exchange.set_price("BTCUSDT", Decimal("63010"))  # the take-profit fills
    await alice.wait_for(
        lambda: any("the stop-loss was cancelled" in t for t in notice_texts(alice)), 15
    )
    await sentinel_filled(alice, exchange)  # anything told twice would have arrived by now

    texts = notice_texts(alice)
    print("\n" + transcript(alice))
    [entry] = [t for t in texts if "now on the book" in t]
    assert entry.startswith("✅ Filled") and "BUY LIMIT BTCUSDT" in entry
    [end] = [t for t in texts if "the stop-loss was cancelled" in t]
    assert end.startswith("✅ OTOCO #") and "take-profit filled, sold 0.00999 BTC at 63,000" in end
    # what the preview promised: 0.00999 × 63,000 = 629.37, less its 0.1% fee (0.62937 USDT),
    # less the entry's 590 USDT (its fee was taken in BTC): 38.74063, +38.74
    assert "(fee 0.62937 USDT)" in end
    assert "Result against the entry, after fees: +38.74 USDT" in end
    assert len(texts) == 3, texts  # the entry, the list's end, the sentinel: nothing per leg

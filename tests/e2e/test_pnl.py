"""/pnl through the real bot, the simulator and the Bot API emulator, on both engines.

The scripted history trades at prices the test sets (spread 0: a MARKET order fills at the
price set, and the simulator charges 0.1% in the asset received), and its figures are worked
out by hand below.
"""

from __future__ import annotations

import asyncio
import csv
import io
from decimal import Decimal

import pytest

from chatbot.exchange.client import OrderRequest
from chatbot.runtime import runtime
from chatbot.sandbox.botapi import Conversation
from chatbot.sandbox.botapi.models import ChatMessage
from chatbot.sandbox.exchange import ExchangeSimulator
from chatbot.storage.database import open_database
from tests.e2e.conftest import ALICE, ALICE_KEY, ALICE_SECRET, BOB, ask
from tests.e2e.helpers import following, until, until_async

D = Decimal
MY_TRADES = ("GET", "/api/v3/myTrades")


async def pnl(conv: Conversation, text: str = "/pnl", timeout: float = 30) -> ChatMessage:  # noqa: ASYNC109
    """Send a /pnl command; the report it ends with (the progress message, edited)."""
    sent = await conv.send(text)

    def report() -> ChatMessage | None:
        return next(
            (
                m
                for m in conv.messages
                if m.from_bot and m.message_id > sent.message_id and "Profit and loss" in m.text
            ),
            None,
        )

    return await conv.wait_for(report, timeout=timeout)


async def market(running_bot, symbol: str, side: str, qty: str) -> None:
    """A MARKET order placed on Alice's account outside the chat (as on Binance's app)."""
    services = runtime(running_bot).services
    creds = await services.keys.credentials(ALICE)
    await services.account.client.place_order(creds, OrderRequest(symbol, side, "MARKET", D(qty)))


async def transfers_seen(database: str, source: str = "live") -> int:
    """How many transfers the bot recorded from `source` (live, deposit or withdraw)."""
    db = await open_database(database)
    try:
        row = await db.fetch_one(
            "SELECT COUNT(*) AS n FROM pnl_transfers WHERE source = ?", (source,)
        )
    finally:
        await db.close()
    return int(row["n"]) if row else 0


async def scripted_history(exchange: ExchangeSimulator, running_bot) -> None:
    """USDT 5,000 deposited; ETH bought at 2,000 and sold at 2,500 and 1,800; 10 SOL
    deposited at 150, 4 sold at 165 two minutes later, 2 withdrawn."""
    exchange.spread = D(0)
    exchange.deposit(ALICE_KEY, "USDT", D(5000))
    exchange.set_price("ETHUSDT", D(2000))
    await market(running_bot, "ETHUSDT", "BUY", "1")
    exchange.set_price("ETHUSDT", D(2500))
    await market(running_bot, "ETHUSDT", "SELL", "0.5")
    exchange.set_price("ETHUSDT", D(1800))
    await market(running_bot, "ETHUSDT", "SELL", "0.2")
    exchange.set_price("SOLUSDT", D(150))
    exchange.deposit(ALICE_KEY, "SOL", D(10))
    # later prints must not fall in the deposit's candle (its close is the deposit's rate)
    exchange.clock_skew_ms = 120_000
    exchange.set_price("SOLUSDT", D(165))
    await market(running_bot, "SOLUSDT", "SELL", "4")
    exchange.deposit(ALICE_KEY, "SOL", D(-2))


# By hand (fees: 0.1% of what was received):
# ETH buy 1 @ 2000: fee 0.001 ETH (2 USDT); book 0.999 ETH for 2000 USDT.
# ETH sell 0.5 @ 2500: 1250 - fee 1.25 - 2000 * 0.5 / 0.999 (1001.001001) = +247.748999;
#   book 0.499 ETH for 998.998999.
# ETH sell 0.2 @ 1800: 360 - fee 0.36 - 2000 * 0.2 / 0.999 (400.4004004) = -40.7604004;
#   book 0.299 ETH for 598.5985986.
# SOL deposit 10 @ 150: book 10 SOL for 1500 (not profit).
# SOL sell 4 @ 165: 660 - fee 0.66 - 600 = +59.34; book 6 SOL for 900.
# SOL withdrawal 2: at average cost (150): book 4 SOL for 600 (not a loss).
# Realized: 247.748999 - 40.7604004 + 59.34 = 266.3285986 -> +266.33 (ETH +206.99).
# Unrealized: ETH 0.299 * 1800 - 598.5985986 = -60.3985986; SOL 4 * 165 - 600 = +60;
#   total -0.3985986 -> -0.4.
# Fees: 2 + 1.25 + 0.36 + 0.66 = 4.27. Trades 4; sells 3, of which 2 won: 67%.


async def test_pnl_of_a_scripted_history_matches_the_hand_computed_figures(
    alice_with_key, exchange, running_bot, settings
):
    await following(running_bot)
    await scripted_history(exchange, running_bot)
    report = await pnl(alice_with_key)
    text = report.text
    assert "ETH realized +206.99 · unrealized -60.4 · 3 trades" in text, text
    assert "SOL realized +59.34 · unrealized +60 · 1 trades" in text, text
    assert "Realized +266.33 · unrealized -0.4" in text, text
    assert "Fees 4.27 · 4 trades · win rate 67% of 3 sells" in text, text
    assert "Held with no known cost" in text and "0.05 BTC" in text, text
    assert "could not be read" not in text, text
    assert "Read 7 symbols: BTCUSDT, ETHBTC, ETHUSDT, SOLBTC, SOLUSDT, XRPBTC, XRPUSDT" in text
    week = await pnl(alice_with_key, "/pnl 7d SOL")  # all of it happened this week
    assert "on SOL (last 7 days, USDT)" in week.text, week.text
    assert "SOL realized +59.34 · unrealized +60 · 1 trades" in week.text
    assert "ETH" not in week.text.split("Read")[0]


async def test_a_second_pnl_reads_only_what_is_new(alice_with_key, exchange, running_bot):
    await following(running_bot)
    await scripted_history(exchange, running_bot)
    await pnl(alice_with_key)
    calls_before = exchange.limits.spent[MY_TRADES] // 20
    await market(running_bot, "ETHUSDT", "BUY", "0.1")  # 180 USDT, fee 0.0001 ETH (0.18)
    report = await pnl(alice_with_key, "/pnl ETH")
    calls = exchange.limits.spent[MY_TRADES] // 20 - calls_before
    assert calls == 7, calls  # one per symbol, from its last stored id + 1
    # the new buy changes the book, not the realized result: 0.3989 ETH for 778.5985986
    # (598.5985986 + 180); unrealized 0.3989 * 1800 - 778.5985986 = -60.5785986
    assert "ETH realized +206.99 · unrealized -60.58 · 4 trades" in report.text, report.text
    assert "Fees 3.79 · 4 trades · win rate 50% of 2 sells" in report.text, report.text
    assert "SOL" not in report.text.split("Read")[0]


async def test_pnl_csv_lists_each_fill_with_its_cost_basis(alice_with_key, exchange, running_bot):
    await following(running_bot)
    await scripted_history(exchange, running_bot)
    await alice_with_key.send("/pnl csv")
    document = await alice_with_key.wait_for(
        lambda: next((m for m in alice_with_key.messages if m.document), None), timeout=30
    )
    assert document.document is not None and document.document.file_name == "pnl-all.csv"
    rows = list(csv.DictReader(io.StringIO(document.document.data.decode())))
    assert [(r["symbol"], r["side"], r["qty"]) for r in rows] == [
        ("ETHUSDT", "BUY", "1"),
        ("ETHUSDT", "SELL", "0.5"),
        ("ETHUSDT", "SELL", "0.2"),
        ("SOLUSDT", "SELL", "4"),
    ]
    assert [r["cost_basis_usdt"] for r in rows] == ["2000", "1001.001001", "400.4004004", "600"]
    assert [r["realized_usdt"] for r in rows] == ["", "247.748999", "-40.7604004", "59.34"]
    assert rows[0]["fee"] == "0.001" and rows[0]["fee_asset"] == "ETH"
    assert rows[0]["fee_usdt"] == "2" and rows[0]["quote_usdt_rate"] == "1"


async def test_pnl_chart_is_a_picture(alice_with_key, exchange, running_bot):
    await following(running_bot)
    await scripted_history(exchange, running_bot)
    await alice_with_key.send("/pnl chart")
    photo = await alice_with_key.wait_for(
        lambda: next((m for m in alice_with_key.messages if m.photo), None), timeout=30
    )
    assert photo.photo is not None and photo.photo.startswith(b"\x89PNG")
    assert "Cumulative realized profit" in photo.text and "+265.93 USDT" in photo.text


async def test_transfers_that_cannot_be_read_are_counted_from_the_live_stream_and_said(
    alice_with_key, exchange, running_bot, settings
):
    await following(running_bot)
    exchange.capital.refuse(ALICE_KEY)
    exchange.spread = D(0)
    exchange.set_price("SOLUSDT", D(150))
    exchange.deposit(ALICE_KEY, "SOL", D(10))
    await until_async(lambda: _live_at_least(settings.db_path, 1))
    exchange.clock_skew_ms = 120_000
    exchange.set_price("SOLUSDT", D(160))
    await market(running_bot, "SOLUSDT", "SELL", "5")
    report = await pnl(alice_with_key, "/pnl SOL")
    # the deposit (seen live) is the cost: 800 - fee 0.8 - 5 * 150 = +49.2
    assert "SOL realized +49.2 · unrealized +50" in report.text, report.text
    assert "could not be read with this key: counted only those seen live since" in report.text


async def _live_at_least(database: str, count: int) -> bool:
    return await transfers_seen(database) >= count


@pytest.mark.parametrize(
    ("command", "answer"),
    [
        ("/pnl 9d", "Unknown period “9d”"),
        ("/pnl 30d BTC ETH", "I don't understand “ETH”"),
        ("/pnl chart BTC", "/pnl chart takes a period only"),
        ("/pnl $$", "I don't understand “$$”"),
    ],
)
async def test_bad_input_says_how_to_type_it(alice_with_key, command, answer):
    reply = await ask(alice_with_key, command)
    assert answer in reply.text, reply.text


async def test_pnl_without_a_key_says_setkey_first(alice):
    reply = await ask(alice, "/pnl")
    assert "/setkey" in reply.text and "no Binance API key" in reply.text


HELD = ("BTC", "ETH", "BNB", "SOL", "XRP", "DOGE", "ADA", "TRX", "LINK", "AVAX", "DOT")


# A budget of 360 a minute (6% of 6,000): background work may spend 270 of it, less than the
# build needs (the account, 20, and 15 symbols' myTrades, 300): it is spread over the minute
# and finishes in the next one.
@pytest.mark.parametrize("overrides", [{"CHATBOT_WEIGHT_SHARE": "6"}])
async def test_first_build_with_many_symbols_is_paced_under_the_budget(
    api, alice, exchange, running_bot
):
    balances = {"USDT": D(1000), **{asset: D(1) for asset in HELD}}
    exchange.add_account(ALICE_KEY, secret=ALICE_SECRET, balances=balances)
    assert "stored" in (await ask(alice, f"/setkey {ALICE_KEY} {ALICE_SECRET}")).text
    await following(running_bot)
    governor = runtime(running_bot).services.account.client.governor
    peak = 0

    async def watch() -> None:
        nonlocal peak
        while True:
            peak = max(peak, governor.used)
            await asyncio.sleep(0.05)

    watcher = asyncio.create_task(watch())
    try:
        await alice.send("/pnl")
        progress = await alice.reply(timeout=20)
        assert progress.text.startswith("Reading your trades: 0 of 15 symbols"), progress.text
        bob = api.conversation(api.user(BOB, first_name="Bob"))
        quote = await ask(bob, "/price BTC")  # another user is answered meanwhile
        assert "BTCUSDT" in quote.text
        assert "Profit and loss" not in alice.current(progress).text  # still building
        done = await alice.wait_for(
            lambda: "Profit and loss" in alice.current(progress).text, timeout=150
        )
        assert done
    finally:
        watcher.cancel()
    edits = [c for c in api.calls_to("editMessageText") if "Reading your trades" in c["text"]]
    assert edits, "the progress message was never edited"
    assert peak <= governor.budget == 360, (peak, governor.budget)
    assert exchange.limits.peak_weight <= 360
    assert exchange.limits.rejections_429 == 0
    assert "Read 15 symbols" in alice.current(progress).text


async def test_concurrent_pnl_of_one_user_share_one_build(alice_with_key, exchange, running_bot):
    await following(running_bot)
    await asyncio.gather(pnl(alice_with_key, "/pnl"), pnl(alice_with_key, "/pnl 7d"))
    await until(lambda: exchange.limits.spent[MY_TRADES] > 0)
    assert exchange.limits.spent[MY_TRADES] // 20 == 3  # BTCUSDT, XRPBTC, XRPUSDT, once


DEPOSITS = ("GET", "/sapi/v1/capital/deposit/hisrec")


async def test_the_capital_history_is_read_back_to_the_first_trade_then_only_what_is_new(
    alice_with_key, exchange, running_bot, settings
):
    await following(running_bot)
    exchange.spread = D(0)
    exchange.set_price("SOLUSDT", D(150))
    exchange.clock_skew_ms = -100 * 86_400_000  # 100 days ago: beyond one 90-day window
    exchange.deposit(ALICE_KEY, "SOL", D(10))
    await market(running_bot, "SOLUSDT", "SELL", "4")
    exchange.clock_skew_ms = 0
    report = await pnl(alice_with_key, "/pnl SOL")
    assert "SOL realized" in report.text and "1 trades" in report.text, report.text
    assert "no known cost" not in report.text, report.text  # the old deposit was read
    assert exchange.limits.spent[DEPOSITS] == 2  # two windows of 90 days
    assert await transfers_seen(settings.db_path, "deposit") == 1
    await pnl(alice_with_key, "/pnl SOL")
    assert exchange.limits.spent[DEPOSITS] == 3  # from the last read (less a day) to now

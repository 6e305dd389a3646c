"""/risk end to end: the real bot between the Bot API emulator and the exchange simulator, on
each database engine. The portfolio's exits are placed on the simulator before the key is
registered (as if from Binance's own app), so the bot learns them as it would any user's."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chatbot.exchange.client import BinanceClient, OrderRequest
from chatbot.exchange.credentials import ApiCredentials
from chatbot.exchange.order_lists import ListLeg, OcoRequest, OtocoRequest
from chatbot.key_types import KeyType
from chatbot.runtime import runtime
from chatbot.sandbox.botapi import Conversation
from chatbot.sandbox.exchange import ExchangeSimulator
from tests.e2e.conftest import ALICE_KEY, ALICE_SECRET, ask
from tests.e2e.helpers import confirm, following

PRICES = {
    "BTCUSDT": "60000",
    "ETHUSDT": "3000",
    "SOLUSDT": "150",
    "BNBUSDT": "600",
    "LINKUSDT": "15",
    "DOGEUSDT": "0.1",
    "XRPUSDT": "0.5",
}
HOLDINGS = {
    "USDT": "1000",
    "BTC": "0.05",  # 3,000 USDT: an OCO on 0.04
    "ETH": "1",  # 3,000: a stop-loss on all of it
    "SOL": "10",  # 1,500: a trailing stop, trailing from placement
    "BNB": "2",  # 1,200: a trailing stop that starts at 550 (not yet)
    "LINK": "10",  # 150: a take-profit alone
    "DOGE": "1000",  # 100: nothing
    "XRP": "0.2",  # 0.1: dust
}
# in all 9,950.1 USDT: 1,000 + 3,000 + 3,000 + 1,500 + 1,200 + 150 + 100 + 0.1


async def register(alice: Conversation) -> None:
    await alice.send(f"/setkey {ALICE_KEY} {ALICE_SECRET}")
    assert "stored" in (await alice.reply()).text


async def place_exits(client: BinanceClient, creds: ApiCredentials) -> None:
    """The portfolio's exits, placed on Binance directly."""
    await client.place_oco(
        creds,
        OcoRequest(
            "BTCUSDT",
            "SELL",
            Decimal("0.04"),
            above=ListLeg("LIMIT_MAKER", price=Decimal("66000")),
            below=ListLeg("STOP_LOSS_LIMIT", price=Decimal("56900"), stop_price=Decimal("57000")),
            list_client_order_id="risk-oco",
        ),
    )
    orders = [
        OrderRequest("ETHUSDT", "SELL", "STOP_LOSS", Decimal("1"), stop_price=Decimal("2800")),
        OrderRequest("SOLUSDT", "SELL", "STOP_LOSS", Decimal("10"), trailing_delta=200),
        OrderRequest(
            "BNBUSDT", "SELL", "STOP_LOSS", Decimal("2"), stop_price=Decimal("550"),
            trailing_delta=100,
        ),
        OrderRequest(
            "LINKUSDT", "SELL", "TAKE_PROFIT_LIMIT", Decimal("10"), price=Decimal("18"),
            stop_price=Decimal("18"), time_in_force="GTC",
        ),
    ]  # fmt: skip
    for order in orders:
        await client.place_order(creds, order)


@pytest.fixture
async def portfolio(alice: Conversation, exchange: ExchangeSimulator, running_bot) -> Conversation:
    """Alice's mixed portfolio with its exits on the exchange, then her key registered."""
    exchange.add_account(ALICE_KEY, secret=ALICE_SECRET, balances=HOLDINGS)
    for symbol, price in PRICES.items():
        exchange.set_price(symbol, Decimal(price))
    client = runtime(running_bot).services.account.client
    await place_exits(client, ApiCredentials.create(ALICE_KEY, ALICE_SECRET, KeyType.HMAC))
    await register(alice)
    return alice


async def test_risk_lists_each_protection_and_the_loss_if_every_stop_hits(portfolio):
    reply = await ask(portfolio, "/risk")
    lines = reply.text.splitlines()

    def line_of(start: str) -> int:
        return next(i for i, line in enumerate(lines) if line.startswith(start))

    btc, eth, sol, bnb = (line_of(a) for a in ("BTC ", "ETH ", "SOL ", "BNB "))
    # the OCO: 0.04 of 0.05 BTC; loss down to the stop's limit: (60,000 - 56,900) x 0.04 = 124
    assert "0.04 of 0.05 BTC covered" in lines[btc]
    assert lines[btc + 1] == (
        "  · OCO on 0.04 BTC: target 66,000 USDT, stop 57,000 USDT (limit 56,900 USDT); "
        "loss if hit ≈ 124 USDT"
    )
    # a market stop: taken at its trigger, (3,000 - 2,800) x 1 = 200
    assert "1 of 1 ETH covered" in lines[eth]
    assert lines[eth + 1] == "  · stop-loss on 1 ETH: stop 2,800 USDT; loss if hit ≈ 200 USDT"
    # trailing 2% since placement: it triggers at 150 x 0.98 = 147 or higher, (150 - 147) x 10
    assert lines[sol + 1] == (
        "  · trailing stop on 10 SOL: trailing 2%, active: triggers at ≥ 147 USDT; "
        "loss if hit ≈ 30 USDT"
    )
    # not trailing yet: where it will trigger is unknown, and the total says so
    assert lines[bnb + 1] == (
        "  · trailing stop on 2 BNB: trailing 1%, starts at 550 USDT; "
        "loss unknown until it starts trailing"
    )
    assert "LINK 10 ≈ 150 USDT: take-profit only, no stop" in reply.text
    assert "  · take-profit on 10 LINK: sells at 18 USDT" in lines
    assert "DOGE 1,000 ≈ 100 USDT: ⚠️ no protection" in reply.text
    assert "USDT 1,000: cash, nothing to protect" in reply.text
    assert "dust (XRP): ≈ 0.1 USDT, too small to protect" in reply.text
    # 124 + 200 + 30 = 354 USDT of 9,950.1: 3.5577...%
    assert "If every stop hits: −354 USDT (3.56% of your 9,950.1 USDT)" in reply.text
    assert "not counting 1 stop(s) whose fill is unknown" in reply.text
    assert [row[0].text for row in reply.buttons] == ["Protect DOGE"]


async def test_the_exits_of_a_filled_entry_work_as_an_oco(alice, exchange, running_bot):
    exchange.add_account(
        ALICE_KEY, secret=ALICE_SECRET, balances={"USDT": "1000"}, maker_commission=0
    )  # no fee taken from the BTC bought: the exits sell all of it
    exchange.set_price("BTCUSDT", Decimal("60000"))
    client = runtime(running_bot).services.account.client
    creds = ApiCredentials.create(ALICE_KEY, ALICE_SECRET, KeyType.HMAC)
    await client.place_otoco(
        creds,
        OtocoRequest(
            "BTCUSDT", "LIMIT", "BUY", Decimal("59000"), Decimal("0.01"), "GTC",
            pending_side="SELL", pending_quantity=Decimal("0.01"),
            pending_above=ListLeg("LIMIT_MAKER", price=Decimal("66000")),
            pending_below=ListLeg(
                "STOP_LOSS_LIMIT", price=Decimal("56900"), stop_price=Decimal("57000")
            ),
            list_client_order_id="risk-otoco",
        ),
    )  # fmt: skip
    exchange.set_price("BTCUSDT", Decimal("59000"))  # the entry fills: its exits start
    await register(alice)
    text = (await ask(alice, "/risk")).text
    assert "BTC 0.01 ≈ 590 USDT: 0.01 of 0.01 BTC covered" in text
    # (59,000 - 56,900) x 0.01 = 21 USDT
    assert (
        "  · OCO on 0.01 BTC: target 66,000 USDT, stop 57,000 USDT (limit 56,900 USDT); "
        "loss if hit ≈ 21 USDT"
    ) in text.splitlines()


async def test_a_trailing_stop_that_started_trailing_counts_its_loss(portfolio, exchange):
    exchange.set_price("BNBUSDT", Decimal("550"))  # reaches its stop price: it starts trailing
    exchange.set_price("BNBUSDT", Decimal("560"))  # the best price since: 560
    text = (await ask(portfolio, "/risk")).text
    # it triggers 1% below the best price, at least 560 x 0.99 = 554.4: (560 - 554.4) x 2
    assert (
        "  · trailing stop on 2 BNB: trailing 1%, active: triggers at ≥ 554.4 USDT; "
        "loss if hit ≈ 11.2 USDT"
    ) in text.splitlines()
    # 354 + 11.2 = 365.2 of a balance where BNB is now worth 1,120 (not 1,200): 9,870.1,
    # 365.2 / 9,870.1 = 3.7000...%
    assert "If every stop hits: −365.2 USDT (3.7% of your 9,870.1 USDT)" in text
    assert "not counting" not in text


async def test_risk_reads_the_stops_of_their_symbols_not_every_symbols_orders(
    portfolio, exchange, running_bot
):
    await following(running_bot)
    await ask(portfolio, "/risk")  # the first waits for the bot's read of the open orders
    spent = exchange.limits.spent
    before = spent[("GET", "/api/v3/openOrders")], spent[("GET", "/api/v3/openOrderList")]
    assert "If every stop hits: −354 USDT" in (await ask(portfolio, "/risk")).text
    # the record knows the orders and their triggers, but not whether a trailing stop has
    # started to trail: the two symbols with one are read (6 each), not every symbol's
    # orders (80); the lists once (6)
    assert spent[("GET", "/api/v3/openOrders")] - before[0] == 2 * 6
    assert spent[("GET", "/api/v3/openOrderList")] - before[1] == 6


async def test_risk_without_a_key_says_how_to_add_one(alice):
    assert "/setkey API_KEY SECRET" in (await ask(alice, "/risk")).text


async def test_risk_of_an_empty_account(alice, exchange):
    exchange.add_account(ALICE_KEY, secret=ALICE_SECRET, balances={})
    await register(alice)
    reply = await ask(alice, "/risk")
    assert reply.text == "Your Binance spot account is empty: nothing to protect."
    assert not reply.buttons


async def test_risk_of_cash_and_an_unprotected_coin(alice, exchange):
    exchange.add_account(ALICE_KEY, secret=ALICE_SECRET, balances={"USDT": "50", "ETH": "1"})
    exchange.set_price("ETHUSDT", Decimal("3000"))
    await register(alice)
    reply = await ask(alice, "/risk")
    assert "ETH 1 ≈ 3,000 USDT: ⚠️ no protection" in reply.text
    assert "No stop-loss on the exchange." in reply.text
    assert [row[0].text for row in reply.buttons] == ["Protect ETH"]


async def test_protect_button_previews_a_stop_loss_that_confirm_places(portfolio, exchange):
    reply = await ask(portfolio, "/risk")
    await portfolio.press(reply, "Protect DOGE")
    preview = await portfolio.reply(timeout=10)
    # a stop-loss 5% (CHATBOT_RISK_DEFAULT_STOP_PCT) below 0.1: 0.095, on the 1,000 DOGE held
    assert "1,000 DOGE" in preview.text and "0.095" in preview.text, preview.text
    assert "Take-profit" not in preview.text
    await confirm(portfolio, preview)
    [stop] = [o for o in exchange.orders_for(ALICE_KEY) if o.symbol == "DOGEUSDT"]
    assert (stop.side, stop.type, stop.orig_qty, stop.stop_price) == (
        "SELL",
        "STOP_LOSS",
        Decimal(1000),
        Decimal("0.095"),
    )
    again = await ask(portfolio, "/risk")
    assert "DOGE 1,000 ≈ 100 USDT: 1,000 of 1,000 DOGE covered" in again.text
    assert not again.buttons

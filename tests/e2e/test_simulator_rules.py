"""The simulator enforces Binance's trading rules, over real sockets.

The edge-case symbols (BNBIDR, XRPTRY, LUNAUSDT, FETUSDT), exchange filters lowered on a
running simulator, and the quote-amount MARKET order whose rounded quantity falls under the
minimum notional. Requests are built by hand (tests/e2e/binance_wire.py's `Binance` caller),
not with the client.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from chatbot.exchange.signing import HmacSigner
from chatbot.sandbox.exchange import ExchangeSimulator
from tests.e2e.binance_wire import (
    DOC_KEY,
    DOC_SECRET,
    FUNDS,
    Binance,
    error_of,
)


@pytest.fixture
def trader(exchange: ExchangeSimulator, session: aiohttp.ClientSession) -> Binance:
    """The documentation's HMAC key, with 10 000 USDT, 1 BTC and 10 ETH (and some FET)."""
    exchange.add_account(DOC_KEY, secret=DOC_SECRET, balances={**FUNDS, "FET": Decimal(900)})
    return Binance(session, exchange.rest_url, DOC_KEY, HmacSigner(SecretStr(DOC_SECRET)))


def limit(symbol: str, qty: str, price: str, side: str = "BUY", **extra: str) -> dict[str, str]:
    order = {"symbol": symbol, "side": side, "type": "LIMIT", "timeInForce": "GTC"}
    return {**order, "quantity": qty, "price": price, **extra}


# -- the edge-case symbols ----------------------------------------------------------------------


async def test_exchange_info_lists_the_edge_cases_and_exchange_filters(trader: Binance) -> None:
    info = (await trader.public("/api/v3/exchangeInfo")).body
    symbols = {s["symbol"]: s for s in info["symbols"]}
    assert len(symbols) == 30 and {"BNBIDR", "XRPTRY", "LUNAUSDT", "FETUSDT"} <= set(symbols)
    assert info["exchangeFilters"] == [
        {"filterType": "EXCHANGE_MAX_NUM_ORDERS", "maxNumOrders": 1000},
        {"filterType": "EXCHANGE_MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 200},
    ]

    def filters(name: str) -> dict[str, dict[str, Any]]:
        return {f["filterType"]: f for f in symbols[name]["filters"]}

    assert filters("BNBIDR")["PRICE_FILTER"]["tickSize"] == "10.00000000"
    assert filters("BNBIDR")["NOTIONAL"]["minNotional"] == "20000.00000000"
    assert "NOTIONAL" not in filters("XRPTRY") and "PERCENT_PRICE_BY_SIDE" not in filters("XRPTRY")
    assert filters("XRPTRY")["PERCENT_PRICE"]["avgPriceMins"] == 0
    assert filters("XRPTRY")["MIN_NOTIONAL"]["avgPriceMins"] == 1
    assert symbols["LUNAUSDT"]["status"] == "BREAK"
    assert filters("FETUSDT")["MAX_POSITION"] == {
        "filterType": "MAX_POSITION",
        "maxPosition": "1000.00000000",
    }
    assert set(symbols["BNBIDR"]) == set(symbols["BTCUSDT"])  # the same complete shape


async def test_a_market_on_break_takes_no_new_orders_but_cancels(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    exchange.deposit(DOC_KEY, "LUNA", Decimal(1000))
    closed = await trader.order(**limit("LUNAUSDT", "100", "0.3512"))
    exchange.catalog.set_status("LUNAUSDT", "TRADING")
    resting = await trader.order(**limit("LUNAUSDT", "100", "0.4000", side="SELL"))
    exchange.catalog.set_status("LUNAUSDT", "BREAK")
    again = await trader.order(symbol="LUNAUSDT", side="SELL", type="MARKET", quantity="100")
    cancel = await trader.signed(
        "DELETE", "/api/v3/order", {"symbol": "LUNAUSDT", "orderId": resting.body["orderId"]}
    )
    assert error_of(closed) == error_of(again) == (-2010, "Market is closed.")
    assert resting.status == 200 and cancel.body["status"] == "CANCELED"
    assert exchange.balances(DOC_KEY)["LUNA"].free == Decimal(1000)


async def test_bnbidr_prices_are_multiples_of_ten(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    exchange.deposit(DOC_KEY, "IDR", Decimal(100_000_000))
    off_grid = await trader.order(**limit("BNBIDR", "1", "9876545"))
    fraction = await trader.order(**limit("BNBIDR", "1.5", "9876540"))
    placed = await trader.order(**limit("BNBIDR", "1", "9876540"))
    assert error_of(off_grid) == (-1013, "Filter failure: PRICE_FILTER")
    assert error_of(fraction) == (-1013, "Filter failure: LOT_SIZE")
    assert placed.status == 200 and placed.body["price"] == "9876540.00000000"


async def test_xrptry_bands_a_limit_price_around_the_last_price(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    """PERCENT_PRICE has avgPriceMins 0: a small print at 400 moves the band to 80-2000 at
    once, although the 5-minute average is still near the opening 87.12."""
    exchange.deposit(DOC_KEY, "TRY", Decimal(10_000))
    exchange.market.set_price("XRPTRY", Decimal(400), Decimal("0.1"))
    average = Decimal((await trader.public("/api/v3/avgPrice", {"symbol": "XRPTRY"})).body["price"])
    inside = await trader.order(**limit("XRPTRY", "1", "1500"))
    above = await trader.order(**limit("XRPTRY", "1", "2000.01"))
    assert average * 5 < 1500  # by the 5-minute average this price would be out of band
    assert inside.status == 200
    assert error_of(above) == (-1013, "Filter failure: PERCENT_PRICE")


async def test_fetusdt_caps_open_orders_and_position(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    first = await trader.order(**limit("FETUSDT", "50", "1.200"))
    too_big = await trader.order(**limit("FETUSDT", "60", "1.200"))  # 900 + 50 + 60 > 1000
    second = await trader.order(**limit("FETUSDT", "50", "1.200"))
    third = await trader.order(**limit("FETUSDT", "10", "1.300", side="SELL"))
    assert first.status == second.status == 200
    assert error_of(too_big) == (-1013, "Filter failure: MAX_POSITION")
    assert error_of(third) == (-1013, "Filter failure: MAX_NUM_ORDERS")


async def test_exchange_filters_lowered_on_a_running_simulator(
    exchange: ExchangeSimulator, trader: Binance
) -> None:
    exchange.set_price("BTCUSDT", Decimal("65000"))
    exchange.set_price("ETHUSDT", Decimal("3000"))
    exchange.catalog.set_exchange_filter("EXCHANGE_MAX_NUM_ORDERS", maxNumOrders=2)
    await trader.order(**limit("BTCUSDT", "0.001", "60000"))
    await trader.order(**limit("ETHUSDT", "0.1", "2900"))
    third = await trader.order(**limit("ETHUSDT", "0.1", "2800"))
    market = await trader.order(symbol="ETHUSDT", side="BUY", type="MARKET", quantity="0.01")
    info = (await trader.public("/api/v3/exchangeInfo", {"symbol": "BTCUSDT"})).body
    assert error_of(third) == error_of(market) == (-1013, "Filter failure: EXCHANGE_MAX_NUM_ORDERS")
    assert info["exchangeFilters"][0] == {
        "filterType": "EXCHANGE_MAX_NUM_ORDERS",
        "maxNumOrders": 2,
    }


# -- quoteOrderQty: the quantity it buys, not the amount, meets the minimum notional -----------


@pytest.mark.parametrize(("price", "accepted"), [("71428", False), ("71429", True)])
async def test_quote_order_qty_is_judged_by_its_rounded_quantity(
    exchange: ExchangeSimulator, trader: Binance, price: str, accepted: bool
) -> None:
    """quoteOrderQty=5.20 BUY on BTCUSDT (NOTIONAL min 5, step 0.00001): the order buys
    floor(5.20 / ask) = 0.00007 BTC. × 71428 that is 4.99996 (under 5: refused); × 71429 it
    is 5.00003 (filled). Checking the quote amount, 5.20, would have accepted both."""
    exchange.spread = Decimal(0)  # the ask is the last price
    exchange.market.set_price("BTCUSDT", Decimal(price), Decimal(10**9))  # outweighs the rest
    average = Decimal(
        (await trader.public("/api/v3/avgPrice", {"symbol": "BTCUSDT"})).body["price"]
    )
    assert exchange.book_top("BTCUSDT").ask == Decimal(price)
    assert (Decimal("0.00007") * average >= 5) is accepted  # the case is the one described
    reply = await trader.order(symbol="BTCUSDT", side="BUY", type="MARKET", quoteOrderQty="5.20")
    if accepted:
        assert (reply.status, reply.body["origQty"]) == (200, "0.00007000")
        assert reply.body["origQuoteOrderQty"] == "5.20000000"
    else:
        assert (reply.status, error_of(reply)) == (400, (-1013, "Filter failure: NOTIONAL"))
        assert exchange.orders_for(DOC_KEY) == []

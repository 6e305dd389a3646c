"""The Binance client against the exchange simulator, over real sockets."""

import asyncio
import time
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from chatbot.exchange.client import BinanceClient, OrderRequest
from chatbot.exchange.credentials import ApiCredentials
from chatbot.exchange.errors import (
    FilterFailure,
    InsufficientBalance,
    InvalidInterval,
    InvalidSignature,
    InvalidSymbol,
    IpBanned,
    OrderNotFound,
    OrderStatusUnknown,
    RateLimited,
)
from chatbot.exchange.filters import prepare_order
from chatbot.exchange.reference_prices import ReferencePrices
from chatbot.exchange.rule_checks import OrderRuleViolation
from chatbot.exchange.symbol_rules import SymbolRules
from chatbot.key_types import KeyType
from chatbot.sandbox.exchange import ExchangeSimulator
from tests.keys import public_key_pem

API_KEY = "A" * 64
SECRET = "s3cr3t" * 10


@pytest.fixture
async def client(exchange: ExchangeSimulator) -> AsyncIterator[BinanceClient]:
    async with BinanceClient(exchange.rest_url, timeout=2.0) as c:
        yield c


@pytest.fixture
def creds(exchange: ExchangeSimulator) -> ApiCredentials:
    exchange.add_account(
        API_KEY, secret=SECRET, balances={"USDT": Decimal(100000), "BTC": Decimal(2)}
    )
    return ApiCredentials.create(API_KEY, SECRET, KeyType.HMAC)


async def test_market_data_endpoints(client, exchange):
    await client.ping()
    assert abs(await client.server_time() - client.timestamp()) < 5000
    price = exchange.price("BTCUSDT")
    assert (await client.ticker_price("BTCUSDT")).price == price
    [ticker] = await client.ticker_24hr(["BTCUSDT"])
    assert ticker.last_price == price and isinstance(ticker.quote_volume, Decimal)
    book = await client.book_ticker("BTCUSDT")
    assert book.bid_price < book.ask_price
    assert (await client.avg_price("BTCUSDT")).price > 0
    depth = await client.depth("BTCUSDT", limit=5)
    assert depth.bids and depth.asks and depth.bids[0][0] < depth.asks[0][0]
    trades = await client.trades("BTCUSDT", limit=10)
    assert len(trades) == 10 and all(isinstance(t.price, Decimal) for t in trades)
    klines = await client.klines("BTCUSDT", "1h", limit=100)
    assert len(klines) == 100 and all(k.low <= k.close <= k.high for k in klines)
    prices = await client.ticker_prices(["BTCUSDT", "ETHUSDT"])
    assert [p.symbol for p in prices] == ["BTCUSDT", "ETHUSDT"]


async def test_exchange_info_is_cached(client, exchange):
    info = await client.exchange_info()
    assert len(info.symbols) >= 20
    sent = client.requests_sent
    rules = await client.symbol_rules("BTCUSDT")
    assert rules.base_asset == "BTC" and rules.quote_asset == "USDT"
    assert client.requests_sent == sent
    with pytest.raises(InvalidSymbol):
        await client.symbol_rules("NOPEUSDT")
    assert client.requests_sent == sent


async def test_unknown_symbol_and_interval_are_typed(client):
    with pytest.raises(InvalidSymbol):
        await client.ticker_price("NOPEUSDT")
    with pytest.raises(InvalidInterval):
        await client.klines("BTCUSDT", "7m")


async def test_weight_header_is_tracked(client):
    await client.exchange_info()
    first = client.used_weight
    await client.depth("BTCUSDT", limit=5)
    assert first >= 20 and client.used_weight > first


async def test_account_balances_and_commission(client, creds):
    account = await client.account(creds)
    assert account.can_trade and not account.can_withdraw
    assert account.balance("USDT").free == Decimal(100000)
    assert account.balance("XRP").total == 0
    commission = await client.commission(creds, "BTCUSDT")
    assert commission.standard.taker > 0


async def test_api_restrictions_on_mainnet(client, creds):
    restrictions = await client.api_restrictions(creds)
    assert restrictions is not None
    assert restrictions.enable_reading and not restrictions.enable_withdrawals


async def test_api_restrictions_absent_on_testnet(exchange_factory):
    sim = await exchange_factory(network="testnet")
    sim.add_account(API_KEY, secret=SECRET)
    async with BinanceClient(sim.rest_url) as client:
        creds = ApiCredentials.create(API_KEY, SECRET, KeyType.HMAC)
        assert await client.api_restrictions(creds) is None


async def test_wrong_secret_is_a_signature_error(client, creds):
    wrong = ApiCredentials.create(API_KEY, "not-the-secret", KeyType.HMAC)
    with pytest.raises(InvalidSignature) as excinfo:
        await client.account(wrong)
    assert "not-the-secret" not in str(excinfo.value)
    assert API_KEY not in str(excinfo.value)


def _pem(private_key) -> str:
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.mark.parametrize("key_type", [KeyType.ED25519, KeyType.RSA])
async def test_asymmetric_keys_sign_accepted_requests(client, exchange, key_type):
    if key_type is KeyType.ED25519:
        private = _pem(ed25519.Ed25519PrivateKey.generate())
    else:
        private = _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    exchange.add_account("K" * 64, public_key_pem=public_key_pem(private))
    creds = ApiCredentials.create("K" * 64, private, key_type)
    assert (await client.account(creds)).can_trade


@pytest.mark.parametrize("skew_ms", [-3000, 6000])
async def test_clock_skew_recovers_through_time_sync(client, creds, exchange, skew_ms):
    await client.account(creds)  # synced while the clocks agree
    exchange.clock_skew_ms = skew_ms
    account = await client.account(creds)  # -1021, re-sync, one retry
    assert account.can_trade
    assert abs(client.time_offset_ms - skew_ms) < 1000


async def test_market_order_fills_and_updates_balances(client, creds):
    order = await client.place_order(
        creds, OrderRequest("BTCUSDT", "BUY", "MARKET", quantity=Decimal("0.01"))
    )
    assert order.status == "FILLED" and order.executed_qty == Decimal("0.01")
    assert order.fills and order.average_price is not None
    account = await client.account(creds)
    assert account.balance("USDT").free < Decimal(100000)


async def test_quote_quantity_order(client, creds):
    order = await client.place_order(
        creds, OrderRequest("BTCUSDT", "BUY", "MARKET", quote_order_qty=Decimal(100))
    )
    assert order.status == "FILLED"
    assert order.cumulative_quote_qty <= Decimal(100)


async def test_limit_order_rests_is_listed_and_cancelled(client, creds, exchange):
    below = (exchange.price("BTCUSDT") * Decimal("0.9")).quantize(Decimal("0.01"))
    request = OrderRequest(
        "BTCUSDT", "BUY", "LIMIT", quantity=Decimal("0.001"), price=below, time_in_force="GTC"
    )
    order = await client.place_order(creds, request)
    assert order.status == "NEW" and order.is_open
    [listed] = await client.open_orders(creds, "BTCUSDT")
    assert listed.order_id == order.order_id
    found = await client.query_order(creds, "BTCUSDT", client_order_id=order.client_order_id)
    assert found.order_id == order.order_id
    cancelled = await client.cancel_order(creds, "BTCUSDT", order_id=order.order_id)
    assert cancelled.status == "CANCELED"
    assert await client.open_orders(creds) == []


async def test_cancel_all_open_orders(client, creds, exchange):
    below = (exchange.price("BTCUSDT") * Decimal("0.9")).quantize(Decimal("0.01"))
    for _ in range(3):
        await client.place_order(
            creds,
            OrderRequest(
                "BTCUSDT",
                "BUY",
                "LIMIT",
                quantity=Decimal("0.001"),
                price=below,
                time_in_force="GTC",
            ),
        )
    cancelled = await client.cancel_open_orders(creds, "BTCUSDT")
    assert len(cancelled) == 3 and {o.status for o in cancelled} == {"CANCELED"}


async def test_my_trades_lists_fills(client, creds):
    await client.place_order(
        creds, OrderRequest("BTCUSDT", "SELL", "MARKET", quantity=Decimal("0.01"))
    )
    [trade] = await client.my_trades(creds, "BTCUSDT")
    assert trade.qty == Decimal("0.01") and not trade.is_buyer


async def test_test_order_places_nothing(client, creds):
    await client.test_order(
        creds, OrderRequest("BTCUSDT", "BUY", "MARKET", quantity=Decimal("0.01"))
    )
    assert await client.my_trades(creds, "BTCUSDT") == []


async def test_filter_failure_and_insufficient_balance_are_typed(client, creds):
    with pytest.raises(FilterFailure) as excinfo:
        await client.place_order(
            creds, OrderRequest("BTCUSDT", "BUY", "MARKET", quantity=Decimal("0.000001"))
        )
    assert excinfo.value.filter_name in {"LOT_SIZE", "MARKET_LOT_SIZE"}
    with pytest.raises(InsufficientBalance):
        await client.place_order(
            creds, OrderRequest("BTCUSDT", "SELL", "MARKET", quantity=Decimal("5"))
        )


async def test_unknown_order_is_typed(client, creds):
    with pytest.raises(OrderNotFound):
        await client.query_order(creds, "BTCUSDT", client_order_id="no-such-order")


async def test_a_short_rate_limit_is_waited_out_and_nothing_is_sent_meanwhile(client, exchange):
    exchange.faults.rate_limit_next("/api/v3/ticker/price", count=1, retry_after=1)
    sent, started = client.requests_sent, time.monotonic()
    price, _ = await asyncio.gather(client.ticker_price("BTCUSDT"), client.ping())
    assert price.symbol == "BTCUSDT"
    assert time.monotonic() - started >= 0.95  # the retry waited for Retry-After
    assert client.requests_sent == sent + 3  # the refused call, its retry and the ping


async def test_a_long_rate_limit_tells_the_caller_how_long(client, exchange):
    exchange.faults.rate_limit_next("/api/v3/ticker/price", count=1, retry_after=30)
    with pytest.raises(RateLimited) as excinfo:
        await client.ticker_price("BTCUSDT")
    assert 29 <= excinfo.value.retry_after <= 30
    sent = client.requests_sent
    with pytest.raises(RateLimited):
        await client.ping()  # held back: nothing reaches the exchange meanwhile
    assert client.requests_sent == sent


async def test_ip_ban_refuses_calls_until_it_ends(client, exchange):
    exchange.faults.ban(60)
    with pytest.raises(IpBanned) as excinfo:
        await client.ping()
    assert excinfo.value.retry_after > 50
    assert "UTC" in excinfo.value.user_message
    sent = client.requests_sent
    with pytest.raises(IpBanned):
        await client.ticker_price("BTCUSDT")
    assert client.requests_sent == sent


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 503},
        {"code": -1007},
    ],
)
async def test_order_with_unknown_outcome_is_found_by_its_client_id(client, creds, exchange, fault):
    exchange.faults.fail_next("/api/v3/order", count=1, execute=True, **fault)
    request = OrderRequest(
        "BTCUSDT", "BUY", "MARKET", quantity=Decimal("0.01"), client_order_id="ticket-1"
    )
    with pytest.raises(OrderStatusUnknown) as excinfo:
        await client.place_order(creds, request)
    assert excinfo.value.client_order_id == "ticket-1"
    found = await client.query_order(creds, "BTCUSDT", client_order_id="ticket-1")
    assert found.status == "FILLED"
    assert len(exchange.orders_for(API_KEY)) == 1  # sent once, never retried


async def test_order_timeout_is_unknown_not_retried(exchange, creds):
    exchange.faults.hang_next("/api/v3/order", count=1, seconds=5, execute=False)
    async with BinanceClient(exchange.rest_url, timeout=0.5) as client:
        request = OrderRequest("BTCUSDT", "BUY", "MARKET", quantity=Decimal("0.01"))
        with pytest.raises(OrderStatusUnknown) as excinfo:
            await client.place_order(creds, request)
        with pytest.raises(OrderNotFound):
            await client.query_order(
                creds, "BTCUSDT", client_order_id=excinfo.value.client_order_id
            )
    assert exchange.orders_for(API_KEY) == []


SYMBOLS = ["BTCUSDT", "ETHUSDT", "BNBBTC", "XRPUSDT", "DOGEUSDT"]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    symbol=st.sampled_from(SYMBOLS),
    side=st.sampled_from(["BUY", "SELL"]),
    order_type=st.sampled_from(["MARKET", "LIMIT"]),
    quantity_scale=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(3), places=6),
    price_factor=st.decimals(min_value=Decimal("0.4"), max_value=Decimal("2.2"), places=4),
    notional=st.decimals(min_value=Decimal(1), max_value=Decimal(5000), places=3),
)
async def test_whatever_the_rules_accept_the_exchange_accepts(
    client, creds, exchange, symbol, side, order_type, quantity_scale, price_factor, notional
):
    rules = await client.symbol_rules(symbol)
    reference = (await client.avg_price(symbol)).price
    price = reference * price_factor if order_type == "LIMIT" else None
    quantity = notional / reference * quantity_scale
    try:
        prepared = prepare_order(
            rules,
            side=side,
            order_type=order_type,
            quantity=quantity,
            price=price,
            references=ReferencePrices.same(reference),
        )
    except OrderRuleViolation as refused:
        event(f"refused by the rules: {refused.filter_name}")
        return  # the rules refused it; whether every refusal is right is tests/unit/test_filters.py
    event("reached the exchange")
    request = OrderRequest(
        symbol,
        side,
        order_type,
        quantity=prepared.quantity,
        price=prepared.price,
        time_in_force="GTC" if order_type == "LIMIT" else None,
    )
    await client.test_order(creds, request)  # raises if the exchange refuses a filter


def least_notional(rules: SymbolRules) -> Decimal:
    """The smallest order value the symbol's NOTIONAL or MIN_NOTIONAL filter allows."""
    floors = [f.min_notional for f in (rules.notional, rules.min_notional) if f is not None]
    return max(floors, default=Decimal(0))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    symbol=st.sampled_from(SYMBOLS),
    side=st.sampled_from(["BUY", "SELL"]),
    order_type=st.sampled_from(["MARKET", "LIMIT"]),
    price_factor=st.decimals(min_value=Decimal("0.9"), max_value=Decimal("1.1"), places=4),
    notional_factor=st.decimals(min_value=Decimal(2), max_value=Decimal(20), places=3),
)
async def test_orders_well_inside_the_rules_all_reach_the_exchange_and_are_accepted(
    client, creds, exchange, symbol, side, order_type, price_factor, notional_factor
):
    """The property above returns early on a refusal; here every example is an order the
    rules must accept (2 to 20 times the least value, within 10% of the market), so every one
    is rounded by the rules and sent: a refusal on either side fails the test."""
    rules = await client.symbol_rules(symbol)
    reference = (await client.avg_price(symbol)).price
    price = reference * price_factor if order_type == "LIMIT" else None
    floor = least_notional(rules) or Decimal(10)
    quantity = floor * notional_factor / (price or reference)
    prepared = prepare_order(
        rules,
        side=side,
        order_type=order_type,
        quantity=quantity,
        price=price,
        references=ReferencePrices.same(reference),
    )
    request = OrderRequest(
        symbol,
        side,
        order_type,
        quantity=prepared.quantity,
        price=prepared.price,
        time_in_force="GTC" if order_type == "LIMIT" else None,
    )
    await client.test_order(creds, request)  # raises if the exchange refuses a filter

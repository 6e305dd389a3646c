"""The weight governor, the order pacer and the endpoint weights, on a clock the test moves."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from chatbot.exchange.errors import RateLimited
from chatbot.exchange.order_pacer import OrderPacer
from chatbot.exchange.weight_governor import (
    Priority,
    WeightGovernor,
    background,
    current_priority,
    minute_limit,
    trading,
)
from chatbot.exchange.weights import rest_weight
from chatbot.sandbox.exchange.limits import rest_weight as simulator_weight
from chatbot.sandbox.exchange.params import Params

TRADE, USER, BACKGROUND = Priority.TRADE, Priority.USER, Priority.BACKGROUND


class ServerClock:
    """Binance's clock in seconds: runs like real time from 2 s into a minute, and the test
    moves it on by adding to `now`."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0 + 2.0
        self._started = time.monotonic()

    def __call__(self) -> float:
        return self.now + time.monotonic() - self._started


def governor(limit: int = 1000, **options: float) -> tuple[WeightGovernor, ServerClock]:
    clock = ServerClock()
    return WeightGovernor(server_time=clock, limit=limit, **options), clock


async def held(gov: WeightGovernor, call: asyncio.Task[None], priority: Priority) -> None:
    """Wait for the fact that `call` is held back: the governor counts it as waiting at
    `priority`. A call that may go is counted and let go without yielding to the loop, so the
    count is seen only while the call waits; then check that it has not gone."""
    for _ in range(1000):  # turns of the loop, not time: the call's first step takes one
        if gov.waiting[priority] or call.done():
            break
        await asyncio.sleep(0)
    assert not call.done() and gov.waiting[priority] == 1


# -- weights: Binance's documentation (reference §2.1), and the simulator agrees -------------

DOCUMENTED = [
    ("GET", "/api/v3/openOrders", {"symbol": "BTCUSDT"}, 6),
    ("GET", "/api/v3/openOrders", {}, 80),
    ("GET", "/api/v3/depth", {"symbol": "BTCUSDT"}, 5),
    ("GET", "/api/v3/depth", {"symbol": "BTCUSDT", "limit": "100"}, 5),
    ("GET", "/api/v3/depth", {"symbol": "BTCUSDT", "limit": "101"}, 25),
    ("GET", "/api/v3/depth", {"symbol": "BTCUSDT", "limit": "1000"}, 50),
    ("GET", "/api/v3/depth", {"symbol": "BTCUSDT", "limit": "5000"}, 250),
    ("GET", "/api/v3/ticker/24hr", {"symbol": "BTCUSDT"}, 2),
    ("GET", "/api/v3/ticker/24hr", {}, 80),
    ("GET", "/api/v3/ticker/24hr", {"symbols": json.dumps(["A"] * 20)}, 2),
    ("GET", "/api/v3/ticker/24hr", {"symbols": json.dumps(["A"] * 21)}, 40),
    ("GET", "/api/v3/ticker/24hr", {"symbols": json.dumps(["A"] * 101)}, 80),
    ("GET", "/api/v3/ticker/price", {"symbol": "BTCUSDT"}, 2),
    ("GET", "/api/v3/ticker/price", {}, 4),
    ("GET", "/api/v3/ticker/price", {"symbols": '["BTCUSDT","ETHUSDT"]'}, 4),
    ("GET", "/api/v3/ticker/bookTicker", {"symbol": "BTCUSDT"}, 2),
    ("GET", "/api/v3/myTrades", {"symbol": "BTCUSDT"}, 20),
    ("GET", "/api/v3/myTrades", {"symbol": "BTCUSDT", "orderId": "7"}, 5),
    ("GET", "/api/v3/allOrders", {"symbol": "BTCUSDT"}, 20),
    ("GET", "/api/v3/account", {}, 20),
    ("GET", "/api/v3/account/commission", {"symbol": "BTCUSDT"}, 20),
    ("GET", "/api/v3/exchangeInfo", {}, 20),
    ("GET", "/api/v3/order", {"symbol": "BTCUSDT"}, 4),
    ("POST", "/api/v3/order", {"symbol": "BTCUSDT"}, 1),
    ("DELETE", "/api/v3/order", {"symbol": "BTCUSDT"}, 1),
    ("DELETE", "/api/v3/openOrders", {"symbol": "BTCUSDT"}, 1),
    ("POST", "/api/v3/order/test", {}, 1),
    ("POST", "/api/v3/order/test", {"computeCommissionRates": "true"}, 20),
    ("POST", "/api/v3/orderList/oco", {"symbol": "BTCUSDT"}, 1),
    ("POST", "/api/v3/orderList/otoco", {"symbol": "BTCUSDT"}, 1),
    ("GET", "/api/v3/orderList", {"orderListId": "1"}, 4),
    ("GET", "/api/v3/openOrderList", {}, 6),
    ("GET", "/api/v3/allOrderList", {}, 20),
    ("DELETE", "/api/v3/orderList", {"symbol": "BTCUSDT"}, 1),
    ("GET", "/api/v3/trades", {"symbol": "BTCUSDT"}, 25),
    ("GET", "/api/v3/klines", {"symbol": "BTCUSDT"}, 2),
    ("GET", "/api/v3/avgPrice", {"symbol": "BTCUSDT"}, 2),
    ("GET", "/api/v3/rateLimit/order", {}, 40),
    ("GET", "/api/v3/ping", {}, 1),
    ("GET", "/api/v3/time", {}, 1),
]


@pytest.mark.parametrize(("method", "path", "params", "weight"), DOCUMENTED)
def test_each_endpoint_weighs_what_binance_documents(method, path, params, weight):
    assert rest_weight(method, path, params) == weight
    assert simulator_weight(method, path, Params(params)) == weight


# -- the budget --------------------------------------------------------------------------------


def test_limits_come_from_exchange_info():
    rate_limits = [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 50},
        {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 160000},
    ]
    gov, _ = governor(limit=6000)
    gov.set_limits(rate_limits)
    assert (gov.limit, gov.budget) == (1200, 960)
    assert minute_limit(rate_limits, "ORDERS") is None
    pacer = OrderPacer()
    pacer.set_limits(rate_limits)
    assert pacer.limits == {10: 50, 86_400: 160_000}


async def test_a_user_call_may_spend_the_reserve_background_may_not():
    gov, _ = governor(limit=1000)  # budget 800, user reads 720, background 600
    gov.used = 510
    await gov.acquire(200, USER)
    assert gov.used == 710
    waiting = asyncio.create_task(gov.acquire(80, BACKGROUND))
    await held(gov, waiting, BACKGROUND)
    waiting.cancel()


async def test_a_user_call_over_the_budget_is_told_the_wait_to_the_next_minute():
    gov, clock = governor(limit=1000)
    gov.used = 790
    with pytest.raises(RateLimited) as excinfo:
        await gov.acquire(20, USER)
    assert 58 <= excinfo.value.retry_after <= 60
    clock.now += 58.5  # about 0.5 s before the window turns: a short wait, taken silently
    await asyncio.wait_for(gov.acquire(20, USER), 3)
    assert gov.used == 20


async def test_background_waits_for_the_next_minute_and_then_goes():
    gov, clock = governor(limit=1000)
    gov.used = 600
    waiting = asyncio.create_task(gov.acquire(80, BACKGROUND))
    await held(gov, waiting, BACKGROUND)
    clock.now += 60
    await asyncio.wait_for(waiting, 2)
    assert gov.used == 80


async def test_background_is_spread_over_the_minute():
    gov, clock = governor(limit=1000)  # background may spend 600 a minute, 100 at once
    await gov.acquire(80, BACKGROUND)  # the first call of a window always goes
    second = asyncio.create_task(gov.acquire(80, BACKGROUND))
    await held(gov, second, BACKGROUND)  # 160 of 600 is due 6 s into the window, not at 1 s
    clock.now += 6
    await asyncio.wait_for(second, 2)


async def served_in_order(*priorities: Priority) -> list[Priority]:
    """Calls of these priorities, started in this order while the governor is paused: the
    order in which it lets them go."""
    gov, _ = governor(limit=1000)
    gov.pause(0.3)
    done: list[Priority] = []

    async def call(priority: Priority) -> None:
        await gov.acquire(1, priority)
        done.append(priority)

    await asyncio.wait_for(asyncio.gather(*(call(p) for p in priorities)), 3)
    return done


async def test_background_lets_a_waiting_user_go_first():
    assert await served_in_order(BACKGROUND, USER) == [USER, BACKGROUND]


async def test_trading_may_spend_the_headroom_user_reads_may_not():
    gov, _ = governor(limit=1000)  # budget 800, of which user reads may spend 720
    gov.used = 715
    with pytest.raises(RateLimited):
        await gov.acquire(6, USER)
    await gov.acquire(1, TRADE)  # a confirmed order goes at once
    await gov.acquire(4, TRADE)
    assert gov.used == 720


async def test_a_waiting_order_goes_before_waiting_reads():
    done = await served_in_order(BACKGROUND, USER, USER, TRADE)
    assert done[0] is TRADE and done[-1] is BACKGROUND, done


def test_trading_marks_the_calls_made_inside():
    assert current_priority() is USER
    with trading():
        assert current_priority() is TRADE
        with background():
            assert current_priority() is BACKGROUND
    assert current_priority() is USER


async def test_a_raised_lane_stops_waiting_as_background():
    gov, _ = governor(limit=1000)
    gov.used = 600  # background's part of this minute is spent; users' is not
    with background() as waiting_lane:
        call = asyncio.create_task(gov.acquire(80))
    await held(gov, call, BACKGROUND)
    waiting_lane.priority = USER  # a user now waits for this re-read
    await asyncio.wait_for(call, 2)
    assert gov.used == 680 and gov.waiting[BACKGROUND] == 0


async def test_background_leaves_what_users_asked_for_last_minute_to_them():
    gov, clock = governor(limit=1000)  # budget 800: user reads 720, background 600
    await gov.acquire(400, USER)
    with pytest.raises(RateLimited):
        await gov.acquire(400, USER)  # refused, but asked for: 800 in all
    clock.now += 60
    await gov.acquire(70, BACKGROUND)  # the floor (80) is all background gets this minute
    waiting = asyncio.create_task(gov.acquire(20, BACKGROUND))
    await held(gov, waiting, BACKGROUND)
    clock.now += 60  # a quiet minute before: background gets its whole part again
    await asyncio.wait_for(waiting, 2)
    clock.now += 60
    await gov.acquire(90, BACKGROUND)
    assert gov.used == 90


async def test_binance_count_wins_when_higher():
    gov, _ = governor(limit=1000)
    await gov.acquire(10, USER)
    gov.observe(500)  # another program on the same IP spent weight too
    assert gov.used == 500
    gov.observe(20)
    assert gov.used == 500


async def test_a_429_pauses_every_call():
    gov, _ = governor(limit=1000, user_wait=5)
    gov.pause(30)
    with pytest.raises(RateLimited) as excinfo:
        await gov.acquire(1, USER)  # longer than a user waits silently: told how long
    assert 29 <= excinfo.value.retry_after <= 30
    waiting = asyncio.create_task(gov.acquire(1, BACKGROUND))
    await held(gov, waiting, BACKGROUND)
    assert gov.used == 0
    waiting.cancel()
    gov2, _ = governor(limit=1000)
    gov2.pause(0.3)  # a short pause is waited out
    await asyncio.wait_for(gov2.acquire(1, USER), 2)


async def test_background_reaches_tasks_started_inside():
    seen: list[Priority] = []

    async def call() -> None:
        seen.append(current_priority())

    with background():
        await asyncio.create_task(call())
    await asyncio.create_task(call())
    assert seen == [BACKGROUND, USER]


# -- orders per account ------------------------------------------------------------------------


async def test_orders_are_paced_per_account():
    clock = ServerClock()
    clock.now = 1_800_000_000.0  # the start of a 10-second window
    pacer = OrderPacer(share=0.8, server_time=clock, limits={10: 5, 86_400: 1000})
    for _ in range(4):
        await pacer.acquire("alice")
    with pytest.raises(RateLimited) as excinfo:
        await pacer.acquire("alice")  # the 5th would pass 80 % of 5 per 10 s
    assert excinfo.value.code == -1015 and 9 <= excinfo.value.retry_after <= 11
    await pacer.acquire("bob")  # another account has its own count
    clock.now += 10
    await pacer.acquire("alice")


async def test_order_counts_from_headers_win_when_higher():
    clock = ServerClock()
    pacer = OrderPacer(share=1.0, server_time=clock, limits={10: 50, 86_400: 100})
    pacer.observe("alice", {"X-MBX-ORDER-COUNT-10S": "3", "X-MBX-ORDER-COUNT-1D": "100"})
    with pytest.raises(RateLimited):
        await pacer.acquire("alice")  # the day's limit is used up (orders made elsewhere)

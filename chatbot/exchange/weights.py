"""The request weight Binance charges for each REST call, as its documentation states.

USDⓈ-M futures calls (`/fapi/...`) are in the same table, by their own paths, with the weights of
Binance's futures documentation; Binance counts them in a budget of their own (the futures
client has its own governor), so the two never mix.

Several weights depend on the parameters: `openOrders` costs 6 with a symbol and 80 without,
`depth` grows with `limit`, the tickers with the number of symbols asked for, `myTrades` is
cheaper for one order. A call not in the table is charged 1 (ping, time and the like).

Written independently of the simulator's own table (`chatbot/sandbox/exchange/limits.py`): the
client may not import the simulator, and a test compares both against the reference.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

Params = Mapping[str, Any]
Weight = int | Callable[[Params], int]


def _depth(params: Params) -> int:
    limit = int(params.get("limit") or 100)
    for ceiling, weight in ((100, 5), (500, 25), (1000, 50)):
        if limit <= ceiling:
            return weight
    return 250


def _symbol_count(params: Params) -> int | None:
    """How many symbols a ticker call names; None for every symbol."""
    if params.get("symbol"):
        return 1
    raw = params.get("symbols")
    if raw is None:
        return None
    names = json.loads(raw) if isinstance(raw, str) else raw
    return len(names)


def _ticker_24hr(params: Params) -> int:
    count = _symbol_count(params)
    if count is None or count > 100:
        return 80
    return 2 if count <= 20 else 40


def _small_ticker(params: Params) -> int:
    """`ticker/price` and `ticker/bookTicker`: 2 for one symbol, 4 for several or all."""
    return 2 if params.get("symbol") else 4


def _futures_klines(params: Params) -> int:
    """`/fapi/v1/klines` grows with `limit` (default 500): 1 below 100, 2 below 500, 5 up to
    1000, 10 beyond."""
    limit = int(params.get("limit") or 500)
    for ceiling, weight in ((99, 1), (499, 2), (1000, 5)):
        if limit <= ceiling:
            return weight
    return 10


def _one_or_all(one: int, every: int) -> Callable[[Params], int]:
    """A futures call that costs `one` for a symbol and `every` without one."""
    return lambda params: one if params.get("symbol") else every


FUTURES_WEIGHTS: dict[tuple[str, str], Weight] = {
    ("GET", "/fapi/v1/ping"): 1,
    ("GET", "/fapi/v1/time"): 1,
    ("GET", "/fapi/v1/exchangeInfo"): 1,
    ("GET", "/fapi/v1/ticker/24hr"): _one_or_all(1, 40),
    ("GET", "/fapi/v1/ticker/price"): _one_or_all(1, 2),
    ("GET", "/fapi/v1/premiumIndex"): _one_or_all(1, 10),
    # Binance documents no minute weight for fundingRate: it shares a limit of its own, 500
    # calls per 5 minutes per IP, with fundingInfo (paced by the futures client). 1 here keeps
    # the call visible to the governor.
    ("GET", "/fapi/v1/fundingRate"): 1,
    ("GET", "/fapi/v1/openInterest"): 1,
    ("GET", "/fapi/v1/trades"): 5,
    ("GET", "/fapi/v1/klines"): _futures_klines,
    ("GET", "/fapi/v1/markPriceKlines"): _futures_klines,  # the same table as klines
}

REST_WEIGHTS: dict[tuple[str, str], Weight] = {
    ("GET", "/api/v3/exchangeInfo"): 20,
    ("GET", "/api/v3/depth"): _depth,
    ("GET", "/api/v3/trades"): 25,
    ("GET", "/api/v3/aggTrades"): 4,
    ("GET", "/api/v3/klines"): 2,
    ("GET", "/api/v3/avgPrice"): 2,
    ("GET", "/api/v3/ticker/24hr"): _ticker_24hr,
    ("GET", "/api/v3/ticker/price"): _small_ticker,
    ("GET", "/api/v3/ticker/bookTicker"): _small_ticker,
    ("POST", "/api/v3/order"): 1,
    ("POST", "/api/v3/order/test"): lambda p: 20 if p.get("computeCommissionRates") else 1,
    ("GET", "/api/v3/order"): 4,
    ("DELETE", "/api/v3/order"): 1,
    ("GET", "/api/v3/openOrders"): lambda p: 6 if p.get("symbol") else 80,
    ("DELETE", "/api/v3/openOrders"): 1,
    ("GET", "/api/v3/allOrders"): 20,
    ("GET", "/api/v3/account"): 20,
    ("GET", "/api/v3/myTrades"): lambda p: 5 if p.get("orderId") else 20,
    ("GET", "/api/v3/account/commission"): 20,
    ("GET", "/api/v3/rateLimit/order"): 40,
    ("POST", "/api/v3/orderList/oco"): 1,
    ("POST", "/api/v3/orderList/otoco"): 1,
    ("GET", "/api/v3/orderList"): 4,
    ("DELETE", "/api/v3/orderList"): 1,
    ("GET", "/api/v3/openOrderList"): 6,
    ("GET", "/api/v3/allOrderList"): 20,
    **FUTURES_WEIGHTS,
}


def rest_weight(method: str, path: str, params: Params) -> int:
    """The documented weight of one call; `params` holds only the parameters sent (no None)."""
    weight = REST_WEIGHTS.get((method, path), 1)
    return weight(params) if callable(weight) else weight

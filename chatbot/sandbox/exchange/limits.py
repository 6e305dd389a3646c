"""Rate limits: request weight per IP per minute and new orders per account, as Binance counts.

Weights are the documented ones per endpoint (some depend on parameters). Windows are fixed
and aligned like Binance's (the minute, ten seconds, the UTC day), so `X-MBX-USED-WEIGHT-1M`
drops to zero at the top of each minute. Limits are attributes a test may lower.

WebSocket connection attempts: Binance allows 300 every 5 minutes per IP, stated separately
for the market streams and for the WebSocket API (two hosts), so each service counts its own.
Binance documents no answer for the 301st; the simulator refuses the handshake with HTTP 429,
`Retry-After` (seconds until the oldest attempt leaves the window) and a -1003 body, as for
weight. The window slides (no 5 minutes ever hold more than 300), the strictest reading, and
a refused attempt counts too: it is an attempt.
"""

from __future__ import annotations

import json
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from typing import Any

from .params import Params
from .wire import TOO_MUCH_WEIGHT, ApiError

MINUTE_MS = 60_000
TOO_MANY_CONNECTIONS = "Too many connection attempts; current limit is {limit} per 5 minutes."


def _depth_weight(params: Params) -> int:
    limit = _int(params.get("limit"), 100)
    for ceiling, weight in ((100, 5), (500, 25), (1000, 50)):
        if limit <= ceiling:
            return weight
    return 250


def _symbols_count(params: Params) -> int | None:
    """How many symbols a ticker call asks for; None for all of them."""
    if params.get("symbol"):
        return 1
    raw = params.get("symbols")
    if raw is None:
        return None
    try:
        names = json.loads(raw)
    except ValueError:
        return 1
    return len(names) if isinstance(names, list) else 1


def _ticker_24h_weight(params: Params) -> int:
    count = _symbols_count(params)
    if count is None or count > 100:
        return 80
    return 2 if count <= 20 else 40


def _small_ticker_weight(params: Params) -> int:
    return 2 if params.get("symbol") else 4


def _int(raw: str | None, default: int) -> int:
    try:
        return int(raw) if raw else default
    except ValueError:
        return default


Weight = int | Callable[[Params], int]

REST_WEIGHTS: dict[tuple[str, str], Weight] = {
    ("GET", "/api/v3/ping"): 1,
    ("GET", "/api/v3/time"): 1,
    ("GET", "/api/v3/exchangeInfo"): 20,
    ("GET", "/api/v3/depth"): _depth_weight,
    ("GET", "/api/v3/trades"): 25,
    ("GET", "/api/v3/klines"): 2,
    ("GET", "/api/v3/avgPrice"): 2,
    ("GET", "/api/v3/ticker/24hr"): _ticker_24h_weight,
    ("GET", "/api/v3/ticker/price"): _small_ticker_weight,
    ("GET", "/api/v3/ticker/bookTicker"): _small_ticker_weight,
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
    ("GET", "/sapi/v1/account/apiRestrictions"): 1,
    ("POST", "/api/v3/orderList/oco"): 1,
    ("POST", "/api/v3/orderList/otoco"): 1,
    ("GET", "/api/v3/orderList"): 4,
    ("DELETE", "/api/v3/orderList"): 1,
    ("GET", "/api/v3/openOrderList"): 6,
    ("GET", "/api/v3/allOrderList"): 20,
}


def rest_weight(
    method: str,
    path: str,
    params: Params,
    table: Mapping[tuple[str, str], Weight] = REST_WEIGHTS,
) -> int:
    """The documented weight of a REST call (1 for anything not in the table)."""
    weight = table.get((method, path), 1)
    return weight(params) if callable(weight) else weight


class _Window:
    """A fixed window counter: `count` events since `start`."""

    __slots__ = ("count", "start")

    def __init__(self) -> None:
        self.start = -1
        self.count = 0

    def add(self, now: int, length: int, amount: int) -> int:
        start = now // length * length
        if start != self.start:
            self.start, self.count = start, 0
        self.count += amount
        return self.count

    def current(self, now: int, length: int) -> int:
        return self.count if now // length * length == self.start else 0


class RateLimits:
    """The simulator's limits and counters (per IP for weight, per API key for orders)."""

    def __init__(self) -> None:
        self.weight_per_minute = 6000
        self.orders_per_10s = 50
        self.orders_per_day = 160_000
        # Binance bans an IP (418) that keeps calling before a 429's Retry-After has passed;
        # None turns that off, else the ban's length in seconds. Calls arriving within
        # `in_flight_ms` of the 429 were already on their way and are let through.
        self.ban_on_ignored_429: float | None = 120.0
        self.in_flight_ms = 1000
        self.rejections_429 = 0  # 429s answered (a test's proof that none happened)
        self._retry_since: dict[str, tuple[int, int]] = {}
        self.spent: Counter[tuple[str, str]] = Counter()  # weight by (method, path), all time
        self._weight: dict[str, _Window] = {}
        self._orders_10s: dict[str, _Window] = {}
        self._orders_day: dict[str, _Window] = {}
        self.peak_weight = 0  # the most weight one IP spent in one minute, refused calls included
        self.refused_weight = 0  # 429/-1003 answers (REST and WebSocket API)
        self.unheeded = 0  # of those, calls made while an earlier 429 still held: what Binance bans
        self.refused_orders = 0  # 429/-1015 answers
        self.connection_attempts = 300  # per IP and service, per `connection_window` seconds
        self.connection_window = 300.0
        self.refused_connections = 0  # handshakes refused for too many attempts
        self.subscription_ids = 65_535  # ids one WebSocket API session hands out (then -2042)
        self.refused_subscription_ids = 0  # -2042 answers
        self._attempts: dict[tuple[str, str], deque[float]] = {}

    def attempt_connection(self, ip: str, service: str) -> None:
        """Count a WebSocket handshake; raise 429 past `connection_attempts` in the window."""
        now = time.monotonic()
        made = self._attempts.setdefault((ip, service), deque())
        while made and made[0] + self.connection_window <= now:
            made.popleft()
        made.append(now)
        if len(made) > self.connection_attempts:
            self.refused_connections += 1
            retry = max(1, int(made[-self.connection_attempts - 1] + self.connection_window - now))
            raise ApiError(
                -1003,
                TOO_MANY_CONNECTIONS.format(limit=self.connection_attempts),
                status=429,
                headers={"Retry-After": str(retry)},
            )

    def spend(self, ip: str, weight: int, now: int) -> int:
        """Add a call's weight; raise 429/-1003 (with Retry-After) once over the limit."""
        used = self._weight.setdefault(ip, _Window()).add(now, MINUTE_MS, weight)
        self.peak_weight = max(self.peak_weight, used)
        if used > self.weight_per_minute:
            self.refused_weight += 1
            self.unheeded += used - weight > self.weight_per_minute
            retry = max(1, -(-(MINUTE_MS - now % MINUTE_MS) // 1000))
            raise ApiError(
                -1003,
                TOO_MUCH_WEIGHT.format(limit=self.weight_per_minute),
                status=429,
                headers={**weight_headers(used), "Retry-After": str(retry)},
            )
        return used

    def note_429(self, ip: str, now: int, retry_after: str | None) -> None:
        """A 429 went out: until its Retry-After (if any) the IP must stay silent."""
        self.rejections_429 += 1
        if retry_after is None:  # an account's order count (-1015): the IP may go on
            return
        until = now + _int(retry_after, 60) * 1000
        since, before = self._retry_since.get(ip, (now, 0))
        self._retry_since[ip] = (since if now < before else now, max(before, until))

    def forget_429s(self) -> None:
        self._retry_since.clear()

    def ignores_retry_after(self, ip: str, now: int) -> bool:
        """True when the IP calls again before its last 429's Retry-After has passed."""
        since, until = self._retry_since.get(ip, (0, 0))
        return self.ban_on_ignored_429 is not None and since + self.in_flight_ms <= now < until

    def announced(self, rate_limits: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """exchangeInfo's `rateLimits` with the limits this simulator really enforces."""
        current = {
            ("REQUEST_WEIGHT", "MINUTE", 1): self.weight_per_minute,
            ("ORDERS", "SECOND", 10): self.orders_per_10s,
            ("ORDERS", "DAY", 1): self.orders_per_day,
        }
        return [
            {**rule, "limit": current.get(_rule_key(rule), rule["limit"])} for rule in rate_limits
        ]

    def used_weight(self, ip: str, now: int) -> int:
        window = self._weight.get(ip)
        return window.current(now, MINUTE_MS) if window else 0

    def count_order(self, api_key: str, now: int) -> tuple[int, int]:
        """Count a new order; raise 429/-1015 past either ORDERS limit. Returns (10 s, day)."""
        ten = self._orders_10s.setdefault(api_key, _Window()).add(now, 10_000, 1)
        day = self._orders_day.setdefault(api_key, _Window()).add(now, 86_400_000, 1)
        for count, limit, label in (
            (ten, self.orders_per_10s, "10 SECOND"),
            (day, self.orders_per_day, "1 DAY"),
        ):
            if count > limit:
                self.refused_orders += 1
                raise ApiError(
                    -1015, f"Too many new orders; current limit is {limit} orders per {label}.", 429
                )
        return ten, day

    def order_counts(self, api_key: str, now: int) -> tuple[int, int]:
        ten = self._orders_10s.get(api_key)
        day = self._orders_day.get(api_key)
        return (
            ten.current(now, 10_000) if ten else 0,
            day.current(now, 86_400_000) if day else 0,
        )

    def ws_rate_limits(self, ip: str, now: int) -> list[dict[str, Any]]:
        """The `rateLimits` array of a WebSocket API response."""
        return [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": self.weight_per_minute,
                "count": self.used_weight(ip, now),
            }
        ]


def _rule_key(rule: dict[str, Any]) -> tuple[str, str, int]:
    return (
        rule.get("rateLimitType", ""),
        rule.get("interval", ""),
        int(rule.get("intervalNum", 1)),
    )


def weight_headers(used: int) -> dict[str, str]:
    """Both spellings real responses carry."""
    return {"X-MBX-USED-WEIGHT-1M": str(used), "x-mbx-used-weight": str(used)}


def order_count_headers(ten_seconds: int, day: int) -> dict[str, str]:
    return {"X-MBX-ORDER-COUNT-10S": str(ten_seconds), "X-MBX-ORDER-COUNT-1D": str(day)}

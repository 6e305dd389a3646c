"""Wire conventions every part of the simulator shares: the clock, decimals, errors, JSON replies.

Binance sends decimals as strings with 8 decimals, ids and times as JSON numbers, and errors as
`{"code": <int>, "msg": <text>}` with `Content-Type: application/json;charset=UTF-8`. Keeping the
formatting in one place is what makes every endpoint agree byte for byte.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import Any

from aiohttp import web

JSON_CONTENT_TYPE = "application/json;charset=UTF-8"
EIGHT_PLACES = Decimal("0.00000001")
ZERO = Decimal(0)
_RECEIVED_MS: ContextVar[int | None] = ContextVar("binance_received_ms", default=None)


class Clock:
    """The server's clock in milliseconds; `skew_ms` > 0 makes it run ahead of real time.

    Every timestamp the simulator hands out, and the check of a request's `timestamp`, goes
    through one Clock, so a test can put the server ahead of or behind the client.
    """

    def __init__(self) -> None:
        self.skew_ms = 0

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000 + self.skew_ms

    def received_ms(self) -> int:
        """When the request being handled reached the server (now, outside of a request).

        Binance's API checks a request's timing when it arrives; its engine may act on the
        request later (a late-matching fault runs the handler seconds after), and the timing
        rule must still judge the arrival, not the execution."""
        received = _RECEIVED_MS.get()
        return self.now_ms() if received is None else received

    @contextmanager
    def receiving(self) -> Iterator[None]:
        """Mark the request being handled as received now, for the code it runs and for the
        tasks it starts (they copy the context)."""
        token = _RECEIVED_MS.set(self.now_ms())
        try:
            yield
        finally:
            _RECEIVED_MS.reset(token)


def fmt(value: Decimal, places: int = 8) -> str:
    """Binance's fixed-point decimal string, `places` decimals: `fmt(Decimal("0.1"))` is
    `"0.10000000"`. Values are rounded down to the last place (amounts are never inflated)."""
    return f"{value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN):f}"


def quantize_down(value: Decimal, step: Decimal = EIGHT_PLACES) -> Decimal:
    """Round down to a multiple of `step` (a step of zero leaves the value alone)."""
    if step == 0:
        return value
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


def quantize_up(value: Decimal, step: Decimal = EIGHT_PLACES) -> Decimal:
    """Round up to a multiple of `step` (a step of zero leaves the value alone)."""
    if step == 0:
        return value
    return (value / step).to_integral_value(rounding=ROUND_UP) * step


def dumps(payload: Any) -> str:
    """Compact JSON as Binance sends it (no spaces, UTF-8 text kept as is)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def json_response(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON reply with Binance's exact content type."""
    all_headers = {"Content-Type": JSON_CONTENT_TYPE, **(headers or {})}
    return web.Response(body=dumps(payload).encode(), status=status, headers=all_headers)


class ApiError(Exception):
    """A Binance error reply: its code, message, HTTP status and any extra headers."""

    def __init__(
        self, code: int, msg: str, status: int = 400, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.status = status
        self.headers = headers or {}

    def payload(self) -> dict[str, Any]:
        return {"code": self.code, "msg": self.msg}

    def response(self) -> web.Response:
        return json_response(self.payload(), self.status, self.headers)


# -- the error messages Binance uses, word for word (errors.md) --------------------------------

INSUFFICIENT_BALANCE = "Account has insufficient balance for requested action."
DUPLICATE_ORDER = "Duplicate order sent."
WOULD_TAKE = "Order would immediately match and take."
TIMESTAMP_OUTSIDE = "Timestamp for this request is outside of the recvWindow."
TIMESTAMP_AHEAD = "Timestamp for this request was 1000ms ahead of the server's time."
TOO_MUCH_WEIGHT = (
    "Too much request weight used; current limit is {limit} request weight per 1 MINUTE. "
    "Please use WebSocket Streams for live updates to avoid polling the API."
)
IP_BANNED = (
    "Way too much request weight used; IP banned until {until}. "
    "Please use WebSocket Streams for live updates to avoid bans."
)


def mandatory(name: str) -> ApiError:
    return ApiError(
        -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def either_param(first: str, second: str) -> ApiError:
    return ApiError(-1102, f"Param '{first}' or '{second}' must be sent, but both were empty/null!")


def illegal_chars(name: str, legal: str) -> ApiError:
    return ApiError(
        -1100, f"Illegal characters found in parameter '{name}'; legal range is '{legal}'."
    )


def not_required(name: str) -> ApiError:
    return ApiError(-1106, f"Parameter '{name}' sent when not required.")


def too_precise(name: str) -> ApiError:
    return ApiError(-1111, f"Parameter '{name}' has too much precision.")


def invalid_symbol() -> ApiError:
    return ApiError(-1121, "Invalid symbol.")


def filter_failure(filter_type: str) -> ApiError:
    return ApiError(-1013, f"Filter failure: {filter_type}")


def order_rejected(msg: str) -> ApiError:
    return ApiError(-2010, msg)


def invalid_api_key() -> ApiError:
    return ApiError(-2015, "Invalid API-key, IP, or permissions for action.", status=401)


def bad_api_key_format() -> ApiError:
    return ApiError(-2014, "API-key format invalid.", status=401)


def bad_signature() -> ApiError:
    return ApiError(-1022, "Signature for this request is not valid.")

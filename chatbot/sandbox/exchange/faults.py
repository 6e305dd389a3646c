"""Fault injection: make the next calls to a path fail the ways Binance (or its proxies) fail.

Each fault is armed for `count` calls of a path (optionally one HTTP method) and consumed in
order. With `execute=True` the call is first carried out for real (an order is placed), then
the fault is answered: the client cannot know its order went through, which is exactly the
"status unknown" case it must recover from by querying the order.

HTTP statuses chosen:
- `fail_next(path, status=503)`: the bare HTML error page a proxy or load balancer returns.
- `fail_next(path, code=-1007)`: HTTP 408 with Binance's -1007 TIMEOUT body ("Timeout waiting
  for response from backend server. Send status unknown; execution status unknown."). Other
  codes default to HTTP 500 (-1008 SERVER_BUSY to 503); pass `status=` to pick another.
- `rate_limit_next`: HTTP 429, `Retry-After`, -1003 body. `ban(seconds)`: HTTP 418 for every
  call (REST and WebSocket handshakes) until it ends, `Retry-After` and -1003 "IP banned until".
- `hang_next`: the reply is held for `seconds` (the client times out first), then a -1007.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from .limits import RateLimits
from .wire import IP_BANNED, TOO_MUCH_WEIGHT, ApiError, Clock

_CODE_MESSAGES = {
    -1000: "An unknown error occurred while processing the request.",
    -1001: "Internal error; unable to process your request. Please try again.",
    -1007: (
        "Timeout waiting for response from backend server. "
        "Send status unknown; execution status unknown."
    ),
    -1008: (
        "Server is currently overloaded with other requests. Please try again in a few minutes."
    ),
}
_CODE_STATUS = {-1007: 408, -1008: 503}
_STATUS_TEXT = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}

Handler = Callable[[], Awaitable[web.StreamResponse]]


@dataclass
class Fault:
    """One armed fault; `remaining` counts down as calls consume it."""

    kind: str
    path: str
    method: str | None
    remaining: int
    status: int | None = None
    code: int | None = None
    retry_after: int = 2
    seconds: float = 30.0
    execute: bool = False

    def matches(self, method: str, path: str) -> bool:
        return self.path == path and self.method in (None, method)


class FaultInjector:
    """Armed faults and the IP ban; consulted by the REST gateway for every call."""

    def __init__(self, clock: Clock, limits: RateLimits) -> None:
        self._clock = clock
        self._limits = limits
        self._faults: list[Fault] = []
        self._banned_until = 0

    def fail_next(
        self,
        path: str,
        count: int = 1,
        *,
        status: int | None = None,
        code: int | None = None,
        execute: bool = False,
        method: str | None = None,
    ) -> None:
        """Answer the next `count` calls with an HTTP error page (`status` only) or a Binance
        error body (`code`, HTTP status per code unless `status` is given)."""
        if status is None and code is None:
            status = 503
        self._arm(Fault("fail", path, method, count, status, code, execute=execute))

    def rate_limit_next(
        self, path: str, count: int = 1, *, retry_after: int = 2, method: str | None = None
    ) -> None:
        """Answer the next `count` calls with 429, `Retry-After: retry_after` and -1003."""
        self._arm(Fault("rate_limit", path, method, count, retry_after=retry_after))

    def hang_next(
        self,
        path: str,
        count: int = 1,
        *,
        seconds: float = 30.0,
        execute: bool = False,
        method: str | None = None,
    ) -> None:
        """Hold the next `count` calls for `seconds` before answering (-1007)."""
        self._arm(Fault("hang", path, method, count, seconds=seconds, execute=execute))

    def ban(self, seconds: float) -> None:
        """Answer every call with 418 until `seconds` from now (0 lifts the ban)."""
        self._banned_until = self._clock.now_ms() + int(seconds * 1000)

    def clear(self) -> None:
        """Disarm every fault and lift the ban."""
        self._faults.clear()
        self._banned_until = 0

    def _arm(self, fault: Fault) -> None:
        if fault.remaining < 1:
            raise ValueError("count must be at least 1")
        self._faults.append(fault)

    def take(self, method: str, path: str) -> Fault | None:
        """Consume one use of the first fault armed for this call, if any."""
        for fault in self._faults:
            if fault.matches(method, path):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                return fault
        return None

    def ban_error(self) -> ApiError | None:
        """The 418 reply while a ban lasts, else None."""
        now = self._clock.now_ms()
        if now >= self._banned_until:
            return None
        retry = max(1, -(-(self._banned_until - now) // 1000))
        return ApiError(
            -1003,
            IP_BANNED.format(until=self._banned_until),
            status=418,
            headers={"Retry-After": str(retry)},
        )

    async def answer(self, fault: Fault, handler: Handler) -> web.StreamResponse:
        """Reply to a call a fault caught; with `execute`, run the real handler first."""
        result: web.StreamResponse | None = None
        if fault.execute:
            try:
                result = await handler()
            except ApiError:
                result = None
        if fault.kind == "hang":
            await asyncio.sleep(fault.seconds)
            return result if result is not None else _timeout_error().response()
        if fault.kind == "rate_limit":
            return self._rate_limited(fault).response()
        return _failure(fault)

    def _rate_limited(self, fault: Fault) -> ApiError:
        message = TOO_MUCH_WEIGHT.format(limit=self._limits.weight_per_minute)
        return ApiError(-1003, message, 429, {"Retry-After": str(fault.retry_after)})


def _timeout_error() -> ApiError:
    return ApiError(-1007, _CODE_MESSAGES[-1007], _CODE_STATUS[-1007])


def _failure(fault: Fault) -> web.Response:
    if fault.code is None:
        status = fault.status or 503
        reason = _STATUS_TEXT.get(status, "Error")
        page = (
            f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
            f"<center><h1>{status} {reason}</h1></center>\r\n</body>\r\n</html>\r\n"
        )
        return web.Response(text=page, status=status, content_type="text/html")
    status = fault.status or _CODE_STATUS.get(fault.code, 500)
    message = _CODE_MESSAGES.get(
        fault.code, "An unknown error occurred while processing the request."
    )
    return ApiError(fault.code, message, status).response()

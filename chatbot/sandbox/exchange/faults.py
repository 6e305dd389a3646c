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
  -1006 UNEXPECTED_RESP has Binance's message too ("... Execution status unknown.").
- `fail_next(..., execute_after=6.0)`: late matching. The error is answered now and the call
  is carried out `execute_after` seconds later, in a task `close()` cancels: until then the
  order does not exist (a query answers -2013), then it appears with its user-data events, as
  when Binance's engine processes a request after its API gave up waiting. The timing rule
  (recvWindow) judges the request's arrival, not the late execution.
- `rate_limit_next`: HTTP 429, `Retry-After`, -1003 body. `ban(seconds)`: HTTP 418 for every
  call (REST and WebSocket handshakes) until it ends, `Retry-After` and -1003 "IP banned until".
- `hang_next`: the reply is held for `seconds` (the client times out first), then a -1007.
- `truncate_next`: the call is carried out and its reply cut in half (same status, a body that
  is not valid JSON), like a connection that died mid-body behind a proxy.
- `drop_next`: the call is carried out (unless `execute=False`) and the TCP connection closed
  without any HTTP reply (aiohttp clients raise `ServerDisconnectedError`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from .limits import RateLimits
from .wire import IP_BANNED, TOO_MUCH_WEIGHT, ApiError, Clock

_LOG = logging.getLogger(__name__)
_CODE_MESSAGES = {
    -1000: "An unknown error occurred while processing the request.",
    -1001: "Internal error; unable to process your request. Please try again.",
    -1006: "An unexpected response was received from the message bus. Execution status unknown.",
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
    execute_after: float | None = None

    def matches(self, method: str, path: str) -> bool:
        return self.path == path and self.method in (None, method)


class FaultInjector:
    """Armed faults and the IP ban; consulted by the REST gateway for every call."""

    def __init__(self, clock: Clock, limits: RateLimits) -> None:
        self._clock = clock
        self._limits = limits
        self._faults: list[Fault] = []
        self._banned_until = 0
        self.ban_answers = 0  # 418s answered (REST calls and WebSocket handshakes)
        self._late: set[asyncio.Task[None]] = set()

    def fail_next(
        self,
        path: str,
        count: int = 1,
        *,
        status: int | None = None,
        code: int | None = None,
        execute: bool = False,
        execute_after: float | None = None,
        method: str | None = None,
    ) -> None:
        """Answer the next `count` calls with an HTTP error page (`status` only) or a Binance
        error body (`code`, HTTP status per code unless `status` is given). `execute` carries
        the call out before answering; `execute_after` carries it out that many seconds after
        answering (late matching)."""
        if status is None and code is None:
            status = 503
        if execute_after is not None and (execute or execute_after < 0):
            raise ValueError("execute_after is a delay >= 0 and excludes execute=True")
        self._arm(
            Fault(
                "fail",
                path,
                method,
                count,
                status,
                code,
                execute=execute,
                execute_after=execute_after,
            )
        )

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

    def truncate_next(
        self, path: str, count: int = 1, *, execute: bool = True, method: str | None = None
    ) -> None:
        """Carry out the next `count` calls and answer each with its reply's body cut in half
        (the status and headers of the real reply). A cut reply needs the real one, so
        `execute` must stay True."""
        if not execute:
            raise ValueError("a truncated reply is the real reply cut short: execute=True")
        self._arm(Fault("truncate", path, method, count, execute=True))

    def drop_next(
        self, path: str, count: int = 1, *, execute: bool = True, method: str | None = None
    ) -> None:
        """Close the connection of the next `count` calls without any HTTP reply, after
        carrying them out (`execute=False`: before, the call is lost)."""
        self._arm(Fault("drop", path, method, count, execute=execute))

    def ban(self, seconds: float) -> None:
        """Answer every call with 418 until `seconds` from now (0 lifts the ban, and forgets
        the 429s whose Retry-After would otherwise ban again)."""
        self._banned_until = self._clock.now_ms() + int(seconds * 1000)
        if seconds <= 0:
            self._limits.forget_429s()

    def clear(self) -> None:
        """Disarm every fault and lift the ban."""
        self._faults.clear()
        self.ban(0)

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
        self.ban_answers += 1
        return ApiError(
            -1003,
            IP_BANNED.format(until=self._banned_until),
            status=418,
            headers={"Retry-After": str(retry)},
        )

    @property
    def pending(self) -> int:
        """How many late executions (`execute_after`) are still waiting to run."""
        return len(self._late)

    async def close(self) -> None:
        """Cancel the late executions still waiting (the simulator is stopping)."""
        tasks, self._late = list(self._late), set()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _execute_later(self, delay: float, handler: Handler) -> None:
        task = asyncio.get_running_loop().create_task(_run_later(delay, handler))
        self._late.add(task)
        task.add_done_callback(self._late.discard)

    async def answer(
        self, fault: Fault, handler: Handler, request: web.BaseRequest | None = None
    ) -> web.StreamResponse:
        """Reply to a call a fault caught; with `execute`, run the real handler first."""
        result: web.StreamResponse | None = None
        if fault.execute:
            try:
                result = await handler()
            except ApiError:
                result = None
        if fault.execute_after is not None:
            self._execute_later(fault.execute_after, handler)
        if fault.kind == "truncate":
            return _truncated(result)
        if fault.kind == "drop":
            if request is not None and request.transport is not None:
                request.transport.abort()  # no status line, no headers: the socket just closes
            return web.Response(status=204)  # never written: the connection is gone
        if fault.kind == "hang":
            await asyncio.sleep(fault.seconds)
            return result if result is not None else _timeout_error().response()
        if fault.kind == "rate_limit":
            return self._rate_limited(fault).response()
        return _failure(fault)

    def _rate_limited(self, fault: Fault) -> ApiError:
        message = TOO_MUCH_WEIGHT.format(limit=self._limits.weight_per_minute)
        return ApiError(-1003, message, 429, {"Retry-After": str(fault.retry_after)})


async def _run_later(delay: float, handler: Handler) -> None:
    """A late execution: the real handler, `delay` seconds after its call was answered."""
    await asyncio.sleep(delay)
    try:
        await handler()
    except ApiError:
        pass  # the call failed when the engine got to it; nobody is waiting for the answer
    except Exception:
        _LOG.exception("a late execution failed")


def _truncated(result: web.StreamResponse | None) -> web.StreamResponse:
    """The real reply with the first half of its body only (not valid JSON any more)."""
    if not isinstance(result, web.Response) or not isinstance(result.body, bytes):
        return result if result is not None else _timeout_error().response()
    body = result.body[: len(result.body) // 2]
    headers = {k: v for k, v in result.headers.items() if k.lower() != "content-length"}
    return web.Response(body=body, status=result.status, headers=headers)


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

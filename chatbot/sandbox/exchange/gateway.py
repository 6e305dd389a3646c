"""The REST front door: what happens to every call before and after its handler.

In order: an IP ban answers 418; the parameters are read once (query string and form body,
plus the exact signed payload); the call's weight is added to the caller's IP (429/-1003 past
the limit); an armed fault may answer instead of the handler; a parameter the route does not
read is -1104 before the handler runs (see params.py); an `ApiError` from anywhere becomes
Binance's JSON error; and every reply carries `X-MBX-USED-WEIGHT-1M`. `/fapi/` calls spend
the futures budget (its own RateLimits and weight table, as Binance counts USDT-M apart from
spot); everything else spends spot's.

`/_sandbox/` control calls bypass all of it. WebSocket handshakes only see the ban, the limit
on connection attempts (per IP, per service: spot streams, futures streams, WebSocket API;
see limits.py) and faults.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from .faults import FaultInjector
from .limits import REST_WEIGHTS, RateLimits, Weight, rest_weight, weight_headers
from .params import Params, declared_reads
from .signatures import rest_payload
from .wire import ApiError, Clock

PARAMS = web.RequestKey("binance_params", Params)
PAYLOAD = web.RequestKey("binance_payload", str)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CONTROL_PREFIX = "/_sandbox/"


FUTURES_PREFIX = "/fapi/"
FUTURES_STREAMS = "/fstream"


def is_websocket_path(path: str) -> bool:
    return (
        path in ("/ws", "/stream", "/ws-api/v3")
        or path.startswith("/ws/")
        or path.startswith(FUTURES_STREAMS + "/")
    )


def websocket_service(path: str) -> str:
    """Which service's connection attempts a handshake counts against (see limits.py)."""
    if path == "/ws-api/v3":
        return "wsapi"
    return "fstreams" if path.startswith(FUTURES_STREAMS + "/") else "streams"


async def read_params(request: web.Request) -> tuple[Params, str]:
    """The call's parameters and its signature payload (raw query minus `signature`, then
    the raw body minus `signature`), exactly as they came over the wire."""
    raw_path = request.raw_path
    query = raw_path.split("?", 1)[1] if "?" in raw_path else ""
    body = ""
    if request.method != "GET" and request.can_read_body:
        body = await request.text()
    return Params.from_wire(query, body), rest_payload(query, body)


class Gateway:
    """Builds the aiohttp middleware around the shared limits, faults and clock."""

    def __init__(
        self,
        limits: RateLimits,
        faults: FaultInjector,
        clock: Clock,
        futures: tuple[RateLimits, Mapping[tuple[str, str], Weight]] | None = None,
    ) -> None:
        self._spot_limits = limits
        self._futures = futures
        self._faults = faults
        self._clock = clock

    def _budget(self, path: str) -> tuple[RateLimits, Mapping[tuple[str, str], Weight]]:
        """`/fapi/` calls spend the futures weight budget by the futures table."""
        if self._futures is not None and path.startswith(FUTURES_PREFIX):
            return self._futures
        return self._spot_limits, REST_WEIGHTS

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(CONTROL_PREFIX):
            return await handler(request)
        banned = self._faults.ban_error()
        if banned is not None:
            return banned.response()
        if is_websocket_path(request.path):
            service = websocket_service(request.path)
            try:
                self._spot_limits.attempt_connection(request.remote or "unknown", service)
            except ApiError as error:
                return error.response()
            fault = self._faults.take(request.method, request.path)
            if fault is not None:
                return await self._faults.answer(fault, lambda: handler(request), request)
            return await handler(request)
        with self._clock.receiving():  # the instant the timing rule judges, even if run later
            return await self._rest(request, handler)

    async def _rest(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        ip = request.remote or "unknown"
        now = self._clock.now_ms()
        limits, weights = self._budget(request.path)
        if limits.ignores_retry_after(ip, now):  # called again too soon after a 429
            self._faults.ban(limits.ban_on_ignored_429 or 0)
            banned = self._faults.ban_error()
            if banned is not None:
                return banned.response()
        try:
            params, payload = await read_params(request)
            request[PARAMS] = params
            request[PAYLOAD] = payload
            weight = rest_weight(request.method, request.path, params, weights)
            limits.spend(ip, weight, self._clock.now_ms())
            limits.spent[(request.method, request.path)] += weight
            response = await self._dispatch(request, handler)
        except ApiError as error:
            response = error.response()
        response.headers.update(weight_headers(limits.used_weight(ip, self._clock.now_ms())))
        if response.status == 429:
            limits.note_429(ip, self._clock.now_ms(), response.headers.get("Retry-After"))
        return response

    async def _dispatch(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        async def call() -> web.StreamResponse:
            try:
                read = declared_reads(request.match_info.handler)
                if read is not None:
                    request[PARAMS].check_read(read)
                return await handler(request)
            except ApiError as error:
                return error.response()

        fault = self._faults.take(request.method, request.path)
        if fault is None:
            return await call()
        return await self._faults.answer(fault, call, request)

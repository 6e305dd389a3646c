"""One connection to Binance's WebSocket API: numbered requests matched to their answers.

Binance's WebSocket API answers `{"id", "method", "params"}` requests with `{"id", "status",
"result"}` or `{"id", "status", "error": {"code", "msg"}}`, in any order, on the same socket
that carries the user-data events of its subscriptions (`{"subscriptionId", "event"}`) and
connection events (`{"event": {"e": "serverShutdown"}}`, no subscription id).

What a caller must know:
- One reader task (`JsonSocket`, ws/socket.py) reads every frame in order. A request's
  `on_result` runs inside that reader, before any later frame is looked at: a subscription id
  learnt there is known before the first event of that subscription is passed on. `on_event`
  runs there too, so it must not block.
- Binance pings every 20 s and aiohttp answers with a pong (`autoping`, the default); aiohttp
  also pings when the socket has been idle for half of `silence_timeout`. A socket on which no
  frame at all (data, ping or pong) arrived for `silence_timeout` seconds is taken for dead and
  closed.
- A failed request raises the `BinanceError` Binance's error code maps to. A request on a
  socket that closes, or that could not be opened, raises `WsApiDisconnected`; one that gets no
  answer in `request_timeout` raises `WsApiTimeout`.
- Nothing here logs request parameters: they carry API keys and signatures.
- With a `governor`, each request waits for its weight (2, like the user-data requests) in the
  bot's one budget (WebSocket API calls count against the same per-IP limit as REST), and the
  `rateLimits` of each answer report the used weight back to it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import aiohttp

from chatbot.exchange.errors import (
    BinanceError,
    ConnectionLost,
    ExchangeUnavailable,
    RateLimited,
    error_from_payload,
)
from chatbot.exchange.weight_governor import WeightGovernor
from chatbot.exchange.ws.attempts import ConnectionAttempts
from chatbot.exchange.ws.connect import connect
from chatbot.exchange.ws.socket import JsonSocket, ResultHandler

log = logging.getLogger(__name__)

REQUEST_WEIGHT = 2  # userDataStream.subscribe / unsubscribe, session.logon, a connection

EventHandler = Callable[[int | None, dict[str, Any]], None]

_JSON = json.JSONDecoder(parse_float=Decimal)
_MAX_MESSAGE = 4 << 20


class WsApiDisconnected(ConnectionLost):
    """The WebSocket API connection is closed or could not be opened."""

    default_message = "The connection to Binance's WebSocket API was lost."


class WsApiTimeout(ExchangeUnavailable):
    """A WebSocket API request got no answer in time."""

    default_message = "Binance's WebSocket API did not answer in time."


class WsApiSocket(JsonSocket):
    """One open WebSocket API socket. Build it with `await WsApiSocket.open(...)`."""

    label = "WebSocket API"
    reader_name = "wsapi-reader"
    disconnected = WsApiDisconnected
    timed_out = WsApiTimeout

    def __init__(
        self,
        ws: aiohttp.ClientWebSocketResponse,
        on_event: EventHandler,
        *,
        request_timeout: float,
        silence_timeout: float,
        on_closed: Callable[[], None] | None = None,
        governor: WeightGovernor | None = None,
    ) -> None:
        self._governor = governor
        self._on_event = on_event
        super().__init__(
            ws,
            request_timeout=request_timeout,
            silence_timeout=silence_timeout,
            on_closed=on_closed,
        )

    @classmethod
    async def open(
        cls,
        session: aiohttp.ClientSession,
        url: str,
        on_event: EventHandler,
        *,
        request_timeout: float = 10.0,
        silence_timeout: float = 60.0,
        on_closed: Callable[[], None] | None = None,
        governor: WeightGovernor | None = None,
        attempts: ConnectionAttempts | None = None,
    ) -> WsApiSocket:
        """Connect, within the shared limit on connection `attempts`; raises
        `WsApiDisconnected` (with Binance's `Retry-After`, if any)."""
        if governor is not None:
            try:  # Binance charges a connection like a request
                await governor.acquire(REQUEST_WEIGHT)
            except RateLimited as exc:  # the caller reconnects after the wait, as after a 429
                raise WsApiDisconnected(exc.message, retry_after=exc.retry_after) from None
        ws = await connect(
            session,
            url,
            error=WsApiDisconnected,
            service="WebSocket API",
            connect_timeout=request_timeout,
            heartbeat=silence_timeout / 2,
            max_msg_size=_MAX_MESSAGE,
            attempts=attempts,
        )
        return cls(
            ws,
            on_event,
            request_timeout=request_timeout,
            silence_timeout=silence_timeout,
            on_closed=on_closed,
            governor=governor,
        )

    async def request(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        on_result: ResultHandler | None = None,
    ) -> Any:
        """Send one request and return its `result`; see the module docstring for errors."""
        if self.closed:
            raise WsApiDisconnected()
        if self._governor is not None:
            await self._governor.acquire(REQUEST_WEIGHT)
        message: dict[str, Any] = {"method": method}
        if params:
            message["params"] = dict(params)
        return await self._request(message, on_result)

    # -- reading -----------------------------------------------------------------------------

    def _on_text(self, text: str) -> None:
        try:
            message = _JSON.decode(text)
        except ValueError:
            log.warning("WebSocket API sent a frame that is not JSON; ignored")
            return
        if not isinstance(message, dict):
            return
        if "event" in message and "id" not in message:
            self._deliver_event(message)
            return
        request_id = message.get("id")
        if not self._awaits(request_id):
            log.debug("WebSocket API answer to an unknown request id %r", request_id)
            return
        self._observe(message.get("rateLimits"))
        error = message.get("error")
        if isinstance(error, dict):
            self._settle(request_id, error=wsapi_error(error, message.get("status")))
        else:
            self._settle(request_id, message.get("result"))

    def _deliver_event(self, message: dict[str, Any]) -> None:
        subscription_id = message.get("subscriptionId")
        event = message["event"]
        if not isinstance(event, dict):
            return
        try:
            self._on_event(subscription_id if isinstance(subscription_id, int) else None, event)
        except Exception:  # one bad event must not end the connection for everyone on it
            log.exception("failed to handle a WebSocket API event %r", event.get("e"))

    def _observe(self, rate_limits: Any) -> None:
        """Tell the governor the weight Binance reports as used (REQUEST_WEIGHT's `count`)."""
        if self._governor is None or not isinstance(rate_limits, list):
            return
        for rule in rate_limits:
            if isinstance(rule, dict) and rule.get("rateLimitType") == "REQUEST_WEIGHT":
                with contextlib.suppress(TypeError, ValueError):
                    self._governor.observe(int(rule["count"]))


def wsapi_error(error: dict[str, Any], status: Any = None) -> BinanceError:
    """Binance's `{"code", "msg", "data"}` as an exception; `data.retryAfter` is a ms time."""
    code, msg = int(error.get("code", -1000)), str(error.get("msg", ""))
    retry_after = None
    data = error.get("data")
    if isinstance(data, dict) and "retryAfter" in data:
        now = data.get("serverTime") or time.time() * 1000
        retry_after = max(0.0, (int(data["retryAfter"]) - int(now)) / 1000)
    return error_from_payload(
        code, msg, status=status if isinstance(status, int) else None, retry_after=retry_after
    )

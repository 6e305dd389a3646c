"""The Binance Spot REST transport: one aiohttp session, the clock, the weight budget, signing.

`BinanceClient` (client.py) builds its endpoints on it.

One client serves every user of the bot: Binance counts request weight per IP, so the weight
budget, the clock offset and the exchangeInfo cache are shared, while each signed call takes the
credentials of the user it acts for.

What a caller must know:
- Signed requests are signed over the percent-encoded query string exactly as sent; all
  parameters travel in the query string (also for POST and DELETE), the body stays empty.
- A rejected timestamp (-1021) triggers one clock re-sync and one retry.
- Every call passes the `WeightGovernor` (one weight budget for all users, paced by priority)
  and every new order the `OrderPacer` of its account. After a 429 nothing is sent until
  `Retry-After` has passed: a call waits that long when it may (see the governor), else raises
  `RateLimited`; after a 418 every call raises `IpBanned` until the ban ends.
- A new order's outcome is unknown unless Binance proves it: a timeout, a dropped connection,
  a 5xx, -1006/-1007/-1000/-1001/-1008 (whatever HTTP status carries them), a 200 whose body
  cannot be read and any answer without a Binance error code (a proxy's HTML page) raise
  `OrderStatusUnknown` with its `newClientOrderId`: query the order, never resend it. Only an
  error code that means "refused" (`refused_order_code`) is a rejection.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NoReturn, Self

import aiohttp
from yarl import URL

from chatbot.exchange.credentials import ApiCredentials
from chatbot.exchange.errors import (
    ExchangeUnavailable,
    IpBanned,
    OrderStatusUnknown,
    RateLimited,
    TimestampError,
    answer_error,
    retry_after_seconds,
)
from chatbot.exchange.models import ExchangeInfo
from chatbot.exchange.order_pacer import OrderPacer
from chatbot.exchange.signing import encode_params, signature_param
from chatbot.exchange.weight_governor import WeightGovernor
from chatbot.exchange.weights import rest_weight


@dataclass
class _Backoff:
    until: float = 0.0  # monotonic time before which nothing is sent
    banned_until: datetime | None = None


class RestTransport:
    """The transport under `BinanceClient`: session, clock, weight budget, signing, errors."""

    time_path = "/api/v3/time"  # where this API tells its clock (futures: /fapi/v1/time)

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        recv_window: int = 5000,
        exchange_info_ttl: float = 3600.0,
        time_sync_interval: float = 1800.0,
        clock: Callable[[], float] = time.time,
        session: aiohttp.ClientSession | None = None,
        weight_share: float = 0.8,
        user_wait: float = 5.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._base = URL(self.base_url)
        self._base_path = self._base.raw_path.rstrip("/")
        self.recv_window = recv_window
        self.exchange_info_ttl = exchange_info_ttl
        self.time_sync_interval = time_sync_interval
        self._clock = clock
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session = session
        self._owns_session = session is None
        self._offset_ms = 0
        self._synced_at: float | None = None
        self._sync_lock = asyncio.Lock()
        self._info: ExchangeInfo | None = None
        self._info_at = 0.0
        self._info_lock = asyncio.Lock()
        self._backoff = _Backoff()
        server_time = self._server_seconds
        self.governor = WeightGovernor(
            share=weight_share, user_wait=user_wait, server_time=server_time
        )
        self.orders = OrderPacer(share=weight_share, user_wait=user_wait, server_time=server_time)
        self.requests_sent = 0
        self.last_success: float | None = None  # clock time of the latest non-error answer

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                connector=aiohttp.TCPConnector(limit=100, ttl_dns_cache=300),
            )
            self._owns_session = True
        return self._session

    async def close(self) -> None:
        if self._session is not None and self._owns_session and not self._session.closed:
            await self._session.close()

    # -- clock -------------------------------------------------------------------------------

    @property
    def time_offset_ms(self) -> int:
        """Server time minus local time, as last measured."""
        return self._offset_ms

    async def sync_time(self) -> int:
        """Measure the offset to Binance's clock (at the middle of the round trip)."""
        async with self._sync_lock:
            sent = self._clock()
            data = await self._send("GET", self.time_path, "")
            received = self._clock()
            local_mid_ms = (sent + received) * 500
            self._offset_ms = int(data["serverTime"] - local_mid_ms)
            self._synced_at = time.monotonic()
            return self._offset_ms

    @property
    def used_weight(self) -> int:
        """The weight spent in Binance's current minute, as last counted or reported."""
        return self.governor.used

    def _server_seconds(self) -> float:
        return self.timestamp() / 1000

    def timestamp(self) -> int:
        """Milliseconds on Binance's clock, by the last measured offset."""
        return int(self._clock() * 1000) + self._offset_ms

    def _time_sync_due(self) -> bool:
        return self._synced_at is None or (
            time.monotonic() - self._synced_at > self.time_sync_interval
        )

    # -- transport ---------------------------------------------------------------------------

    async def public(self, method: str, path: str, params: Iterable[tuple[str, Any]] = ()) -> Any:
        """Send an unsigned request; returns the decoded JSON (floats as Decimal)."""
        pairs = list(params)
        return await self._send(
            method, path, encode_params(pairs), weight=_weight(method, path, pairs)
        )

    async def signed(
        self,
        method: str,
        path: str,
        credentials: ApiCredentials,
        params: Iterable[tuple[str, Any]] = (),
        *,
        order_id: str | None = None,
        order_count: int = 1,
    ) -> Any:
        """Send a signed request. `order_id` marks a new order (or order list, whose
        `order_count` orders Binance counts against the ORDERS limits), whose fate may be
        unknown."""
        if self._time_sync_due():
            await self.sync_time()
        pairs = list(params)
        weight = _weight(method, path, pairs)
        if order_id is not None:
            await self.orders.acquire(credentials.account, order_count)
        # Signed only once the governor lets the call go: a wait must not age the timestamp.
        query = functools.partial(self._signed_query, credentials, pairs)
        try:
            return await self._send(method, path, query, credentials, order_id, weight=weight)
        except TimestampError:  # our clock drifted from Binance's: re-sync, retry once
            await self.sync_time()
            return await self._send(method, path, query, credentials, order_id, weight=weight)

    def _signed_query(self, credentials: ApiCredentials, pairs: list[tuple[str, Any]]) -> str:
        query = encode_params(pairs)
        stamp = f"recvWindow={self.recv_window}&timestamp={self.timestamp()}"
        query = f"{query}&{stamp}" if query else stamp
        return f"{query}&{signature_param(credentials.signer.sign(query))}"

    async def _send(
        self,
        method: str,
        path: str,
        query: str | Callable[[], str],
        credentials: ApiCredentials | None = None,
        order_id: str | None = None,
        *,
        weight: int = 1,
    ) -> Any:
        """Send one call once the governor lets it go (`query` may be built only then). A 429
        on a call that may be repeated (not a new order) waits out `Retry-After` in the
        governor and tries again."""
        attempts = 0
        while True:
            self._check_ban()
            await self.governor.acquire(weight)
            wire_query = query if isinstance(query, str) else query()
            try:
                return await self._exchange(method, path, wire_query, credentials, order_id)
            except IpBanned:
                raise
            except RateLimited as exc:
                attempts += 1
                if order_id is not None or exc.code != -1003 or attempts == 3:
                    raise

    async def _exchange(
        self,
        method: str,
        path: str,
        query: str,
        credentials: ApiCredentials | None,
        order_id: str | None,
    ) -> Any:
        # Built from parts with encoded=True: the query goes out byte for byte as signed.
        url = URL.build(
            scheme=self._base.scheme,
            host=self._base.raw_host or "",
            port=self._base.explicit_port,
            path=self._base_path + path,
            query_string=query,
            encoded=True,
        )
        headers = credentials.headers if credentials is not None else None
        self.requests_sent += 1
        try:
            async with self.session.request(method, url, headers=headers) as response:
                body = await response.read()
                status, response_headers = response.status, response.headers
        except aiohttp.ClientConnectorError as exc:
            # No connection was made, so no request reached Binance: nothing to look up.
            raise ExchangeUnavailable(status=None) from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            if order_id is not None:
                raise OrderStatusUnknown(order_id, reason=type(exc).__name__) from None
            raise ExchangeUnavailable(status=None) from exc
        weight = response_headers.get("X-MBX-USED-WEIGHT-1M")
        if weight is not None and weight.isdigit():
            self.governor.observe(int(weight))
        if order_id is not None and credentials is not None:
            self.orders.observe(credentials.account, response_headers)
        payload = _json_or_none(body)
        if status < 400 and payload is not None:
            self.last_success = self._clock()
            return payload
        return self._fail(status, payload, retry_after_seconds(response_headers), order_id)

    def _fail(
        self, status: int, payload: Any, retry_after: float | None, order_id: str | None
    ) -> NoReturn:
        """Remember a ban or a pause, then raise the error the answer means."""
        code = payload.get("code") if isinstance(payload, dict) else None
        if status == 418:
            seconds = retry_after or 120.0
            self._backoff.banned_until = datetime.fromtimestamp(self._clock() + seconds, UTC)
            self._backoff.until = time.monotonic() + seconds
            self.governor.pause(seconds)
        elif status == 429 and code != -1015:  # weight: the whole IP waits (-1015: one account)
            self.governor.pause(retry_after if retry_after is not None else 60.0)
        raise answer_error(status, payload, retry_after, order_id, self._backoff.banned_until)

    def _check_ban(self) -> None:
        if self._backoff.banned_until is not None and self._backoff.until > time.monotonic():
            raise IpBanned(self._backoff.banned_until)


def _weight(method: str, path: str, pairs: list[tuple[str, Any]]) -> int:
    return rest_weight(method, path, {k: v for k, v in pairs if v is not None})


# One decoder for all responses: `json.loads(..., parse_float=...)` would build one per call.
_JSON = json.JSONDecoder(parse_float=Decimal)


def _json_or_none(body: bytes) -> Any:
    """Binance's JSON (UTF-8; any bare decimal as Decimal), or None for anything else (a
    proxy's HTML error page)."""
    try:
        return _JSON.decode(body.decode("utf-8"))
    except ValueError:
        return None

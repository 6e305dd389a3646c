"""Opening a WebSocket to Binance, shared by the market streams and the WebSocket API."""

from __future__ import annotations

import asyncio

import aiohttp

from chatbot.exchange.errors import ConnectionLost, retry_after_seconds
from chatbot.exchange.ws.attempts import ConnectionAttempts


async def connect(
    session: aiohttp.ClientSession,
    url: str,
    *,
    error: type[ConnectionLost],
    service: str,
    connect_timeout: float,
    heartbeat: float | None,
    max_msg_size: int,
    attempts: ConnectionAttempts | None = None,
) -> aiohttp.ClientWebSocketResponse:
    """Connect within `connect_timeout` seconds; any failure raises `error`, with Binance's
    `Retry-After` when the handshake was refused (418/429). `service` names the endpoint in the
    message ("market streams", "WebSocket API"). With `attempts`, the attempt first waits for
    room under Binance's per-IP limit on connection attempts (the wait is not part of the
    timeout)."""
    if attempts is not None:
        await attempts.acquire()
    try:
        async with asyncio.timeout(connect_timeout):
            return await session.ws_connect(
                url,
                autoping=True,
                heartbeat=heartbeat,
                max_msg_size=max_msg_size,
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=1.0),
            )
    except aiohttp.WSServerHandshakeError as exc:
        raise error(
            f"Binance's {service} refused the connection (HTTP {exc.status}).",
            retry_after=retry_after_seconds(exc.headers),
        ) from None
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise error(f"Could not connect to Binance's {service} ({type(exc).__name__}).") from None

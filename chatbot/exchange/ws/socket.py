"""One open WebSocket to Binance: its reader, and numbered requests matched to their answers.

Both of Binance's WebSocket services answer a JSON request carrying an `id` with a frame
carrying the same `id`, on the socket that also carries events. What that takes is written
here once; what a frame means is the subclass's (`_on_text`):

- one reader task reads every frame in order and hands each text frame to `_on_text`, which
  must not block; its exception is logged and the next frame read (one odd frame must not end
  the socket for everyone on it);
- a socket on which no frame at all (data, ping or pong) arrived for `silence_timeout` seconds
  is taken for dead and closed;
- `_request` sends a message under a fresh id and waits at most `request_timeout` seconds for
  `_settle` (called by `_on_text` when the answer arrives); it raises the subclass's
  `timed_out` then, and its `disconnected` when the socket closes or cannot send;
- when the socket closes, however it closes, the waiting requests fail, `closed` is True and
  `on_closed` is called, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections.abc import Callable
from typing import Any, ClassVar

import aiohttp

from chatbot.exchange.errors import ConnectionLost, ExchangeUnavailable

log = logging.getLogger(__name__)

ResultHandler = Callable[[Any], None]


class JsonSocket:
    """One open socket; see the module docstring. Subclasses name their errors and `label`."""

    label: ClassVar[str] = "WebSocket"  # in log lines: "market stream", "WebSocket API"
    reader_name: ClassVar[str] = "websocket-reader"  # the reader task's name
    disconnected: ClassVar[type[ConnectionLost]] = ConnectionLost
    timed_out: ClassVar[type[ExchangeUnavailable]] = ExchangeUnavailable

    def __init__(
        self,
        ws: aiohttp.ClientWebSocketResponse,
        *,
        request_timeout: float,
        silence_timeout: float,
        on_closed: Callable[[], None] | None = None,
    ) -> None:
        self._ws = ws
        self._request_timeout = request_timeout
        self._silence_timeout = silence_timeout
        self._on_closed = on_closed
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[asyncio.Future[Any], ResultHandler | None]] = {}
        self.opened_at = time.monotonic()
        self.closed = False
        self._reader = asyncio.create_task(self._read_loop(), name=self.reader_name)

    def _on_text(self, text: str) -> None:
        """Handle one text frame, in the reader (must not block)."""
        raise NotImplementedError

    async def close(self) -> None:
        """Close the socket (a close handshake of at most 1 s) and stop the reader."""
        with contextlib.suppress(Exception):
            await self._ws.close()
        self._reader.cancel()
        await asyncio.wait({self._reader})  # unlike `await`, keeps our own cancellation
        self._finish()

    # -- requests ----------------------------------------------------------------------------

    async def _request(self, message: dict[str, Any], on_result: ResultHandler | None) -> Any:
        """Send `message` under a fresh `id` and return the result `_settle` gives it.
        `on_result` runs in the reader with the result, before any later frame is read."""
        if self.closed:
            raise self.disconnected()
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = (future, on_result)
        message["id"] = request_id
        try:
            await self._ws.send_str(json.dumps(message, separators=(",", ":")))
            async with asyncio.timeout(self._request_timeout):
                return await future
        except TimeoutError:
            raise self.timed_out() from None
        except (ConnectionError, RuntimeError, aiohttp.ClientError):
            raise self.disconnected() from None
        finally:
            self._pending.pop(request_id, None)

    def _awaits(self, request_id: Any) -> bool:
        """Whether a request with this id is waiting for its answer."""
        return isinstance(request_id, int) and request_id in self._pending

    def _settle(self, request_id: Any, result: Any = None, error: Exception | None = None) -> None:
        """Answer the waiting request `request_id` (unknown or answered already: ignored)."""
        entry = self._pending.get(request_id) if isinstance(request_id, int) else None
        if entry is None or entry[0].done():
            return
        future, on_result = entry
        if error is None and on_result is not None:
            try:
                on_result(result)
            except Exception as exc:
                error = exc
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    # -- reading -----------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        receive, handle = self._ws.receive, self._on_text
        text_type = aiohttp.WSMsgType.TEXT
        try:
            while True:
                try:
                    msg = await receive(self._silence_timeout)
                except TimeoutError:
                    log.warning("%s silent for %.1f s; closing", self.label, self._silence_timeout)
                    return
                if msg.type is text_type:
                    try:
                        handle(msg.data)
                    except Exception:  # one odd frame must not end the socket for everyone
                        log.exception("%s: could not handle a frame", self.label)
                elif msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                    return
                # CLOSE / CLOSING: aiohttp completes the close handshake; CLOSED follows
        finally:
            self._finish()  # first: the owner learns of the loss without waiting for the close
            if not self._ws.closed:
                await self._ws.close()  # bounded by the 1 s close timeout

    def _finish(self) -> None:
        if self.closed:
            return
        self.closed = True
        for future, _ in self._pending.values():
            if not future.done():
                future.set_exception(self.disconnected())
        self._pending.clear()
        if self._on_closed is not None:
            self._on_closed()

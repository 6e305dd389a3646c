"""A bare-hands Binance caller for the simulator's wire tests: requests built with aiohttp and the
signing helpers (not the project's client), so the tests pin the wire format the client is
written against."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import aiohttp
import yarl

from chatbot.exchange.signing import (
    Signer,
    encode_params,
    signature_param,
    ws_payload,
)
from chatbot.sandbox.exchange import ExchangeSimulator

# The documentation's HMAC key (reference/binance-spot.md, 1.3).
DOC_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
FUNDS = {"USDT": Decimal(10_000), "BTC": Decimal(1), "ETH": Decimal(10)}
WAIT = 5.0  # generous: a loaded 2-core machine must not turn slowness into failures

Params = Mapping[str, Any] | Iterable[tuple[str, Any]]
ExchangeFactory = Callable[..., Awaitable[ExchangeSimulator]]  # the conftest fixture


@dataclass
class Reply:
    status: int
    body: Any
    headers: Mapping[str, str]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Binance:
    """A bare-hands Binance caller: percent-encoded params, signature appended as sent."""

    def __init__(
        self, session: aiohttp.ClientSession, base: str, api_key: str, signer: Signer
    ) -> None:
        self.session = session
        self.base = base
        self.api_key = api_key
        self.signer = signer

    async def public(self, path: str, params: Params = ()) -> Reply:
        query = encode_params(params)
        return await self._send("GET", f"{path}?{query}" if query else path, {}, "")

    async def signed(
        self,
        method: str,
        path: str,
        params: Params = (),
        *,
        timestamp: int | None = None,
        api_key: str | None = None,
        in_body: bool = False,
        tamper: bool = False,
    ) -> Reply:
        items = list(params.items() if isinstance(params, Mapping) else params)
        items.append(("timestamp", now_ms() if timestamp is None else timestamp))
        payload = encode_params(items)
        signature = self.signer.sign(payload + ("&x=1" if tamper else ""))
        wire = f"{payload}&{signature_param(signature)}"
        headers = {"X-MBX-APIKEY": self.api_key if api_key is None else api_key}
        if in_body:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            return await self._send(method, path, headers, wire)
        return await self._send(method, f"{path}?{wire}", headers, "")

    async def order(self, **params: Any) -> Reply:
        return await self.signed("POST", "/api/v3/order", params)

    async def _send(self, method: str, target: str, headers: dict[str, str], body: str) -> Reply:
        url = yarl.URL(self.base + target, encoded=True)  # sent byte for byte as signed
        async with self.session.request(
            method, url, headers=headers, data=body or None
        ) as response:
            text = await response.text()
            try:
                body_value: Any = json.loads(text)
            except ValueError:
                body_value = text
            return Reply(response.status, body_value, response.headers)


def error_of(reply: Reply) -> tuple[int, str]:
    return reply.body["code"], reply.body["msg"]


async def next_json(ws: aiohttp.ClientWebSocketResponse) -> Any:
    return json.loads(await ws.receive_str(timeout=WAIT))


def signed_params(signer: Signer, api_key: str, **extra: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"apiKey": api_key, "timestamp": now_ms(), **extra}
    params["signature"] = signer.sign(ws_payload(params))
    return params


async def call(
    ws: aiohttp.ClientWebSocketResponse, method: str, params: dict[str, Any] | None = None
) -> Any:
    await ws.send_json({"id": method, "method": method, **({"params": params} if params else {})})
    return await next_json(ws)


async def until_event(
    ws: aiohttp.ClientWebSocketResponse, kind: str, exec_type: str | None = None
) -> Any:
    while True:
        message = await next_json(ws)
        event = message.get("event", {})
        if event.get("e") == kind and exec_type in (None, event.get("x")):
            return message

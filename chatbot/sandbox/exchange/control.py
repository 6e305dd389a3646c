"""The HTTP control surface under `/_sandbox/`, for a simulator running in its own process.

JSON in, JSON out; amounts as strings (numbers are read as exact decimals, never floats).
Errors answer 400 `{"error": "<what was wrong>"}`. These routes bypass weights, faults and bans.

- `GET /_sandbox/state`: network, seed, spread, clock skew, open sockets, symbols.
- `POST /_sandbox/accounts` {`apiKey`, `secret` | `publicKeyPem`, `balances` {asset: amount},
  `canTrade`, `canWithdraw`, `ipRestrict`, `makerCommission`, `takerCommission`}: add_account.
- `GET /_sandbox/accounts/{apiKey}`: its balances and orders.
- `POST /_sandbox/accounts/{apiKey}/deposit` {`asset`, `amount`}: deposit.
- `POST /_sandbox/price` {`symbol`, `price`, `qty` (optional)}: set_price.
- `POST /_sandbox/faults` {`kind`: fail | rate_limit | hang | truncate | drop | ban | clear,
  `path`, `count`, `status`, `code`, `retryAfter`, `seconds`, `execute`, `executeAfter`
  (fail only: run the call that many seconds after answering), `method`}: arm a fault.
- `POST /_sandbox/websockets/drop`: drop_websockets.
- `POST /_sandbox/clock` {`skewMs`}: set clock_skew_ms; or {`advanceSeconds`}: advance.
- `POST /_sandbox/futures` {`symbol`, and any of `fundingRate`, `openInterest`, `basis`}:
  sim.futures.set_funding_rate / set_open_interest / set_basis; answers the contract's
  mark price, funding rate and open interest.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .wire import dumps, fmt

if TYPE_CHECKING:
    from .server import ExchangeSimulator

Handler = Callable[[web.Request], Awaitable[web.Response]]


def _reply(payload: Any, status: int = 200) -> web.Response:
    return web.Response(text=dumps(payload), status=status, content_type="application/json")


def _guarded(handler: Handler) -> Handler:
    """Turn a bad request (missing field, unknown key or symbol, bad value) into a 400."""

    async def wrapper(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except (KeyError, ValueError, TypeError, ArithmeticError) as error:
            return _reply({"error": f"{type(error).__name__}: {error}"}, 400)

    return wrapper


async def _body(request: web.Request) -> dict[str, Any]:
    text = await request.text()
    data = json.loads(text, parse_float=Decimal) if text.strip() else {}
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def _amount(value: Any) -> Decimal | str | int:
    return value if isinstance(value, Decimal | str | int) else str(value)


class ControlRoutes:
    """Drives an ExchangeSimulator over HTTP."""

    def __init__(self, sim: ExchangeSimulator) -> None:
        self._sim = sim

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/_sandbox/state", _guarded(self.state)),
            web.post("/_sandbox/accounts", _guarded(self.add_account)),
            web.get("/_sandbox/accounts/{api_key}", _guarded(self.show_account)),
            web.post("/_sandbox/accounts/{api_key}/deposit", _guarded(self.deposit)),
            web.post("/_sandbox/price", _guarded(self.set_price)),
            web.post("/_sandbox/faults", _guarded(self.inject_fault)),
            web.post("/_sandbox/websockets/drop", _guarded(self.drop_websockets)),
            web.post("/_sandbox/clock", _guarded(self.set_clock)),
            web.post("/_sandbox/futures", _guarded(self.set_futures)),
        ]

    async def state(self, request: web.Request) -> web.Response:
        sim = self._sim
        return _reply(
            {
                "network": sim.network,
                "seed": sim.seed,
                "spread": str(sim.spread),
                "clockSkewMs": sim.clock_skew_ms,
                "openWebsockets": sim.open_websockets,
                "symbols": sim.catalog.names(),
            }
        )

    async def add_account(self, request: web.Request) -> web.Response:
        body = await _body(request)
        account = self._sim.add_account(
            body["apiKey"],
            secret=body.get("secret"),
            public_key_pem=body.get("publicKeyPem"),
            balances={k: _amount(v) for k, v in (body.get("balances") or {}).items()},
            can_trade=bool(body.get("canTrade", True)),
            can_withdraw=bool(body.get("canWithdraw", False)),
            ip_restrict=bool(body.get("ipRestrict", False)),
            maker_commission=_amount(body.get("makerCommission", "0.001")),
            taker_commission=_amount(body.get("takerCommission", "0.001")),
        )
        return _reply({"apiKey": account.api_key, "uid": account.uid, "keyType": account.key_type})

    async def show_account(self, request: web.Request) -> web.Response:
        api_key = request.match_info["api_key"]
        balances = {
            asset: {"free": fmt(row.free), "locked": fmt(row.locked)}
            for asset, row in self._sim.balances(api_key).items()
        }
        orders = [order.query() for order in self._sim.orders_for(api_key)]
        return _reply({"apiKey": api_key, "balances": balances, "orders": orders})

    async def deposit(self, request: web.Request) -> web.Response:
        body = await _body(request)
        api_key = request.match_info["api_key"]
        self._sim.deposit(api_key, body["asset"], _amount(body["amount"]))
        return _reply({"apiKey": api_key, "asset": body["asset"]})

    async def set_price(self, request: web.Request) -> web.Response:
        body = await _body(request)
        qty = body.get("qty")
        self._sim.set_price(
            body["symbol"], _amount(body["price"]), None if qty is None else _amount(qty)
        )
        return _reply({"symbol": body["symbol"], "price": fmt(self._sim.price(body["symbol"]))})

    async def inject_fault(self, request: web.Request) -> web.Response:
        body = await _body(request)
        kind, faults = body["kind"], self._sim.faults
        common = {"count": int(body.get("count", 1)), "method": body.get("method")}
        after = body.get("executeAfter")
        if kind == "fail":
            faults.fail_next(
                body["path"],
                status=body.get("status"),
                code=body.get("code"),
                execute=bool(body.get("execute", False)),
                execute_after=None if after is None else float(after),
                **common,
            )
        elif kind in ("truncate", "drop"):
            arm = faults.truncate_next if kind == "truncate" else faults.drop_next
            arm(body["path"], execute=bool(body.get("execute", True)), **common)
        elif kind == "rate_limit":
            faults.rate_limit_next(
                body["path"], retry_after=int(body.get("retryAfter", 2)), **common
            )
        elif kind == "hang":
            seconds = float(body.get("seconds", 30))
            faults.hang_next(
                body["path"], seconds=seconds, execute=bool(body.get("execute", False)), **common
            )
        elif kind == "ban":
            faults.ban(float(body.get("seconds", 60)))
        elif kind == "clear":
            faults.clear()
        else:
            raise ValueError(f"unknown fault kind {kind!r}")
        return _reply({"armed": kind})

    async def drop_websockets(self, request: web.Request) -> web.Response:
        count = self._sim.open_websockets
        await self._sim.drop_websockets()
        return _reply({"dropped": count})

    async def set_clock(self, request: web.Request) -> web.Response:
        body = await _body(request)
        if "advanceSeconds" in body:
            self._sim.advance(float(body["advanceSeconds"]))
        else:
            self._sim.clock_skew_ms = int(body["skewMs"])
        return _reply({"clockSkewMs": self._sim.clock_skew_ms})

    async def set_futures(self, request: web.Request) -> web.Response:
        body = await _body(request)
        futures, symbol = self._sim.futures, body["symbol"]
        if symbol not in futures.contracts:
            raise KeyError(f"{symbol} has no USDT-M perpetual here")
        if "basis" in body:
            futures.set_basis(symbol, Decimal(_amount(body["basis"])))
        if "fundingRate" in body:
            futures.set_funding_rate(symbol, Decimal(_amount(body["fundingRate"])))
        if "openInterest" in body:
            futures.set_open_interest(symbol, Decimal(_amount(body["openInterest"])))
        return _reply(
            {
                "symbol": symbol,
                "markPrice": fmt(futures.mark_price(symbol)),
                "fundingRate": fmt(futures.funding_rate(symbol)),
                "openInterest": str(futures.open_interest(symbol)),
            }
        )

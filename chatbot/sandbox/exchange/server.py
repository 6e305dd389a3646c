"""`ExchangeSimulator`: the market, the engine and the three servers on one aiohttp port."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Mapping
from decimal import Decimal

from aiohttp import web

from .accounts import API_KEY_PATTERN, DEFAULT_COMMISSION, Account, Balance, key_type_of
from .auth import Authenticator
from .capital import CapitalLedger, CapitalRoutes
from .control import ControlRoutes
from .engine import Engine
from .faults import FaultInjector
from .futures import FUTURES_WEIGHTS, Contracts, FuturesMarket, FuturesRoutes, FuturesStreamHub
from .gateway import Gateway
from .limits import RateLimits
from .market import DEFAULT_SPREAD, BookTop, Market, OrderBook
from .order_lists import OrderLists
from .orders import Order
from .rest_account import AccountRoutes
from .rest_lists import ListRoutes
from .rest_market import MarketRoutes
from .sockets import ChannelRegistry, SocketSettings
from .streams import StreamHub
from .symbols import Catalog
from .wire import Clock
from .wsapi import UserDataHub, WsApi

Amount = Decimal | int | str
NETWORKS = ("mainnet", "testnet")


def to_decimal(value: Amount) -> Decimal:
    """Money from a Decimal, an int or a decimal string; floats are refused on purpose."""
    if isinstance(value, float | bool):
        raise TypeError(f"use Decimal or str for money, not {type(value).__name__}: {value!r}")
    return Decimal(value)


class ExchangeSimulator:
    """A Binance Spot exchange on 127.0.0.1: REST, market streams and the WebSocket API.

    See the package docstring for the whole control API.
    """

    def __init__(
        self,
        *,
        seed: int = 1,
        network: str = "mainnet",
        random_walk: bool = False,
        tick_interval: float = 1.0,
        spread: Decimal = DEFAULT_SPREAD,
        ping_interval: float = 20.0,
        pong_timeout: float = 60.0,
    ) -> None:
        if network not in NETWORKS:
            raise ValueError(f"network must be one of {NETWORKS}, not {network!r}")
        self.seed = seed
        self.network = network
        self.random_walk = random_walk
        self.tick_interval = tick_interval
        self.clock = Clock()
        self.catalog = Catalog(network)
        self.market = Market(
            self.catalog,
            self.clock,
            seed=seed,
            spread=spread,
            tick_interval_ms=max(1, int(tick_interval * 1000)),
        )
        self.limits = RateLimits()
        self.faults = FaultInjector(self.clock, self.limits)
        self._registry = ChannelRegistry()
        settings = SocketSettings(ping_interval, pong_timeout)
        self.streams = StreamHub(self.market, self.clock, self._registry, settings)
        self.userdata = UserDataHub()
        self.engine = Engine(self.market, self.clock, self.userdata.publish, seed)
        self.order_lists = OrderLists(
            self.engine, self.clock, self.userdata.publish, self.engine.new_client_id
        )
        self.auth = Authenticator(self.engine.accounts, self.clock)
        self.capital = CapitalLedger()  # deposits and withdrawals, for /sapi/v1/capital
        self.wsapi = WsApi(
            self.auth, self.userdata, self.limits, self.clock, self._registry, settings
        )
        self.futures = FuturesMarket(self.market, Contracts(self.catalog), self.clock, seed)
        self.futures_limits = RateLimits()  # the futures budget: Binance's USDT-M values
        self.futures_limits.weight_per_minute = 2400
        self.futures_limits.orders_per_10s = 300
        self.futures_streams = FuturesStreamHub(
            self.market, self.futures, self.clock, self._registry, settings
        )
        self._runner: web.AppRunner | None = None
        self._walker: asyncio.Task[None] | None = None
        self._address: tuple[str, int] | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def build_app(self) -> web.Application:
        """The aiohttp application (for embedding; `start` serves it on its own port)."""
        futures_budget = (self.futures_limits, FUTURES_WEIGHTS)
        gateway = Gateway(self.limits, self.faults, self.clock, futures=futures_budget)
        app = web.Application(middlewares=[gateway.middleware])
        app.add_routes(MarketRoutes(self.catalog, self.market, self.clock, self.limits).routes())
        account_routes = AccountRoutes(
            self.engine, self.order_lists, self.catalog, self.auth, self.limits, self.clock
        )
        app.add_routes(account_routes.routes(with_sapi=self.network == "mainnet"))
        lists = ListRoutes(self.order_lists, self.catalog, self.auth, self.limits, self.clock)
        app.add_routes(lists.routes())
        if self.network == "mainnet":
            app.add_routes(CapitalRoutes(self.capital, self.auth, self.clock).routes())
        app.add_routes(
            [
                web.get("/ws", self.streams.raw),
                web.get("/ws/{streams:.+}", self.streams.raw),
                web.get("/stream", self.streams.combined),
                web.get("/ws-api/v3", self.wsapi.handle),
                web.get("/fstream/market/ws", self.futures_streams.raw),
                web.get("/fstream/market/ws/{streams:.+}", self.futures_streams.raw),
                web.get("/fstream/market/stream", self.futures_streams.combined),
            ]
        )
        app.add_routes(FuturesRoutes(self.futures, self.clock, self.futures_limits).routes())
        app.add_routes(ControlRoutes(self).routes())
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Serve on `host:port` (port 0: the OS picks one; read it from the URLs)."""
        if self._runner is not None:
            raise RuntimeError("the simulator is already running")
        self._runner = web.AppRunner(self.build_app(), shutdown_timeout=0.25, access_log=None)
        await self._runner.setup()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            await web.SockSite(self._runner, sock).start()
        except BaseException:
            sock.close()
            await self._runner.cleanup()
            self._runner = None
            raise
        self._address = (host, sock.getsockname()[1])
        self.futures_streams.start()
        if self.random_walk:
            self._walker = asyncio.create_task(self._walk())

    async def stop(self) -> None:
        """Cancel pending late executions, close every connection and stop serving."""
        await self.faults.close()
        await self.futures_streams.stop()
        if self._walker is not None:
            self._walker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._walker
            self._walker = None
        await self._registry.drop_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _walk(self) -> None:
        while True:
            await asyncio.sleep(self.tick_interval)
            self.market.walk()

    @property
    def _base(self) -> str:
        if self._address is None:
            raise RuntimeError("start() the simulator first")
        host, port = self._address
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    @property
    def rest_url(self) -> str:
        """`BINANCE_API_URL`."""
        return f"http://{self._base}"

    @property
    def stream_url(self) -> str:
        """`BINANCE_STREAM_URL` (clients append `/ws/<stream>` or `/stream?streams=`)."""
        return f"ws://{self._base}"

    @property
    def futures_rest_url(self) -> str:
        """`BINANCE_FUTURES_API_URL` (clients append `/fapi/v1/...`): the same port."""
        return f"http://{self._base}"

    @property
    def futures_stream_url(self) -> str:
        """`BINANCE_FUTURES_STREAM_URL` (clients append `/ws/<stream>` or `/stream?streams=`):
        the `/market` route, Binance's path for mark price, aggTrade and kline streams."""
        return f"ws://{self._base}/fstream/market"

    @property
    def ws_api_url(self) -> str:
        """`BINANCE_WS_API_URL`."""
        return f"ws://{self._base}/ws-api/v3"

    # -- accounts ---------------------------------------------------------------------------

    def add_account(
        self,
        api_key: str,
        *,
        secret: str | None = None,
        public_key_pem: str | None = None,
        balances: Mapping[str, Amount] | None = None,
        can_trade: bool = True,
        can_withdraw: bool = False,
        ip_restrict: bool = False,
        maker_commission: Amount = DEFAULT_COMMISSION,
        taker_commission: Amount = DEFAULT_COMMISSION,
    ) -> Account:
        """Register an API key (HMAC `secret`, or an Ed25519/RSA `public_key_pem`) and its
        account. Raises ValueError for a malformed or already registered key."""
        if not API_KEY_PATTERN.match(api_key):
            raise ValueError("an API key is 1-128 letters, digits, '-' or '_'")
        if api_key in self.engine.accounts:
            raise ValueError(f"API key {api_key!r} is already registered")
        now = self.clock.now_ms()
        account = Account(
            api_key=api_key,
            uid=100_000_000 + len(self.engine.accounts) + 1,
            key_type=key_type_of(secret, public_key_pem),
            secret=secret,
            public_key_pem=public_key_pem,
            can_trade=can_trade,
            can_withdraw=can_withdraw,
            ip_restrict=ip_restrict,
            maker_commission=to_decimal(maker_commission),
            taker_commission=to_decimal(taker_commission),
            created_ms=now,
            update_time=now,
        )
        for asset, amount in (balances or {}).items():
            account.balance(asset).free = to_decimal(amount)
        self.engine.add_account(account)
        return account

    def account(self, api_key: str) -> Account:
        """The account of a registered key (KeyError otherwise)."""
        return self.engine.accounts[api_key]

    def balances(self, api_key: str) -> dict[str, Balance]:
        """A snapshot of the account's balances (every asset it ever held)."""
        rows = self.account(api_key).balances
        return {asset: Balance(row.free, row.locked) for asset, row in rows.items()}

    def orders_for(self, api_key: str) -> list[Order]:
        """Every order the account placed, in any state, oldest first."""
        return self.engine.all_orders(self.account(api_key))

    def deposit(self, api_key: str, asset: str, amount: Amount) -> None:
        """Credit (negative: debit) a free balance; sends `balanceUpdate` to subscribers and
        appears in the capital history as a deposit (a withdrawal)."""
        account, amount = self.account(api_key), to_decimal(amount)
        self.engine.deposit(account, asset, amount)
        self.capital.record(account, asset, amount, account.update_time)

    # -- market -----------------------------------------------------------------------------

    def set_price(self, symbol: str, price: Amount, qty: Amount | None = None) -> None:
        """Print a trade at `price` now: streams publish it and the resting LIMIT orders it
        reaches fill, as makers at their own prices: completely, or with `qty` at most `qty`
        in total, in price-time priority (so an order can fill partially)."""
        size = None if qty is None else to_decimal(qty)
        self.market.set_price(symbol, to_decimal(price), size)

    def price(self, symbol: str) -> Decimal:
        return self.market.price(symbol)

    def book_top(self, symbol: str) -> BookTop:
        """Best bid/ask (level 0 of the book): small MARKET BUYs fill at `ask`, SELLs at `bid`."""
        return self.market.book(symbol)

    def order_book(self, symbol: str) -> OrderBook:
        """The whole book (`bids`, `asks`: levels best first), as `/api/v3/depth` serves it and
        as orders take from it."""
        return self.market.order_book(symbol)

    def step_market(self) -> None:
        """One random-walk step of every symbol, now (what the timer does each tick)."""
        self.market.walk()

    @property
    def book_levels(self) -> int:
        """How many levels each side of every book shows (and MARKET orders can take)."""
        return self.market.book_levels

    @book_levels.setter
    def book_levels(self, value: int) -> None:
        if int(value) < 1:
            raise ValueError("a book has at least one level each side")
        self.market.book_levels = int(value)

    @property
    def spread(self) -> Decimal:
        """Relative half-spread: ask = price × (1 + spread), bid = price × (1 − spread)."""
        return self.market.spread

    @spread.setter
    def spread(self, value: Amount) -> None:
        self.market.spread = to_decimal(value)

    @property
    def clock_skew_ms(self) -> int:
        """How far the server clock runs ahead of real time (negative: behind)."""
        return self.clock.skew_ms

    @clock_skew_ms.setter
    def clock_skew_ms(self, value: int) -> None:
        self.clock.skew_ms = int(value)

    def advance(self, seconds: float) -> None:
        """Move the exchange's time on by `seconds` (to the millisecond) at once, as if that
        long had passed without a trade: the next print closes the candles it left (see
        streams.py), and klines show the skipped ones empty (see tape.py)."""
        if seconds < 0:
            raise ValueError(f"the clock only moves on: {seconds} s")
        self.clock.skew_ms += round(seconds * 1000)

    # -- connections ------------------------------------------------------------------------

    @property
    def open_websockets(self) -> int:
        """How many market-stream and WebSocket API connections are open."""
        return len(self._registry)

    def user_data_subscriptions(self, api_key: str) -> int:
        """How many WebSocket API user-data subscriptions the key has now (all connections)."""
        return self.userdata.count(api_key)

    async def drop_websockets(self) -> None:
        """Cut every WebSocket connection abruptly (no close frame), like a network failure."""
        await self._registry.drop_all()

"""Candlestick charts as PNG pictures, readable on a phone.

matplotlib with its Agg backend draws the candles directly (two `bar` calls: wicks and bodies),
which needs nothing beyond matplotlib itself; mplfinance would add a dependency (and pandas)
for the same picture. Drawing takes tens of milliseconds of CPU, so it runs in a worker thread,
never on the event loop.

matplotlib (with numpy) is imported on the first chart, in that worker thread, not when the bot
starts: it is a third of the process's memory (about 45 MB of 118 MB), and most users never ask for
a chart.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from chatbot.errors import UserError
from chatbot.exchange.client import BinanceClient
from chatbot.exchange.market_models import Kline
from chatbot.services.futures_market import FuturesMarketService, contract_of, futures_key
from chatbot.services.market import MarketService

if TYPE_CHECKING:
    from matplotlib.axes import Axes

INTERVALS = ("15m", "1h", "4h", "1d")
CANDLES = 100
SIZE_PX = (1200, 800)  # width, height
_DPI = 100
_UP, _DOWN, _BG, _FG = "#26a69a", "#ef5350", "#131722", "#d1d4dc"


@dataclass(frozen=True)
class Chart:
    symbol: str
    interval: str
    png: bytes
    last_price: Decimal
    change_pct: Decimal


class ChartService:
    """Charts of spot symbols (`BTCUSDT`) and of perpetuals, named by their key
    (`BTCUSDT.P`: the futures candles and 24 h ticker, from the futures market service)."""

    def __init__(
        self, client: BinanceClient, market: MarketService, futures: FuturesMarketService
    ) -> None:
        self._client = client
        self._market = market
        self._futures = futures

    async def chart(self, name: str, interval: str = "1h") -> Chart:
        """The last 100 candles of a symbol or a perpetual's key; raises UserError for an
        unknown interval, `UnknownSymbol` / `UnknownContract` before any candle is read."""
        if interval not in INTERVALS:
            raise UserError(
                f"Unknown interval “{interval[:10]}”: use one of {', '.join(INTERVALS)}. "
                "Example: /chart BTCUSDT 4h"
            )
        contract = contract_of(name)
        if contract is not None:
            return await self._futures_chart(contract, interval)
        rules = await self._market.resolve(name)
        klines, [ticker] = await asyncio.gather(
            self._client.klines(rules.symbol, interval, limit=CANDLES),
            self._client.ticker_24hr([rules.symbol]),
        )
        return await self._drawn(rules.symbol, interval, klines, ticker.last_price,
                                 ticker.price_change_percent)  # fmt: skip

    async def _futures_chart(self, name: str, interval: str) -> Chart:
        contract = await self._futures.resolve(name)
        klines, ticker = await asyncio.gather(
            self._futures.klines(contract.symbol, interval, limit=CANDLES),
            self._futures.ticker(contract.symbol),
        )
        key = futures_key(contract.symbol)
        return await self._drawn(key, interval, klines, ticker.last_price,
                                 ticker.price_change_percent)  # fmt: skip

    async def _drawn(
        self, title: str, interval: str, klines: list[Kline], last: Decimal, change: Decimal
    ) -> Chart:
        png = await asyncio.to_thread(render, title, interval, klines, last, change)
        return Chart(title, interval, png, last, change)


def render(
    symbol: str, interval: str, klines: list[Kline], last_price: Decimal, change_pct: Decimal
) -> bytes:
    """Draw the candles, the volume under them and the last price; returns PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")  # no display: render to memory
    from matplotlib.figure import Figure

    figure = Figure(figsize=(SIZE_PX[0] / _DPI, SIZE_PX[1] / _DPI), dpi=_DPI, facecolor=_BG)
    grid = figure.add_gridspec(2, 1, height_ratios=(3, 1), hspace=0.05)
    prices, volumes = figure.add_subplot(grid[0]), figure.add_subplot(grid[1])
    for axes in (prices, volumes):
        axes.set_facecolor(_BG)
        axes.tick_params(colors=_FG, labelsize=14)
        axes.grid(color="#2a2e39", linewidth=0.8)
        for spine in axes.spines.values():
            spine.set_color("#2a2e39")
    _candles(prices, volumes, klines)
    last = float(last_price)  # drawing only: pixels, not money
    prices.axhline(last, color="#f0b90b", linestyle="--", linewidth=1.2)
    prices.tick_params(labelbottom=False)
    sign = "+" if change_pct > 0 else ""
    figure.suptitle(
        f"{symbol} {interval}   {last_price.normalize():f}   "
        f"{sign}{change_pct.quantize(Decimal('0.01'))}% 24h",
        color=_FG,
        fontsize=22,
        fontweight="bold",
    )
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", facecolor=_BG)
    return buffer.getvalue()


def _candles(prices: Axes, volumes: Axes, klines: list[Kline]) -> None:
    xs = list(range(len(klines)))
    colors = [_UP if k.close >= k.open else _DOWN for k in klines]
    lows = [float(k.low) for k in klines]
    highs = [float(k.high) for k in klines]
    bottoms = [float(min(k.open, k.close)) for k in klines]
    bodies = [max(float(abs(k.close - k.open)), (h - lo) * 0.002) for k, h, lo in
              zip(klines, highs, lows, strict=True)]  # fmt: skip
    prices.bar(xs, [h - lo for h, lo in zip(highs, lows, strict=True)], 0.15, lows, color=colors)
    prices.bar(xs, bodies, 0.7, bottoms, color=colors)
    prices.set_xlim(-1, len(klines))
    volumes.bar(xs, [float(k.volume) for k in klines], 0.7, color=colors)
    volumes.set_xlim(-1, len(klines))
    ticks = xs[:: max(1, len(xs) // 5)]
    volumes.set_xticks(ticks, [_label(klines[i].open_time) for i in ticks])


def _label(open_time_ms: int) -> str:
    return datetime.fromtimestamp(open_time_ms / 1000, UTC).strftime("%m-%d %H:%M")

"""The simulator's USDT-M futures side: perpetuals' market data, on the simulator's own port.

Read-only, like the bot's futures support: REST under `/fapi/v1/` (ping, time, exchangeInfo,
ticker/24hr, ticker/price, premiumIndex, fundingRate, openInterest, trades, klines,
markPriceKlines) and market streams under `/fstream` (see streams.py), in Binance's futures
shapes and error codes (-1121 "Invalid symbol." for a name without a perpetual, -1102 for a
missing parameter, -1104 for one the endpoint does not read, -1120 for a bad interval).
Every price follows the spot market engine (see market.py); funding settles every 8 hours of
the simulator's clock (see funding.py). The weight budget is the futures one, separate from
spot's, counted per IP (see rest.py).

Control API (on a started `ExchangeSimulator`)::

    sim.futures_rest_url, sim.futures_stream_url   # BINANCE_FUTURES_API_URL / _STREAM_URL
    sim.futures.set_funding_rate("BTCUSDT", Decimal("0.0005"))  # in force now; the next
    #   8-hour settlement records it; mark streams publish at once
    sim.futures.set_open_interest("BTCUSDT", Decimal("81234.567"))  # then moves with prints
    sim.futures.set_basis("BTCUSDT", Decimal("0"))  # futures last = mark = index = spot
    sim.set_price("BTCUSDT", Decimal("70000"))      # moves index, mark and last at once
    sim.advance(8 * 3600)                           # one funding settlement passes
    sim.futures.mark_price("BTCUSDT"); sim.futures.index_price(...); sim.futures.last_price(...)
    sim.futures.funding_rate(...); sim.futures.open_interest(...); sim.futures.funding_history(...)
    sim.futures_limits.weight_per_minute = 2400     # the futures budget (per IP, per minute)
    sim.futures_streams.listeners("btcusdt@markPrice")  # connections carrying a stream

Over HTTP: `POST /_sandbox/futures` {symbol, fundingRate, openInterest, basis} (control.py).
The package imports nothing from the client (`chatbot.exchange`).
"""

from .contracts import Contract, Contracts
from .market import FuturesMarket
from .rest import FUTURES_WEIGHTS, FuturesRoutes
from .streams import FuturesStreamHub

__all__ = [
    "FUTURES_WEIGHTS",
    "Contract",
    "Contracts",
    "FuturesMarket",
    "FuturesRoutes",
    "FuturesStreamHub",
]

"""The books of one replica, as one: each alert goes to the book of its kind.

Price levels live in the `AlertBook` (bisection over thresholds; a perpetual's levels, keyed
`BTCUSDT.P`, are met on its mark price), perpetuals' funding levels in a second `AlertBook`
keyed the same way (the threshold is the rate, a fraction), moves over a window in the
`MoveBook` (a reference price per window), indicators and volume spikes in the `CandleBook`
(one series per symbol, interval and indicator, shared by every alert on it). The index
dispatches an alert by its kind and merges what the books report, so the scope above it
(`alert_scope.py`) deals with alerts, not books.
"""

from __future__ import annotations

from decimal import Decimal

from chatbot.exchange.market_models import Kline
from chatbot.services.alert_book import AlertBook
from chatbot.services.alert_kinds import (
    INTERVAL_SECONDS,
    AlertKind,
    Firing,
    IndicatorCondition,
    Move,
    VolumeSpike,
    condition_from_json,
)
from chatbot.services.candle_book import CandleBook
from chatbot.services.move_book import MoveBook
from chatbot.storage.alerts import AlertRecord

History = tuple[str, str, int]  # symbol, kline interval, the first open time wanted (ms)


class AlertIndex:
    """Every active alert this replica evaluates, in the book of its kind."""

    def __init__(
        self,
        prices: AlertBook | None = None,
        moves: MoveBook | None = None,
        candles: CandleBook | None = None,
        funding: AlertBook | None = None,
    ) -> None:
        self.prices = prices if prices is not None else AlertBook()
        self.funding = funding if funding is not None else AlertBook()
        self.moves = moves if moves is not None else MoveBook()
        self.candles = candles if candles is not None else CandleBook()
        self._symbol_of: dict[int, str] = {}  # moves' and candles' alerts (prices: the book)

    def __len__(self) -> int:
        return len(self.prices) + len(self.funding) + len(self._symbol_of)

    def __contains__(self, alert_id: object) -> bool:
        return alert_id in self.prices or alert_id in self.funding or alert_id in self._symbol_of

    def symbols(self) -> set[str]:
        books = (self.prices, self.funding, self.moves, self.candles)
        return set().union(*(book.symbols() for book in books))

    def ids(self, symbol: str) -> list[int]:
        books = (self.prices, self.funding, self.moves, self.candles)
        return [alert_id for book in books for alert_id in book.ids(symbol)]

    def symbol_of(self, alert_id: int) -> str | None:
        view = self.prices.get(alert_id) or self.funding.get(alert_id)
        return view.symbol if view is not None else self._symbol_of.get(alert_id)

    def wants_trades(self, symbol: str) -> bool:
        """Whether the symbol's price stream is needed: trades for price levels and moves, a
        perpetual's mark price updates (which carry its funding rate) for its levels."""
        return bool(
            self.prices.count(symbol) or self.moves.count(symbol) or self.funding.count(symbol)
        )

    def intervals(self, symbol: str) -> set[str]:
        """The kline streams the symbol's indicator and volume alerts need."""
        return self.candles.intervals(symbol)

    def add(self, alert: AlertRecord) -> None:
        """Put an active alert in its book; `fired_at` restores a repeat alert's cooldown.
        Raises ValueError for a row whose condition does not parse (a damaged row)."""
        fired_at = alert.fired_at if alert.repeat else None
        kind = AlertKind(alert.kind)
        if kind in (AlertKind.PRICE, AlertKind.FUNDING):
            book = self.prices if kind is AlertKind.PRICE else self.funding
            book.add(
                alert.id,
                alert.symbol,
                alert.direction,
                alert.threshold,
                repeat=alert.repeat,
                cooldown=alert.cooldown,
                fired_at=fired_at,
            )
            return
        condition = condition_from_json(kind, alert.params or "")
        options = {"repeat": alert.repeat, "cooldown": alert.cooldown, "fired_at": fired_at}
        if isinstance(condition, Move):
            self.moves.add(alert.id, alert.symbol, condition, **options)
        elif isinstance(condition, IndicatorCondition | VolumeSpike):
            self.candles.add(alert.id, alert.symbol, condition, **options)
        else:
            raise ValueError(f"alert {alert.id}: a {kind} alert with a {condition!r}")
        self._symbol_of[alert.id] = alert.symbol

    def remove(self, alert_id: int) -> str | None:
        """Drop an alert; the symbol it was on, or None when no book held it."""
        for book in (self.prices, self.funding):
            view = book.get(alert_id)
            if view is not None:
                book.remove(alert_id)
                return view.symbol
        symbol = self._symbol_of.pop(alert_id, None)
        if symbol is not None and not self.moves.remove(alert_id):
            self.candles.remove(alert_id)
        return symbol

    def on_trade(self, symbol: str, price: Decimal, time_ms: int, now: float) -> list[Firing]:
        """A trade: the price levels it crosses and the moves it completes."""
        crossed = self.prices.on_price(symbol, price, now)
        moved = self.moves.on_trade(symbol, price, time_ms)
        if not crossed and not moved:  # nearly every trade: nothing to build
            return moved
        fired = [Firing(i, price) for i in crossed] + moved
        self._forget_one_shots(fired)
        return fired

    def on_funding(self, key: str, rate: Decimal, now: float) -> list[Firing]:
        """A perpetual's funding rate (a fraction) from its mark price stream: the funding
        levels it meets, each fired with the rate as what was measured."""
        crossed = self.funding.on_price(key, rate, now)
        return [Firing(i, rate, rate) for i in crossed]

    def on_kline(
        self, symbol: str, interval: str, kline: Kline, closed: bool, now: float
    ) -> list[Firing]:
        fired = self.candles.on_kline(symbol, interval, kline, closed, now)
        self._forget_one_shots(fired)
        return fired

    def needs_history(self, now_ms: int) -> list[History]:
        """What candle history the books lack: (symbol, interval, first open time wanted)."""
        wanted = list(self.moves.needs_history(now_ms))
        for symbol, interval, count in self.candles.needs_history():
            wanted.append((symbol, interval, now_ms - count * INTERVAL_SECONDS[interval] * 1000))
        return wanted

    def streams(self, symbol: str) -> set[str]:
        """The candle intervals the symbol's alerts read (moves' references, indicators'
        series): what a catch-up after a stream gap reads again."""
        return self.moves.resolutions(symbol) | self.candles.intervals(symbol)

    def seed(self, symbol: str, interval: str, klines: list[Kline], now: float) -> list[Firing]:
        """Closed candles from REST, oldest first, to the books that read them; what a
        catch-up fires (a crossing among candles missed during a gap), at `now`."""
        if interval in self.moves.resolutions(symbol):
            self.moves.seed(symbol, interval, klines)
        fired = self.candles.seed(symbol, interval, klines, now)
        self._forget_one_shots(fired)
        return fired

    def _forget_one_shots(self, fired: list[Firing]) -> None:
        """A one-shot alert left its book when it fired: forget its symbol too."""
        for firing in fired:
            if firing.alert_id in self._symbol_of and not self._held(firing.alert_id):
                del self._symbol_of[firing.alert_id]

    def _held(self, alert_id: int) -> bool:
        return alert_id in self.moves or alert_id in self.candles

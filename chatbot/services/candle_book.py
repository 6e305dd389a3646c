"""The in-memory index of active indicator and volume alerts: which alerts does this candle fire?

Pure and synchronous like `alert_book.AlertBook` (no I/O, no clock of its own, not
thread-safe): the alert service feeds it kline events and the history it asks for, and persists
what fires. Semantics:

- one series (`candle_series.py`) per symbol, interval, indicator and periods, shared by every
  alert on it, fed the CLOSED candles of that interval, each once by its open time;
- an indicator alert fires on the close where its condition becomes true, having been false at
  the close before (an edge): an RSI that stays below 30 fires once, and an alert added while
  its condition already holds waits for the next crossing. The price is the candle's close,
  `measured` the indicator's value (see `candle_series.measured`);
- a volume alert is evaluated on every live update of the candle being formed (the closing
  update too): it fires when that candle's volume reaches `factor` times the average of the
  `period` closed candles before it, once per candle. `measured` is the multiple;
- alerts with the same condition on the same symbol are one group, evaluated once; a group of
  volume alerts fires once per candle, so an alert whose cooldown ends or that is added after
  its group fired on a candle waits for the next candle;
- a one-shot alert leaves the book when it fires; a `repeat` alert ignores its condition for
  `cooldown` seconds after firing (`now`, the event's time), then fires on the next edge (or
  the next spiking candle). `fired_at` restores one that was cooling before a restart;
- a catch-up after a stream gap gives the missed closed candles in order, through `seed` (the
  candles REST returns; the ones the series has are skipped) or `on_kline` with `closed`: a
  crossing among them fires once (they share one `now`, so a repeat alert cools after the
  first). Candles older than the last one taken are ignored, so a catch-up must come before
  the stream's next close.

History: a new series asks for closed candles (`needs_history`) and is given them with `seed`,
which merges them under the closed candles the stream gave meanwhile, firing nothing. Until
then it computes from what the stream gives, like an indicator on a chart that starts there.

Cost: a live update of an interval without volume alerts is one dict lookup and a loop over
that stream's series; a close is one update per series and one comparison per distinct
condition, plus the alerts that fire.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from chatbot.exchange.market_models import Kline
from chatbot.services.alert_kinds import Firing, IndicatorCondition, VolumeSpike
from chatbot.services.candle_series import (
    IndicatorSeries,
    Reading,
    VolumeSeries,
    check_condition,
    crossed,
    measured,
    reading,
    series_for,
    series_key,
    spike,
)

CandleCondition = IndicatorCondition | VolumeSpike
_ARMED = -math.inf


@dataclass(slots=True, eq=False)
class _Alert:
    alert_id: int
    symbol: str
    condition: CandleCondition
    repeat: bool
    cooldown: float
    ready_at: float  # _ARMED, or the end of the cooldown after a firing


@dataclass(slots=True, eq=False)
class _Group:
    """The alerts on one symbol with one condition."""

    condition: CandleCondition
    alerts: dict[int, _Alert] = field(default_factory=dict)
    fired_open: int | None = None  # volume: the candle the group last fired on


@dataclass(slots=True, eq=False)
class _Track:
    """One series and the groups of alerts that read it."""

    series: IndicatorSeries | VolumeSeries
    groups: dict[CandleCondition, _Group] = field(default_factory=dict)


class CandleBook:
    """Active indicator and volume alerts; see the module docstring for the semantics."""

    def __init__(self) -> None:
        self._alerts: dict[int, _Alert] = {}
        self._by_symbol: dict[str, dict[int, None]] = {}
        # (symbol, interval) -> series key -> track
        self._streams: dict[tuple[str, str], dict[tuple[Any, ...], _Track]] = {}

    # ---------------------------------------------------------------- queries

    def __len__(self) -> int:
        return len(self._alerts)

    def __contains__(self, alert_id: object) -> bool:
        return alert_id in self._alerts

    def symbols(self) -> set[str]:
        """Symbols with at least one alert (the kline streams the caller must follow)."""
        return set(self._by_symbol)

    def intervals(self, symbol: str) -> set[str]:
        """The kline intervals `symbol`'s alerts need (`<symbol>@kline_<interval>`)."""
        return {interval for name, interval in self._streams if name == symbol}

    def count(self, symbol: str) -> int:
        return len(self._by_symbol.get(symbol, ()))

    def ids(self, symbol: str) -> list[int]:
        return list(self._by_symbol.get(symbol, ()))

    def needs_history(self) -> list[tuple[str, str, int]]:
        """(symbol, interval, closed candles wanted) for each stream with a series not yet
        seeded: the most any of them asks for (enough for EMA and MACD to converge, at most
        `candle_series.MAX_HISTORY` unless a warm-up alone needs more)."""
        wanted = []
        for (symbol, interval), tracks in self._streams.items():
            counts = [t.series.history for t in tracks.values() if not t.series.seeded]
            if counts:
                wanted.append((symbol, interval, max(counts)))
        return sorted(wanted)

    def values(self, symbol: str, condition: CandleCondition) -> Reading | None:
        """What `condition` compares now on `symbol` ("RSI(14) on 1h is 41.2"): at the last
        close for an indicator, the forming candle against the average for a volume spike.
        None when no alert on the book reads that series, or while it warms up."""
        track = self._streams.get((symbol, condition.interval), {}).get(series_key(condition))
        if track is None:
            return None
        series = track.series
        if isinstance(series, VolumeSeries):
            return series.reading()
        if not isinstance(condition, IndicatorCondition):
            return None
        return reading(condition, series.current)

    # ---------------------------------------------------------------- changes

    def add(
        self,
        alert_id: int,
        symbol: str,
        condition: CandleCondition,
        *,
        repeat: bool = False,
        cooldown: float = 900.0,
        fired_at: float | None = None,
    ) -> None:
        """Index an alert; `fired_at` restores a repeat alert that is cooling down.

        Raises ValueError for a duplicate id, a condition that is not an indicator or volume
        one (or not one a series can follow), a negative or non-finite cooldown, or `fired_at`
        on a one-shot alert.
        """
        if alert_id in self._alerts:
            raise ValueError(f"alert {alert_id} is already in the book")
        check_condition(condition)
        if not 0 <= cooldown < math.inf:
            raise ValueError(f"cooldown must be finite seconds >= 0, not {cooldown!r}")
        if fired_at is not None and not (repeat and math.isfinite(fired_at)):
            raise ValueError(f"fired_at must be finite seconds, for a repeat alert: {fired_at!r}")
        tracks = self._streams.get((symbol, condition.interval), {})
        key = series_key(condition)
        track = tracks.get(key)
        if track is None:
            track = _Track(series_for(condition))
            self._streams.setdefault((symbol, condition.interval), {})[key] = track
        group = track.groups.get(condition)
        if group is None:
            group = track.groups[condition] = _Group(condition)
        ready_at = _ARMED if fired_at is None else fired_at + cooldown
        # The group's condition, not the caller's equal copy: one object per distinct condition.
        alert = _Alert(alert_id, symbol, group.condition, repeat, cooldown, ready_at)
        group.alerts[alert_id] = alert
        self._alerts[alert_id] = alert
        self._by_symbol.setdefault(symbol, {})[alert_id] = None

    def remove(self, alert_id: int) -> bool:
        """Drop an alert; False when the book does not hold it (unknown, or one-shot and fired).
        A series nobody reads any more is dropped with its last alert."""
        alert = self._alerts.pop(alert_id, None)
        if alert is None:
            return False
        symbol, condition = alert.symbol, alert.condition
        ids = self._by_symbol[symbol]
        del ids[alert_id]
        if not ids:
            del self._by_symbol[symbol]
        stream = (symbol, condition.interval)
        tracks = self._streams[stream]
        key = series_key(condition)
        groups = tracks[key].groups
        del groups[condition].alerts[alert_id]
        if not groups[condition].alerts:
            del groups[condition]
            if not groups:
                del tracks[key]
                if not tracks:
                    del self._streams[stream]
        return True

    def seed(
        self, symbol: str, interval: str, klines: Sequence[Kline], now: float | None = None
    ) -> list[Firing]:
        """Closed candles (oldest first) for every series of the stream; idempotent. A series
        still warming up merges them under the closed candles the stream gave before, firing
        nothing (a crossing in history is not news). A seeded series takes the ones newer than
        its last as a catch-up after a gap: each as its closing event, so a crossing or a spike
        among them fires, once. `now` is the time those firings start cooldowns at (the
        caller's clock, as for `on_kline`); None takes each candle's end."""
        fired: list[Firing] = []
        for track in list(self._streams.get((symbol, interval), {}).values()):
            for kline in track.series.seed(klines):
                if not track.groups:  # its last one-shot alerts fired
                    break
                at = (kline.close_time + 1) / 1000 if now is None else now
                self._event(track, kline, True, at, fired)
        return fired

    # ---------------------------------------------------------------- events

    def on_kline(
        self, symbol: str, interval: str, kline: Kline, closed: bool, now: float
    ) -> list[Firing]:
        """The alerts this kline event fires, each once. `closed` is the event's "x" (the
        candle's final update); `now` the event's time in seconds, for cooldowns."""
        tracks = self._streams.get((symbol, interval))
        if not tracks:
            return []
        fired: list[Firing] = []
        for track in list(tracks.values()):
            self._event(track, kline, closed, now, fired)
        return fired

    def _event(
        self, track: _Track, kline: Kline, closed: bool, now: float, fired: list[Firing]
    ) -> None:
        series = track.series
        if isinstance(series, VolumeSeries):
            self._volume(track, series, kline, closed, now, fired)
        elif closed and series.close(kline):
            self._crossings(track, series, kline.close, now, fired)

    def _crossings(
        self,
        track: _Track,
        series: IndicatorSeries,
        close: Decimal,
        now: float,
        fired: list[Firing],
    ) -> None:
        for group in list(track.groups.values()):
            condition = group.condition
            if not isinstance(condition, IndicatorCondition):
                continue
            hit = crossed(condition, series)
            if hit is not None:
                self._fire(group, close, measured(condition, hit), now, fired)

    def _volume(
        self,
        track: _Track,
        series: VolumeSeries,
        kline: Kline,
        closed: bool,
        now: float,
        fired: list[Firing],
    ) -> None:
        current = series.observe(kline)
        for group in list(track.groups.values()):
            condition = group.condition
            if group.fired_open == kline.open_time or not isinstance(condition, VolumeSpike):
                continue
            multiple = spike(condition, current)
            if multiple is not None:
                group.fired_open = kline.open_time
                self._fire(group, kline.close, multiple, now, fired)
        if closed:
            series.close(kline)

    def _fire(
        self, group: _Group, price: Decimal, value: Decimal, now: float, fired: list[Firing]
    ) -> None:
        for alert in list(group.alerts.values()):
            if now < alert.ready_at:
                continue
            fired.append(Firing(alert.alert_id, price, value))
            if alert.repeat:
                alert.ready_at = now + alert.cooldown
            else:
                self.remove(alert.alert_id)

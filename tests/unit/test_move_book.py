"""The move book fires a move alert on the first trade that is `pct` % from the price `window`
before it, and matches a plain scan of every alert on every trade."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatbot.exchange.market_models import Kline
from chatbot.services.alert_kinds import Firing, Move
from chatbot.services.move_book import MoveBook

D = Decimal
MIN = 60_000  # ms
T0 = 1_800_000_000_000 // (15 * MIN) * (15 * MIN)  # a 15m candle's open, in 2027


def kline(open_time: int, close: str, interval_ms: int = MIN) -> Kline:
    c = D(close)
    return Kline(open_time, c, c, c, c, D(1), open_time + interval_ms - 1, c, 1)


def minutes(start: int, closes: list[str]) -> list[Kline]:
    return [kline(start + i * MIN, c) for i, c in enumerate(closes)]


def ids(firings: list[Firing]) -> list[int]:
    return sorted(f.alert_id for f in firings)


def test_an_up_move_fires_once_when_the_price_is_pct_above_the_price_window_ago() -> None:
    book = MoveBook()
    book.add(1, "BTCUSDT", Move(D(3), 15 * 60))
    assert book.on_trade("BTCUSDT", D(100), T0) == []  # no reference yet: nothing
    assert book.on_trade("BTCUSDT", D(103), T0 + 10 * MIN) == []  # 10 min: no price 15m ago
    assert book.on_trade("BTCUSDT", D("102.99"), T0 + 15 * MIN) == []  # +2.99%
    [firing] = book.on_trade("BTCUSDT", D(103), T0 + 15 * MIN + 1)
    assert firing == Firing(1, D(103), D(3))
    assert 1 not in book and not book.symbols()
    assert book.on_trade("BTCUSDT", D(110), T0 + 16 * MIN) == []


def test_a_down_move_fires_at_or_below_its_fall() -> None:
    book = MoveBook()
    book.add(7, "ETHUSDT", Move(D(-5), 3600))
    book.on_trade("ETHUSDT", D(2000), T0)
    assert book.on_trade("ETHUSDT", D(1901), T0 + 60 * MIN) == []  # -4.95%
    [firing] = book.on_trade("ETHUSDT", D(1900), T0 + 60 * MIN + 5)
    assert (firing.alert_id, firing.price, firing.measured) == (7, D(1900), D(-5))


def test_the_reference_is_the_close_of_the_candle_holding_the_instant_window_ago() -> None:
    book = MoveBook()
    book.add(1, "BTCUSDT", Move(D(2), 5 * 60))
    book.on_trade("BTCUSDT", D(100), T0 + 1_000)
    book.on_trade("BTCUSDT", D(90), T0 + 59_000)  # the close of minute 0 is 90
    book.on_trade("BTCUSDT", D(95), T0 + 3 * MIN)
    # 5m after T0 + 30s: the reference is minute 0's close, 90; 91.8 is +2%
    assert ids(book.on_trade("BTCUSDT", D("91.8"), T0 + 5 * MIN + 30_000)) == [1]


def test_several_windows_each_read_their_own_reference() -> None:
    book = MoveBook()
    book.add(1, "BTCUSDT", Move(D(1), 60))
    book.add(2, "BTCUSDT", Move(D(10), 10 * 60))
    book.add(3, "BTCUSDT", Move(D(-1), 5 * 60))
    book.seed("BTCUSDT", "1m", minutes(T0, ["100", "105", "110", "110", "110", "110", "110",
                                            "110", "110", "110"]))  # fmt: skip
    t = T0 + 10 * MIN + 1
    # 1m ago: 110 (+0.9%); 10m ago: 100 (+11%); 5m ago: 110 (+0.9%, not a fall)
    assert ids(book.on_trade("BTCUSDT", D(111), t)) == [2]
    assert ids(book.on_trade("BTCUSDT", D("108.9"), t + 1)) == [3]  # -1% from 110
    assert ids(book.on_trade("BTCUSDT", D(120), t + MIN)) == [1]  # 1m ago: 108.9


def test_many_alerts_on_one_symbol_fire_exactly_those_reached() -> None:
    book = MoveBook()
    for n in range(1, 1001):  # +0.01% .. +10%, and the same falls
        book.add(n, "BTCUSDT", Move(D(n) / 100, 3600))
        book.add(-n, "BTCUSDT", Move(-D(n) / 100, 3600))
    book.on_trade("BTCUSDT", D(1000), T0)
    assert book.on_trade("BTCUSDT", D(1000), T0 + 60 * MIN) == []
    assert ids(book.on_trade("BTCUSDT", D("1025.5"), T0 + 60 * MIN + 1)) == list(range(1, 256))
    assert ids(book.on_trade("BTCUSDT", D(990), T0 + 60 * MIN + 2)) == list(range(-100, 0))
    assert len(book) == 2000 - 355 and book.count("BTCUSDT") == 1645


def test_no_trade_for_a_while_carries_the_last_close_forward() -> None:
    book = MoveBook()
    book.add(1, "SOLUSDT", Move(D(5), 30 * 60))
    book.on_trade("SOLUSDT", D(100), T0)
    # silent for two days: the price 30 min ago was still 100
    assert ids(book.on_trade("SOLUSDT", D(105), T0 + 2 * 86_400_000)) == [1]


def test_a_gap_in_history_takes_the_close_before_it() -> None:
    book = MoveBook()
    book.add(1, "SOLUSDT", Move(D(5), 10 * 60))
    book.seed("SOLUSDT", "1m", [kline(T0, "100"), kline(T0 + 9 * MIN, "200")])
    # 10m before T0 + 10m + 1: minute 0 (100); 9m before: minute 1, a gap, so 100 too
    assert book.change("SOLUSDT", 10 * 60, D(105), T0 + 10 * MIN + 1) == D(5)
    assert book.change("SOLUSDT", 9 * 60, D(105), T0 + 10 * MIN + 1) == D(5)
    assert book.change("SOLUSDT", 60, D(210), T0 + 10 * MIN + 1) == D(5)  # minute 9: 200
    assert book.change("SOLUSDT", 86_400, D(105), T0) is None  # no 15m series: no alert reads it


def test_a_repeat_alert_waits_its_cooldown_then_re_arms_once_back_inside() -> None:
    book = MoveBook()
    book.add(1, "BTCUSDT", Move(D(2), 60), repeat=True, cooldown=600)
    book.on_trade("BTCUSDT", D(100), T0)
    assert ids(book.on_trade("BTCUSDT", D(102), T0 + MIN)) == [1]
    # still +2% over its own minute ago, but cooling down
    assert book.on_trade("BTCUSDT", D("104.04"), T0 + 2 * MIN) == []
    # cooldown over (10 min), but the change is still beyond 2%: not re-armed, nothing fires
    assert book.on_trade("BTCUSDT", D(120), T0 + 12 * MIN) == []
    assert book.on_trade("BTCUSDT", D(120), T0 + 13 * MIN) == []  # 0%: re-armed
    assert ids(book.on_trade("BTCUSDT", D("122.4"), T0 + 14 * MIN)) == [1]
    assert 1 in book


def test_a_repeat_alert_restored_with_fired_at_waits_out_its_cooldown() -> None:
    book = MoveBook()
    book.add(1, "BTCUSDT", Move(D(-2), 60), repeat=True, cooldown=600, fired_at=T0 / 1000)
    book.on_trade("BTCUSDT", D(100), T0)
    book.on_trade("BTCUSDT", D(100), T0 + MIN)  # inside, but still cooling
    assert book.on_trade("BTCUSDT", D(98), T0 + 2 * MIN) == []
    book.on_trade("BTCUSDT", D(98), T0 + 10 * MIN)  # cooled and 0% from 98: re-armed
    assert ids(book.on_trade("BTCUSDT", D(96), T0 + 11 * MIN)) == [1]


def test_seeding_before_live_trades_gives_references_at_once() -> None:
    book = MoveBook()
    book.add(1, "BTCUSDT", Move(D(3), 15 * 60))
    assert book.needs_history(now_ms=T0 + 20 * MIN) == [("BTCUSDT", "1m", T0 + 4 * MIN)]
    history = minutes(T0, ["100"] * 20)
    book.seed("BTCUSDT", "1m", history)
    book.seed("BTCUSDT", "1m", history)  # idempotent
    assert book.needs_history() == []
    assert book.change("BTCUSDT", 15 * 60, D(103), T0 + 20 * MIN) == D(3)
    assert ids(book.on_trade("BTCUSDT", D(103), T0 + 20 * MIN)) == [1]


def test_seeding_after_live_trades_fills_the_past_and_keeps_the_live_candle() -> None:
    book = MoveBook()
    book.add(1, "BTCUSDT", Move(D(10), 5 * 60))
    book.on_trade("BTCUSDT", D(120), T0 + 5 * MIN)  # the stream starts now
    assert book.needs_history() == [("BTCUSDT", "1m", T0 - MIN)]
    assert book.on_trade("BTCUSDT", D(121), T0 + 5 * MIN + 1) == []  # no reference yet
    # REST: minutes 0..5, the last being the live one (ignored: the stream's is newer)
    book.seed("BTCUSDT", "1m", minutes(T0, ["100", "101", "102", "103", "104", "999"]))
    assert book.change("BTCUSDT", 5 * 60, D(121), T0 + 5 * MIN + 2) == D(21)
    assert ids(book.on_trade("BTCUSDT", D(121), T0 + 5 * MIN + 2)) == [1]


def test_a_seed_overrides_what_a_partial_stream_made_of_a_closed_candle() -> None:
    book = MoveBook()
    book.add(1, "BTCUSDT", Move(D(1), 60))
    book.on_trade("BTCUSDT", D(100), T0 + 59_000)  # late in minute 0
    book.on_trade("BTCUSDT", D(100), T0 + MIN + 1)
    assert book.change("BTCUSDT", 60, D(101), T0 + MIN + 2) == D(1)
    book.seed("BTCUSDT", "1m", [kline(T0, "101")])
    assert book.change("BTCUSDT", 60, D(101), T0 + MIN + 2) == D(0)
    assert book.on_trade("BTCUSDT", D(101), T0 + MIN + 3) == []  # the band was recomputed


def test_a_listing_younger_than_the_window_is_asked_for_once() -> None:
    book = MoveBook()
    book.add(1, "NEWUSDT", Move(D(50), 86_400))  # 1d: read from 15m candles
    book.on_trade("NEWUSDT", D(1), T0 + 3600_000)
    [(symbol, interval, since)] = book.needs_history()
    assert (symbol, interval) == ("NEWUSDT", "15m") and since < T0
    book.seed("NEWUSDT", "15m", [kline(T0, "1", 15 * MIN)])  # all the exchange has
    assert book.needs_history() == []


def test_a_new_symbol_is_asked_for_from_the_newest_trade_seen_or_from_now() -> None:
    book = MoveBook()
    book.add(1, "NEWUSDT", Move(D(1), 60))
    with pytest.raises(ValueError, match="pass now_ms"):
        book.needs_history()
    book.add(2, "BTCUSDT", Move(D(1), 60))
    book.on_trade("BTCUSDT", D(100), T0 + 10 * MIN + 5)  # the book's present: minute 10
    assert book.needs_history() == [
        ("NEWUSDT", "1m", T0 + 8 * MIN),  # a candle more than the window, for rounding
        ("BTCUSDT", "1m", T0 + 8 * MIN),
    ]
    assert book.needs_history(now_ms=T0 + 20 * MIN)[0] == ("NEWUSDT", "1m", T0 + 18 * MIN)


def test_a_7d_window_reads_15m_candles() -> None:
    book = MoveBook()
    book.add(1, "BTCUSDT", Move(D(-20), 7 * 86_400))
    week = 7 * 86_400_000
    book.seed("BTCUSDT", "15m", [kline(T0 + i * 15 * MIN, "100", 15 * MIN) for i in range(673)])
    assert book.needs_history() == []
    book.on_trade("BTCUSDT", D(90), T0 + week)
    assert ids(book.on_trade("BTCUSDT", D(80), T0 + week + 14 * MIN)) == [1]


def test_a_longer_window_asks_for_more_history() -> None:
    book = MoveBook()
    book.add(1, "BTCUSDT", Move(D(1), 60))
    book.seed("BTCUSDT", "1m", minutes(T0, ["100"] * 5))
    assert book.needs_history() == []
    book.add(2, "BTCUSDT", Move(D(1), 3600))
    assert book.needs_history() == [("BTCUSDT", "1m", T0 + 4 * MIN - 61 * MIN)]


def test_remove_and_the_queries() -> None:
    book = MoveBook()
    book.add(1, "BTCUSDT", Move(D(1), 60))
    book.add(2, "BTCUSDT", Move(D(-1), 86_400), repeat=True)
    book.add(3, "ETHUSDT", Move(D(1), 60))
    assert (len(book), book.symbols(), book.count("BTCUSDT")) == (3, {"BTCUSDT", "ETHUSDT"}, 2)
    assert sorted(book.ids("BTCUSDT")) == [1, 2]
    assert book.remove(2) and not book.remove(2) and 2 not in book
    assert book.remove(3) and book.symbols() == {"BTCUSDT"}
    with pytest.raises(ValueError, match="already in the book"):
        book.add(1, "BTCUSDT", Move(D(1), 60))


@pytest.mark.parametrize(
    ("condition", "kwargs"),
    [
        (Move(D(0), 60), {}),
        (Move(D(-100), 60), {}),
        (Move(D(1), 59), {}),
        (Move(D(1), 7 * 86_400 + 1), {}),
        (Move(D(1), 60), {"cooldown": -1.0}),
        (Move(D(1), 60), {"fired_at": 5.0}),
    ],
)
def test_add_refuses_what_is_no_move_alert(condition: Move, kwargs: dict) -> None:
    with pytest.raises(ValueError):
        MoveBook().add(1, "BTCUSDT", condition, **kwargs)


def test_seed_refuses_an_interval_it_does_not_read() -> None:
    with pytest.raises(ValueError, match="1m or 15m"):
        MoveBook().seed("BTCUSDT", "1h", [])


# ---------------------------------------------------------------- against a plain scan


class PlainScan:
    """Every alert checked on every trade against minute closes kept in a dict."""

    def __init__(self) -> None:
        self.closes: dict[int, Decimal] = {}
        self.alerts: dict[int, list] = {}  # id -> [pct, window, repeat, armed, ready_at]

    def reference(self, index: int) -> Decimal | None:
        known = [i for i in self.closes if i <= index]
        return self.closes[max(known)] if known else None

    def on_trade(self, price: Decimal, time_ms: int) -> list[int]:
        index = max([time_ms // MIN, *self.closes])
        self.closes[index] = price
        fired = []
        for alert_id, alert in list(self.alerts.items()):
            pct, window, repeat, armed, ready_at = alert
            ref = self.reference((time_ms - window * 1000) // MIN)
            if ref is None:
                continue
            reached = (
                price * 100 >= ref * (100 + pct) if pct > 0 else price * 100 <= ref * (100 + pct)
            )
            if not armed:
                inside = (
                    price * 100 < ref * (100 + pct) if pct > 0 else price * 100 > ref * (100 + pct)
                )
                if time_ms / 1000 >= ready_at and inside:
                    alert[3] = armed = True
                    continue
            if armed and reached:
                fired.append(alert_id)
                if repeat:
                    alert[3], alert[4] = False, time_ms / 1000 + 120
                else:
                    del self.alerts[alert_id]
        return sorted(fired)


PCTS = st.sampled_from([D(1), D("2.5"), D(5), D(-1), D("-2.5"), D(-5)])
WINDOWS = st.sampled_from([60, 180, 600])


@settings(max_examples=150, deadline=None)
@given(
    alerts=st.lists(st.tuples(PCTS, WINDOWS, st.booleans()), min_size=1, max_size=12),
    path=st.lists(
        st.tuples(st.integers(1, 200_000), st.integers(-60, 60), st.integers(0, 40)),
        min_size=1,
        max_size=60,
    ),
)
def test_the_book_fires_what_a_plain_scan_fires(alerts, path) -> None:
    book, scan = MoveBook(), PlainScan()
    for alert_id, (pct, window, repeat) in enumerate(alerts, start=1):
        book.add(alert_id, "BTCUSDT", Move(pct, window), repeat=repeat, cooldown=120)
        scan.alerts[alert_id] = [pct, window, repeat, True, 0.0]
    time_ms, price = T0, D(1000)
    for step_ms, step, gone in path:  # `gone`: an alert removed before the trade, if one
        assert book.remove(gone) == (scan.alerts.pop(gone, None) is not None)
        time_ms += step_ms
        price = max(D(1), price + step)
        assert ids(book.on_trade("BTCUSDT", price, time_ms)) == scan.on_trade(price, time_ms)
    assert len(book) == len(scan.alerts)

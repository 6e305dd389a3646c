"""The alert book fires exactly what a linear scan of the same alerts would, tick by tick."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule

from chatbot.services.alert_book import AlertBook, AlertView
from chatbot.services.level_keys import LOAD, SortedKeys, from_time_key, time_key

D = Decimal


# ---------------------------------------------------------------- the reference model


@dataclass
class RefAlert:
    alert_id: int
    symbol: str
    direction: str
    threshold: Decimal
    repeat: bool
    cooldown: float
    armed: bool = True
    fired_at: float = 0.0


class LinearScan:
    """The semantics, written as plainly as possible: every alert checked on every tick."""

    def __init__(self) -> None:
        self.alerts: dict[int, RefAlert] = {}

    def add(self, alert: RefAlert) -> None:
        self.alerts[alert.alert_id] = alert

    def remove(self, alert_id: int) -> bool:
        return self.alerts.pop(alert_id, None) is not None

    def on_price(self, symbol: str, price: Decimal, now: float) -> list[int]:
        fired = []
        for alert in list(self.alerts.values()):
            if alert.symbol != symbol:
                continue
            above = alert.direction == "above"
            if alert.armed:
                if price >= alert.threshold if above else price <= alert.threshold:
                    fired.append(alert.alert_id)
                    if alert.repeat:
                        alert.armed, alert.fired_at = False, now
                    else:
                        del self.alerts[alert.alert_id]
            elif (price < alert.threshold if above else price > alert.threshold) and (
                now >= alert.fired_at + alert.cooldown
            ):
                alert.armed = True
        return fired


# ---------------------------------------------------------------- property: book == scan

SYMBOLS = ["BTCUSDT", "ETHUSDT", "DOGEUSDT"]
grid_prices = st.integers(0, 40).map(lambda n: D(n) / 4)  # 0, 0.25 ... 10: frequent ties
fine_prices = st.decimals(min_value=0, max_value=10, places=10, allow_nan=False)
tiny_prices = st.integers(1, 10**6).map(lambda n: D(n).scaleb(-14))  # needs a rescale
nudges = st.sampled_from([D("1E-9"), D("-1E-9"), D("1E-12"), D("-1E-12"), D("1E-20")])
off_grid_prices = st.builds(lambda p, d: abs(p + d), grid_prices, nudges)  # decimals the book lacks
thresholds = st.one_of(grid_prices, grid_prices, fine_prices, tiny_prices)
prices = st.one_of(grid_prices, grid_prices, off_grid_prices, fine_prices, tiny_prices)
cooldowns = st.sampled_from([0.0, 1.0, 2.5, 10.0])
steps = st.sampled_from([0.0, 0.0, 0.5, 1.0, 3.0, 20.0])


class BookMatchesScan(RuleBasedStateMachine):
    ids = Bundle("ids")

    def __init__(self) -> None:
        super().__init__()
        self.book = AlertBook()
        self.scan = LinearScan()
        self.now = 1000.0
        self.next_id = 1

    @rule(
        target=ids,
        symbol=st.sampled_from(SYMBOLS),
        direction=st.sampled_from(["above", "below"]),
        threshold=thresholds,
        repeat=st.booleans(),
        cooldown=cooldowns,
        waiting=st.booleans(),
    )
    def add(self, symbol, direction, threshold, repeat, cooldown, waiting):
        alert_id, self.next_id = self.next_id, self.next_id + 1
        fired_at = self.now if repeat and waiting else None
        self.book.add(
            alert_id, symbol, direction, threshold, repeat=repeat, cooldown=cooldown,
            fired_at=fired_at,
        )  # fmt: skip
        alert = RefAlert(alert_id, symbol, direction, threshold, repeat, cooldown)
        if fired_at is not None:
            alert.armed, alert.fired_at = False, fired_at
        self.scan.add(alert)
        return alert_id

    @rule(alert_id=consumes(ids))
    def remove(self, alert_id):
        assert self.book.remove(alert_id) == self.scan.remove(alert_id)

    @rule(alert_id=ids)
    def remove_maybe_twice(self, alert_id):
        assert self.book.remove(alert_id) == self.scan.remove(alert_id)

    @rule(symbol=st.sampled_from(SYMBOLS), price=prices, step=steps)
    def tick(self, symbol, price, step):
        self.now += step
        got = self.book.on_price(symbol, price, self.now)
        event(f"tick fired {min(len(got), 3)}")
        assert sorted(got) == sorted(self.scan.on_price(symbol, price, self.now))

    @rule(ticks=st.lists(st.tuples(st.sampled_from(SYMBOLS), prices), max_size=6), step=steps)
    def batch(self, ticks, step):
        self.now += step
        want = [i for symbol, price in ticks for i in self.scan.on_price(symbol, price, self.now)]
        assert sorted(self.book.evaluate_batch(ticks, self.now)) == sorted(want)

    @invariant()
    def same_alerts(self):
        assert len(self.book) == len(self.scan.alerts)
        assert self.book.symbols() == {a.symbol for a in self.scan.alerts.values()}
        for symbol in SYMBOLS:
            expected = sum(a.symbol == symbol for a in self.scan.alerts.values())
            assert self.book.count(symbol) == expected
        for alert in self.scan.alerts.values():
            view = self.book.get(alert.alert_id)
            assert view == AlertView(
                alert.alert_id, alert.symbol, alert.direction, alert.threshold,  # type: ignore[arg-type]
                alert.repeat, alert.cooldown, alert.armed,
            )  # fmt: skip


BookMatchesScan.TestCase.settings = settings(max_examples=300, stateful_step_count=60)
test_book_matches_linear_scan = BookMatchesScan.TestCase


# ---------------------------------------------------------------- edge cases


def test_price_equal_to_threshold_fires_both_directions():
    book = AlertBook()
    book.add(1, "BTCUSDT", "above", D("100"))
    book.add(2, "BTCUSDT", "below", D("100.00"))
    assert sorted(book.on_price("BTCUSDT", D("100.00000000"), 0.0)) == [1, 2]
    assert len(book) == 0


def test_just_short_of_threshold_does_not_fire():
    book = AlertBook()
    book.add(1, "BTCUSDT", "above", D("100"))
    book.add(2, "BTCUSDT", "below", D("90"))
    assert book.on_price("BTCUSDT", D("99.99999999"), 0.0) == []
    assert book.on_price("BTCUSDT", D("90.00000001"), 0.0) == []
    assert book.on_price("BTCUSDT", D("99.999999999999999999"), 0.0) == []


def test_one_shot_fires_once_and_leaves():
    book = AlertBook()
    book.add(7, "ETHUSDT", "below", D("2000"))
    assert book.on_price("ETHUSDT", D("1999"), 0.0) == [7]
    assert book.on_price("ETHUSDT", D("1990"), 1.0) == []
    assert 7 not in book
    assert book.count("ETHUSDT") == 0
    assert book.symbols() == set()


def test_other_symbols_are_untouched():
    book = AlertBook()
    book.add(1, "BTCUSDT", "above", D("10"))
    assert book.on_price("ETHUSDT", D("100"), 0.0) == []
    assert book.on_price("BTCUSDT", D("100"), 0.0) == [1]


def test_repeat_waits_for_both_recross_and_cooldown():
    book = AlertBook()
    book.add(1, "BTCUSDT", "above", D("100"), repeat=True, cooldown=60.0)
    assert book.on_price("BTCUSDT", D("101"), 0.0) == [1]
    assert book.on_price("BTCUSDT", D("102"), 1.0) == []  # still above: no second message
    assert book.on_price("BTCUSDT", D("99"), 30.0) == []  # back below, but cooling down
    assert book.on_price("BTCUSDT", D("101"), 40.0) == []  # crossed again within the cooldown
    assert book.on_price("BTCUSDT", D("101"), 70.0) == []  # cooldown over, but never re-armed
    assert book.on_price("BTCUSDT", D("100"), 75.0) == []  # at the threshold is not "back below"
    assert book.get(1).armed is False
    assert book.on_price("BTCUSDT", D("99.5"), 80.0) == []  # re-arms here
    assert book.get(1).armed is True
    assert book.on_price("BTCUSDT", D("100"), 81.0) == [1]
    assert 1 in book


def test_cross_recross_cross_within_cooldown_fires_once():
    book = AlertBook()
    book.add(1, "BTCUSDT", "below", D("50"), repeat=True, cooldown=900.0)
    fired = []
    for second, price in enumerate(["49", "51", "49", "51", "49", "51", "49"]):
        fired += book.on_price("BTCUSDT", D(price), float(second))
    assert fired == [1]
    assert book.on_price("BTCUSDT", D("51"), 900.0) == []  # re-arms: above, cooldown over
    assert book.on_price("BTCUSDT", D("49"), 901.0) == [1]


def test_zero_cooldown_rearms_on_next_tick_back():
    book = AlertBook()
    book.add(1, "X", "above", D("1"), repeat=True, cooldown=0.0)
    fired = []
    for price in ["1", "0.5", "1", "0.5", "2"]:
        fired += book.on_price("X", D(price), 5.0)
    assert fired == [1, 1, 1]


def test_restored_waiting_alert_needs_recross():
    book = AlertBook()
    book.add(1, "X", "above", D("10"), repeat=True, cooldown=5.0, fired_at=100.0)
    assert book.on_price("X", D("11"), 200.0) == []
    assert book.on_price("X", D("9"), 201.0) == []
    assert book.on_price("X", D("11"), 202.0) == [1]


def test_remove_unknown_fired_and_twice():
    book = AlertBook()
    book.add(1, "X", "above", D("10"))
    book.add(2, "X", "above", D("10"), repeat=True, cooldown=10.0)
    assert book.remove(99) is False
    assert sorted(book.on_price("X", D("10"), 0.0)) == [1, 2]
    assert book.remove(1) is False  # one-shot: gone when it fired
    assert book.remove(2) is True  # repeat: still held while cooling down
    assert book.remove(2) is False
    assert book.on_price("X", D("5"), 100.0) == []
    assert book.on_price("X", D("15"), 101.0) == []
    assert len(book) == 0


def test_removed_cooling_alert_does_not_haunt_a_reused_slot():
    book = AlertBook()
    book.add(1, "X", "above", D("10"), repeat=True, cooldown=10.0)
    book.on_price("X", D("10"), 0.0)
    book.remove(1)
    book.add(2, "X", "below", D("5"))
    book.add(3, "X", "above", D("20"), repeat=True, cooldown=1.0)
    assert book.on_price("X", D("7"), 20.0) == []
    assert book.on_price("X", D("20"), 21.0) == [3]
    assert book.on_price("X", D("5"), 22.0) == [2]


def test_many_cooling_removals_are_compacted():
    book = AlertBook()
    for i in range(1000):
        book.add(i, "X", "above", D(1), repeat=True, cooldown=1e9)
    assert len(book.on_price("X", D(1), 0.0)) == 1000
    for i in range(1000):
        assert book.remove(i)
    assert len(book._books["X"].cooling) < 10
    assert book._free and len(book) == 0


def test_many_alerts_at_the_same_threshold():
    book = AlertBook()
    n = 5 * LOAD  # several sublists of one sorted list
    for i in range(n):
        book.add(i, "X", "above", D("3.5"), repeat=i % 2 == 0, cooldown=0.0)
    for i in range(0, n, 7):
        book.remove(i)
    live = [i for i in range(n) if i % 7]
    assert book.on_price("X", D("3.49999999"), 0.0) == []
    assert sorted(book.on_price("X", D("3.5"), 0.0)) == live
    assert book.on_price("X", D("3.4"), 1.0) == []
    assert sorted(book.on_price("X", D("4"), 2.0)) == [i for i in live if i % 2 == 0]


def test_threshold_with_many_decimals_is_exact():
    book = AlertBook()
    threshold = D("0.0000000000012345678901")  # 22 decimals: the symbol is rescaled
    book.add(1, "SHIBUSDT", "above", D("0.00001"))
    book.add(2, "SHIBUSDT", "below", threshold)
    assert book.get(2).threshold == threshold
    assert book.on_price("SHIBUSDT", D("0.0000000000012345678902"), 0.0) == []
    assert book.on_price("SHIBUSDT", threshold, 0.0) == [2]
    assert book.on_price("SHIBUSDT", D("0.00001"), 0.0) == [1]


def test_batch_processes_ticks_in_order():
    book = AlertBook()
    book.add(1, "X", "above", D(10), repeat=True, cooldown=0.0)
    ticks = [("X", D(11)), ("X", D(9)), ("X", D(12)), ("Y", D(1))]
    assert book.evaluate_batch(ticks, 0.0) == [1, 1]


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((1, "X", "sideways", D(1)), {}),
        ((1, "X", "above", D("NaN")), {}),
        ((1, "X", "above", D("Infinity")), {}),
        ((1, "X", "above", 1.5), {}),
        ((1, "X", "above", D(1)), {"cooldown": -1.0}),
        ((1, "X", "above", D(1)), {"fired_at": 3.0}),
        ((1, "X", "above", D(1)), {"repeat": True, "fired_at": float("nan")}),
        ((5, "X", "above", D(1)), {}),
    ],
)
def test_add_rejects_bad_alerts(args, kwargs):
    book = AlertBook()
    book.add(5, "X", "below", D(1))
    with pytest.raises(ValueError):
        book.add(*args, **kwargs)
    assert len(book) == 1


def test_add_many_matches_add():
    rows = [(i, f"S{i % 3}", "above" if i % 2 else "below", D(i % 17) / 4) for i in range(200)]
    one, many = AlertBook(), AlertBook()
    for row in rows:
        one.add(*row)
    many.add_many(rows)
    ticks = [(f"S{i % 3}", D(i % 19) / 4) for i in range(60)]
    assert one.evaluate_batch(ticks, 0.0) == many.evaluate_batch(ticks, 0.0)


# ---------------------------------------------------------------- building blocks


@given(st.floats(allow_nan=False), st.floats(allow_nan=False))
def test_time_key_orders_like_floats(a, b):
    assert (time_key(a) <= time_key(b)) == (a <= b)
    assert from_time_key(time_key(a)) == a


@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("add"), st.integers(-50, 50)),
            st.tuples(st.just("remove"), st.integers(-50, 50)),
            st.tuples(st.just("pop"), st.integers(-60, 60)),
        ),
        max_size=400,
    )
)
@settings(max_examples=200)
def test_sorted_keys_behave_like_a_sorted_list(ops):
    keys, model = SortedKeys(load=4), []  # small sublists: splits and merges happen
    for op, value in ops:
        if op == "add":
            keys.add(value)
            model.append(value)
            model.sort()
        elif op == "remove":
            if value in model:
                keys.remove(value)
                model.remove(value)
            else:
                with pytest.raises(ValueError):
                    keys.remove(value)
        else:
            taken = [v for v in model if v >= value]
            model = [v for v in model if v < value]
            assert keys.pop_from(value) == taken
        assert list(keys) == model
        assert len(keys) == len(model)
        assert keys.last() == (model[-1] if model else None)


def test_sorted_keys_across_many_sublists():
    load = 16
    n = 10 * load
    keys = SortedKeys(load=load)
    for i in range(n):
        keys.add(i * 7919 % n)
    assert list(keys) == list(range(n))
    for i in range(0, n, 3):
        keys.remove(i)
    keys.update(list(range(0, n, 3)))
    assert list(keys) == list(range(n))
    assert keys.pop_from(n // 2) == list(range(n // 2, n))
    assert len(keys) == n // 2
    keys.replace(range(0, n, 2))
    assert list(keys) == list(range(0, n, 2))

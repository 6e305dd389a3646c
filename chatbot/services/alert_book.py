"""The in-memory index of active price alerts: which alerts does this tick fire?

Pure and synchronous (no I/O, no clock of its own, not thread-safe): the alert service feeds it
market ticks and persists what fires. Semantics:

- an `above` alert fires on the first price at or above its threshold, a `below` alert on the
  first price at or below it;
- a one-shot alert leaves the book when it fires;
- a `repeat` alert, once fired, waits: it re-arms on the first tick of its symbol whose price is
  strictly back on the other side of the threshold *and* whose `now >= fired_at + cooldown`
  (both on that same tick); only then can the next crossing fire it again. Crossing back and forth
  during the cooldown therefore fires nothing, and each firing is reported exactly once;
- `now` is seconds on a clock that never goes backwards (`time.monotonic()` or `time.time()`).

Comparisons are exact. Each symbol keeps its thresholds as integers at a decimal scale (8, the
decimals Binance quotes, raised for that symbol when a threshold needs more, up to `MAX_SCALE`;
beyond that an `above` threshold is rounded up and a `below` one down). A price is compared as
floor(price * 10**scale) against `above` thresholds and as ceil(...) against `below` ones, which
is exact for thresholds on the grid, whatever the price's own decimals.

Cost: a tick for a symbol where nothing can happen is one dict lookup and three comparisons
(each symbol keeps the nearest price that would fire or re-arm something, and the earliest end of
a cooldown); otherwise O(log n + fired + re-armed). `add` and `remove` are O(log n).

Layout (about 140 bytes per alert, measured by `benchmarks/alert_book.py`). An alert occupies a
*slot*, an index into parallel arrays: `_ids` (array q: alert id), `_sym` (array I: symbol
number), `_flags` (array B: direction, repeat, state) and `_cooldown` (array d). Its *key* is one
int, `(±K << 32) | slot`, with K the scaled threshold, signed so that what a price fires or
re-arms is always the keys >= a bound (a suffix):

    list of the symbol   holds                key            acts when
    armed_above          armed `above`        (-K << 32)|s   price >= K  (fires)
    armed_below          armed `below`        (+K << 32)|s   price <= K  (fires)
    ready_above          re-armable `above`   (+K << 32)|s   price <  K  (re-arms)
    ready_below          re-armable `below`   (-K << 32)|s   price >  K  (re-arms)

Each list is a `SortedKeys`, a `sortedcontainers.SortedList` of ints (the library's chunked
lists keep insert and remove O(log n) however many alerts one symbol holds, where a flat list
would memmove O(n)). `_keys` maps alert id -> the alert's current key, the very int object the
list holds, so the map costs a dict entry and no object of its own.

A fired repeat alert waits its cooldown in the symbol's `cooling` heap, entries
`(time_key(ready_at) << 32) | slot`; its key meanwhile is its ready form. Removing a cooling alert
leaves a tombstone (state DEAD) in the heap whose slot is freed when it surfaces, or when
tombstones pass half the heap and the heap is rebuilt without them.
"""

from __future__ import annotations

import heapq
import math
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from chatbot.services.level_keys import (
    ARMED,
    BELOW,
    COOLING,
    DEAD,
    EXACT,
    INF,
    MAX_SCALE,
    READY,
    REPEAT,
    SLOT_BITS,
    SLOT_MASK,
    STATE,
    Direction,
    SymbolAlerts,
    decimals_needed,
    flip,
    time_key,
)
from chatbot.storage.alerts import AlertDirection

_DIRECTIONS = frozenset(AlertDirection)  # a plain "above" is found too (a StrEnum hashes as str)


@dataclass(frozen=True, slots=True)
class AlertView:
    """One alert as the book holds it; `armed` is False while a repeat alert waits to re-arm."""

    alert_id: int
    symbol: str
    direction: Direction
    threshold: Decimal
    repeat: bool
    cooldown: float
    armed: bool


class AlertBook:
    """Active price alerts indexed per symbol; see the module docstring for the semantics."""

    def __init__(self) -> None:
        self._keys: dict[int, int] = {}
        self._books: dict[str, SymbolAlerts] = {}
        self._by_index: list[SymbolAlerts] = []
        self._ids = array("q")
        self._sym = array("I")
        self._flags = array("B")
        self._cooldown = array("d")
        self._free = array("I")

    # ---------------------------------------------------------------- queries

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, alert_id: object) -> bool:
        return alert_id in self._keys

    def symbols(self) -> set[str]:
        """Symbols with at least one active alert (the streams the caller must follow)."""
        return {name for name, book in self._books.items() if book.count}

    def count(self, symbol: str) -> int:
        book = self._books.get(symbol)
        return book.count if book is not None else 0

    def ids(self, symbol: str) -> list[int]:
        """The ids of a symbol's alerts, O(len(book)): for handing a symbol to another
        replica, not for ticks."""
        book = self._books.get(symbol)
        if book is None or not book.count:
            return []
        index = book.index
        return [aid for aid, key in self._keys.items() if self._sym[key & SLOT_MASK] == index]

    def get(self, alert_id: int) -> AlertView | None:
        key = self._keys.get(alert_id)
        if key is None:
            return None
        slot = key & SLOT_MASK
        flags = self._flags[slot]
        book = self._by_index[self._sym[slot]]
        armed = flags & STATE == ARMED
        below = bool(flags & BELOW)
        k = key >> SLOT_BITS
        return AlertView(
            alert_id,
            book.name,
            AlertDirection.BELOW if below else AlertDirection.ABOVE,
            book.unscaled(k if below == armed else -k),
            bool(flags & REPEAT),
            self._cooldown[slot],
            armed,
        )

    # ---------------------------------------------------------------- changes

    def add(
        self,
        alert_id: int,
        symbol: str,
        direction: Direction,
        threshold: Decimal,
        *,
        repeat: bool = False,
        cooldown: float = 900.0,
        fired_at: float | None = None,
    ) -> None:
        """Index an armed alert; `fired_at` restores a repeat alert that is waiting to re-arm.

        Raises ValueError for a duplicate id, an unknown direction, a threshold that is not a
        finite Decimal, a negative or non-finite cooldown, or `fired_at` on a one-shot alert;
        OverflowError for an id outside int64 (SQLite rowids fit).
        """
        self._add(alert_id, symbol, direction, threshold, repeat, cooldown, fired_at).refresh()

    def add_many(
        self,
        alerts: Iterable[tuple[int, str, Direction, Decimal]],
        *,
        repeat: bool = False,
        cooldown: float = 900.0,
    ) -> None:
        """`add` for many alerts (start-up), refreshing each symbol's quiet band once."""
        touched: dict[int, SymbolAlerts] = {}
        for alert_id, symbol, direction, threshold in alerts:
            book = self._add(alert_id, symbol, direction, threshold, repeat, cooldown, None)
            touched[book.index] = book
        for book in touched.values():
            book.refresh()

    def remove(self, alert_id: int) -> bool:
        """Drop an alert; False when the book does not hold it (unknown, or one-shot and fired)."""
        key = self._keys.pop(alert_id, None)
        if key is None:
            return False
        slot = key & SLOT_MASK
        flags = self._flags[slot]
        book = self._by_index[self._sym[slot]]
        book.count -= 1
        state = flags & STATE
        if state == COOLING:
            self._flags[slot] = flags | DEAD
            book.tombstones += 1
            if book.tombstones * 2 > len(book.cooling):
                self._compact(book)
        else:
            below = flags & BELOW
            if state == ARMED:
                (book.armed_below if below else book.armed_above).remove(key)
            else:
                (book.ready_below if below else book.ready_above).remove(key)
            self._free.append(slot)
        book.refresh()
        return True

    # ---------------------------------------------------------------- ticks

    def on_price(self, symbol: str, price: Decimal, now: float) -> list[int]:
        """Ids of the alerts this tick fires, each once, in no particular order."""
        book = self._books.get(symbol)
        if book is None or (book.lo < price < book.hi and now < book.wake):
            return []
        fired: list[int] = []
        self._tick(book, price, now, fired)
        return fired

    def evaluate_batch(self, ticks: Iterable[tuple[str, Decimal]], now: float) -> list[int]:
        """`on_price` for each (symbol, price) in order, all at `now`; the ids fired, in order."""
        fired: list[int] = []
        get = self._books.get
        for symbol, price in ticks:
            book = get(symbol)
            if book is not None and (price >= book.hi or price <= book.lo or now >= book.wake):
                self._tick(book, price, now, fired)
        return fired

    def _tick(self, book: SymbolAlerts, price: Decimal, now: float, fired: list[int]) -> None:
        if now >= book.wake:
            self._mature(book, now)
        scaled = price.scaleb(book.scale, EXACT)
        floor = math.floor(scaled)
        ceil = floor if scaled == floor else floor + 1
        keys, ids, flags = self._keys, self._ids, self._flags
        # Re-arm first: a re-armed alert is strictly on its quiet side, so it cannot fire now.
        for ready, armed, bound in (
            (book.ready_above, book.armed_above, floor + 1),  # K > price
            (book.ready_below, book.armed_below, 1 - ceil),  # K < price
        ):
            rearmed = ready.pop_from(bound << SLOT_BITS)
            if rearmed:
                for i, key in enumerate(rearmed):
                    slot = key & SLOT_MASK
                    rearmed[i] = key = flip(key)
                    keys[ids[slot]] = key
                    flags[slot] &= ~STATE  # ARMED
                rearmed.sort()
                armed.update(rearmed)
        for armed, bound in ((book.armed_above, -floor), (book.armed_below, ceil)):
            for key in armed.pop_from(bound << SLOT_BITS):
                slot = key & SLOT_MASK
                alert_id = ids[slot]
                fired.append(alert_id)
                slot_flags = flags[slot]
                if slot_flags & REPEAT:
                    keys[alert_id] = flip(key)
                    flags[slot] = slot_flags | COOLING
                    ready_at = time_key(now + self._cooldown[slot])
                    heapq.heappush(book.cooling, (ready_at << SLOT_BITS) | slot)
                else:
                    del keys[alert_id]
                    self._free.append(slot)
                    book.count -= 1
        book.refresh()

    def _mature(self, book: SymbolAlerts, now: float) -> None:
        """Move the alerts whose cooldown has ended from the heap to the ready lists."""
        heap, flags = book.cooling, self._flags
        limit = (time_key(now) << SLOT_BITS) | SLOT_MASK
        while heap and heap[0] <= limit:
            slot = heapq.heappop(heap) & SLOT_MASK
            slot_flags = flags[slot]
            if slot_flags & STATE == DEAD:
                book.tombstones -= 1
                self._free.append(slot)
                continue
            flags[slot] = (slot_flags & ~STATE) | READY
            key = self._keys[self._ids[slot]]
            (book.ready_below if slot_flags & BELOW else book.ready_above).add(key)

    # ---------------------------------------------------------------- internals

    def _add(
        self,
        alert_id: int,
        symbol: str,
        direction: Direction,
        threshold: Decimal,
        repeat: bool,
        cooldown: float,
        fired_at: float | None,
    ) -> SymbolAlerts:
        if alert_id in self._keys:
            raise ValueError(f"alert {alert_id} is already in the book")
        if direction not in _DIRECTIONS:
            raise ValueError(f"direction must be 'above' or 'below', not {direction!r}")
        if not isinstance(threshold, Decimal) or not threshold.is_finite():
            raise ValueError(f"threshold must be a finite Decimal, not {threshold!r}")
        if not 0 <= cooldown < INF:
            raise ValueError(f"cooldown must be finite seconds >= 0, not {cooldown!r}")
        if fired_at is not None and not (repeat and -INF < fired_at < INF):
            raise ValueError(f"fired_at must be finite seconds, for a repeat alert: {fired_at!r}")
        book = self._books.get(symbol)
        if book is None:
            book = self._books[symbol] = SymbolAlerts(symbol, len(self._by_index))
            self._by_index.append(book)
        below = direction == AlertDirection.BELOW
        scaled = threshold.scaleb(book.scale, EXACT)
        k = math.floor(scaled)
        if scaled != k:  # more decimals than the symbol's scale
            needed = min(decimals_needed(threshold), MAX_SCALE)
            if needed > book.scale:
                self._rescale(book, needed)
                scaled = threshold.scaleb(book.scale, EXACT)
                k = math.floor(scaled)
            if scaled != k and not below:  # beyond MAX_SCALE: round away from firing
                k += 1
        slot = self._new_slot(alert_id, book.index, below, repeat, cooldown)
        # Armed `above` and ready `below` hold -K; see the module docstring.
        key = ((k if below else -k) << SLOT_BITS) | slot
        if fired_at is None:
            (book.armed_below if below else book.armed_above).add(key)
        else:
            key = flip(key)
            self._flags[slot] |= COOLING
            ready_at = time_key(fired_at + cooldown)
            heapq.heappush(book.cooling, (ready_at << SLOT_BITS) | slot)
        self._keys[alert_id] = key
        book.count += 1
        return book

    def _new_slot(self, alert_id: int, sym: int, below: bool, repeat: bool, cooldown: float) -> int:
        flags = (BELOW if below else 0) | (REPEAT if repeat else 0)
        if self._free:
            slot = self._free[-1]
            self._ids[slot] = alert_id  # OverflowError for an id beyond int64, slot kept free
            self._free.pop()
            self._sym[slot] = sym
            self._flags[slot] = flags
            self._cooldown[slot] = cooldown
            return slot
        slot = len(self._ids)
        if slot > SLOT_MASK:
            raise OverflowError("the alert book is full")
        self._ids.append(alert_id)
        self._sym.append(sym)
        self._flags.append(flags)
        self._cooldown.append(cooldown)
        return slot

    def _rescale(self, book: SymbolAlerts, scale: int) -> None:
        """Give the symbol more decimals: every key's K times 10**d, order unchanged."""
        factor = 10 ** (scale - book.scale)
        keys, ids = self._keys, self._ids

        def scaled(key: int) -> int:
            new = (((key >> SLOT_BITS) * factor) << SLOT_BITS) | (key & SLOT_MASK)
            keys[ids[key & SLOT_MASK]] = new
            return new

        for keys_list in book.lists():
            keys_list.replace([scaled(key) for key in keys_list])
        for entry in book.cooling:
            slot = entry & SLOT_MASK
            if self._flags[slot] & STATE != DEAD:
                scaled(keys[ids[slot]])
        book.scale = scale
        book.hi_k = book.lo_k = None
        book.refresh()

    def _compact(self, book: SymbolAlerts) -> None:
        """Rebuild the cooling heap without its tombstones, freeing their slots."""
        live = []
        for entry in book.cooling:
            slot = entry & SLOT_MASK
            if self._flags[slot] & STATE == DEAD:
                self._free.append(slot)
            else:
                live.append(entry)
        heapq.heapify(live)
        book.cooling = live
        book.tombstones = 0

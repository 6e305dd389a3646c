"""A sorted multiset of ints for the alert book: a two-level B-tree made of plain lists.

Keys live in chunks of at most `2 * LOAD` sorted ints, with `maxes[i]` the largest key of chunk
`i`. Inserting or removing one key costs a bisection over the maxes, a bisection in one chunk and a
`memmove` of at most one chunk, so O(log n + LOAD) whatever n is; taking every key at or above a
bound (the alert book's "what fires") costs O(log n + taken). A flat list would pay O(n) per
insert or removal, which starts to show once one symbol holds hundreds of thousands of alerts.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator

LOAD = 512


class SortedKeys:
    """Sorted ints with cheap insert, remove and "pop every key >= bound"."""

    __slots__ = ("_chunks", "_len", "_maxes")

    def __init__(self) -> None:
        self._chunks: list[list[int]] = []
        self._maxes: list[int] = []
        self._len = 0

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[int]:
        for chunk in self._chunks:
            yield from chunk

    def last(self) -> int | None:
        """The largest key, or None when empty."""
        return self._maxes[-1] if self._maxes else None

    def add(self, key: int) -> None:
        chunks, maxes = self._chunks, self._maxes
        self._len += 1
        if not maxes:
            chunks.append([key])
            maxes.append(key)
            return
        i = bisect_left(maxes, key)
        if i == len(maxes):
            i -= 1
            chunk = chunks[i]
            chunk.append(key)
            maxes[i] = key
        else:
            chunk = chunks[i]
            insort(chunk, key)
        if len(chunk) > 2 * LOAD:
            self._split(i)

    def update(self, keys: list[int]) -> None:
        """Add many keys: one by one when few, else one merge of sorted runs (O(n + m))."""
        if len(keys) * 16 < self._len:
            for key in keys:
                self.add(key)
        else:
            merged = list(self)
            merged += keys
            merged.sort()  # Timsort merges the two sorted runs in linear time
            self.replace(merged)

    def remove(self, key: int) -> None:
        """Remove one occurrence of `key`; KeyError when absent."""
        chunks, maxes = self._chunks, self._maxes
        i = bisect_left(maxes, key)
        if i == len(maxes):
            raise KeyError(key)
        chunk = chunks[i]
        j = bisect_left(chunk, key)
        if chunk[j] != key:
            raise KeyError(key)
        del chunk[j]
        self._len -= 1
        if not chunk:
            del chunks[i]
            del maxes[i]
        else:
            maxes[i] = chunk[-1]
            if len(chunk) < LOAD // 4:
                self._merge(i)

    def pop_from(self, bound: int) -> list[int]:
        """Remove and return every key >= `bound`, in ascending order."""
        chunks, maxes = self._chunks, self._maxes
        i = bisect_left(maxes, bound)
        if i == len(maxes):
            return []
        chunk = chunks[i]
        j = bisect_left(chunk, bound)
        taken = chunk[j:]
        for rest in chunks[i + 1 :]:
            taken += rest
        del chunks[i + 1 :]
        del maxes[i + 1 :]
        if j:
            del chunk[j:]
            maxes[i] = chunk[-1]
            if len(chunk) < LOAD // 4:
                self._merge(i)
        else:
            del chunks[i]
            del maxes[i]
        self._len -= len(taken)
        return taken

    def replace(self, keys: Iterable[int]) -> None:
        """Hold exactly `keys`, which must already be sorted."""
        keys = list(keys)
        self._chunks = [keys[i : i + LOAD] for i in range(0, len(keys), LOAD)]
        self._maxes = [chunk[-1] for chunk in self._chunks]
        self._len = len(keys)

    def _split(self, i: int) -> None:
        chunk = self._chunks[i]
        self._chunks.insert(i + 1, chunk[LOAD:])
        del chunk[LOAD:]
        self._maxes[i] = chunk[-1]
        self._maxes.insert(i + 1, self._chunks[i + 1][-1])

    def _merge(self, i: int) -> None:
        """Fold a chunk that has become small into a neighbour, so chunks stay O(n / LOAD)."""
        chunks, maxes = self._chunks, self._maxes
        if len(chunks) < 2:
            return
        if i == len(chunks) - 1:
            i -= 1
        chunks[i] += chunks[i + 1]
        del chunks[i + 1]
        del maxes[i + 1]
        maxes[i] = chunks[i][-1]
        if len(chunks[i]) > 2 * LOAD:
            self._split(i)

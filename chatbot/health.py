"""What went wrong in the background, kept for `/healthz`.

Background tasks (the alert sender, alert firing, reconciliation) have no user to answer; a
failure there must not vanish into "Task exception was never retrieved". Each part reports its
failures here under its own name and clears them when it works again; `/healthz` shows them.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Failure:
    error: str  # the exception's type name: never its text, which may hold user data
    at: float  # time.time() of the latest failure
    count: int  # failures since the part last worked


class HealthBoard:
    """The latest failure of each background part, by part name."""

    def __init__(self) -> None:
        self._failures: dict[str, Failure] = {}

    def failed(self, part: str, error: BaseException) -> None:
        """Record a failure of `part` (and log it with its traceback, once per failure)."""
        previous = self._failures.get(part)
        count = previous.count + 1 if previous else 1
        self._failures[part] = Failure(type(error).__name__, time.time(), count)
        log.error("background failure in %s (%d in a row)", part, count, exc_info=error)

    def recovered(self, part: str) -> None:
        if self._failures.pop(part, None) is not None:
            log.info("%s works again", part)

    def failures(self) -> dict[str, Failure]:
        return dict(self._failures)

"""The supervisor both streams' groups build on (chatbot/exchange/ws/supervisor.py): the
backoff between attempts, the renewal deadline, and what `stop()` closes."""

from __future__ import annotations

import asyncio
import time

import pytest

from chatbot.exchange.errors import ConnectionLost
from chatbot.exchange.ws.settings import StreamSettings
from chatbot.exchange.ws.supervisor import Supervisor


class FakeSocket:
    def __init__(self) -> None:
        self.opened_at = time.monotonic()
        self.closed = False

    async def close(self) -> None:
        self.closed = True


class ScriptedGroup(Supervisor[FakeSocket]):
    """Fails its first `failures` connects, then serves one socket until it is closed."""

    def __init__(self, failures: int) -> None:
        super().__init__(
            StreamSettings(url="ws://unused", renew_after=3600.0, backoff=(0.001, 0.002))
        )
        self.failures = failures
        self.attempts: list[int] = []  # the attempt number of each backoff waited
        self.socket: FakeSocket | None = None
        self.serving = asyncio.Event()

    def _delay(self, attempt: int, retry_after: float | None = None) -> float:
        self.attempts.append(attempt)
        return super()._delay(attempt, retry_after)

    async def _connect(self) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionLost("refused")
        self.socket = FakeSocket()
        self.deadline = await self._adopt(self.socket)

    async def _serve(self) -> None:
        self.serving.set()
        await asyncio.Event().wait()  # until stop() cancels the loop


async def test_each_failed_attempt_waits_a_longer_backoff_then_stop_closes_the_socket():
    group = ScriptedGroup(failures=3)
    group.start()
    async with asyncio.timeout(5):
        await group.serving.wait()
    socket = group.socket
    assert socket is not None and group.attempts == [0, 1, 2]
    assert group.deadline == pytest.approx(socket.opened_at + 3600.0)
    await group.stop()
    assert socket.closed


async def test_a_socket_opened_after_stop_is_closed_at_once():
    group = ScriptedGroup(failures=0)
    await group.stop()
    late = FakeSocket()
    with pytest.raises(ConnectionLost):
        await group._adopt(late)
    assert late.closed

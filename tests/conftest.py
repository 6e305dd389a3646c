"""Shared fixtures: the sandbox servers, in-process on 127.0.0.1, on ports the OS picks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from chatbot.sandbox.exchange import ExchangeSimulator

ExchangeFactory = Callable[..., Awaitable[ExchangeSimulator]]


@pytest.fixture
async def exchange_factory() -> AsyncIterator[ExchangeFactory]:
    """Start simulators with any `ExchangeSimulator` options; all are stopped after the test."""
    started: list[ExchangeSimulator] = []

    async def start(**options: Any) -> ExchangeSimulator:
        sim = ExchangeSimulator(**{"seed": 1, "random_walk": False, **options})
        await sim.start(host="127.0.0.1", port=0)
        started.append(sim)
        return sim

    try:
        yield start
    finally:
        for sim in started:
            await sim.stop()


@pytest.fixture
async def exchange(exchange_factory: ExchangeFactory) -> ExchangeSimulator:
    """A started Binance simulator: mainnet behaviour, seed 1, prices move only when told."""
    return await exchange_factory(network="mainnet")

"""The exchange simulator in its own process, driven over its `/_sandbox/` HTTP control API."""

from __future__ import annotations

import asyncio
import os
import sys
from decimal import Decimal
from types import TracebackType

import aiohttp


class SimulatorProcess:
    """`async with SimulatorProcess() as sim:` starts `python -m chatbot.sandbox.exchange`."""

    def __init__(self) -> None:
        self._process: asyncio.subprocess.Process | None = None
        self.rest_url = ""

    async def __aenter__(self) -> SimulatorProcess:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "chatbot.sandbox.exchange",
            "--port",
            "0",
            "--no-random-walk",
            "--weight-limit",
            "100000000",
            stdout=asyncio.subprocess.PIPE,
        )
        _pin(self._process.pid, server=True)
        assert self._process.stdout is not None
        while not self.rest_url:
            line = (await asyncio.wait_for(self._process.stdout.readline(), 30)).decode()
            if not line:
                raise RuntimeError("the simulator exited before printing its URL")
            if line.startswith("BINANCE_API_URL="):
                self.rest_url = line.strip().split("=", 1)[1]
        return self

    async def add_account(self, api_key: str, secret: str, balances: dict[str, Decimal]) -> None:
        body = {
            "apiKey": api_key,
            "secret": secret,
            "balances": {asset: str(amount) for asset, amount in balances.items()},
        }
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{self.rest_url}/_sandbox/accounts", json=body) as response,
        ):
            response.raise_for_status()

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            await self._process.wait()


def _pin(pid: int, *, server: bool) -> None:
    """On two or more cores, keep the server and the clients on different cores, so that the
    clients' CPU time is not inflated by sharing a core (and its caches) with the server."""
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cores) >= 2:
        os.sched_setaffinity(pid, {cores[-1]} if server else {cores[0]})


def pin_this_process() -> None:
    _pin(0, server=False)

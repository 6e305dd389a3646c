"""Several real bot processes on one PostgreSQL database behind one webhook, as an operator
scales out: the harness of tests/e2e/test_replicas.py.

In the test process run the exchange simulator and the Bot API emulator (the usual fixtures)
and a round-robin proxy standing in for the load balancer; each replica is `python -m chatbot
run` in a process of its own, with the environment of `bot_env`, CHATBOT_DB set to the test's
PostgreSQL database and CHATBOT_WEBHOOK_URL set to the proxy. The emulator posts each update to
the proxy, which hands it to the next replica in turn and records who took it.

The emulator posts one update at a time, as Telegram does within one chat. That does not make
the replicas take turns: a replica answers the webhook as soon as the update is queued, so 50
button presses reach the three processes within milliseconds and are handled side by side.

Replicas run this checkout's code (PYTHONPATH), not whatever copy of the package the virtual
environment installed, and read no `.env` (their working folder is the test's own).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp import web

from chatbot.sandbox.botapi import BotApiEmulator
from chatbot.sandbox.exchange import ExchangeSimulator
from tests.e2e.conftest import bot_env
from tests.e2e.helpers import free_port

REPO = Path(__file__).resolve().parents[2]
HOOK_PATH = "/telegram/hook"
START_TIMEOUT = 90.0  # seconds for three processes to import, migrate and serve, on a busy CI
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
LOG_TAIL = 60  # lines of each replica's log shown when a test fails

# Every replica's settings in these tests: anyone may talk to the bot, and the per-user rate
# limits stay out of the way of tests that press one button fifty times.
REPLICA_ENV = {
    "CHATBOT_ALLOWED_USERS": "*",
    "CHATBOT_COMMAND_LIMIT": "10000",
    "CHATBOT_BUTTON_LIMIT": "10000",
    "CHATBOT_HEALTH_INTERVAL": "0.5",
    "LOG_LEVEL": "INFO",
}


@dataclass(frozen=True)
class Delivery:
    """One update the proxy handed to a replica."""

    update_id: int
    user_id: int | None
    replica: int


class RoundRobinProxy:
    """The load balancer: each POST goes to the next replica's webhook, in turn. A replica that
    does not answer (killed) is skipped for the next one, as nginx's `proxy_next_upstream`
    does; Telegram then retries what none took."""

    def __init__(self, targets: list[str]) -> None:
        self.targets = targets
        self.deliveries: list[Delivery] = []
        self._next = 0
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{HOOK_PATH}"

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=10), trust_env=False
        )
        app = web.Application()
        app.router.add_post(HOOK_PATH, self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        self.port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {"Content-Type": "application/json"}
        if SECRET_HEADER in request.headers:
            headers[SECRET_HEADER] = request.headers[SECRET_HEADER]
        assert self._session is not None
        for _ in self.targets:
            index = self._next % len(self.targets)
            self._next += 1
            try:
                async with self._session.post(
                    self.targets[index], data=body, headers=headers
                ) as response:
                    text = await response.text()
            except (aiohttp.ClientError, TimeoutError):
                continue  # that replica is gone: the next one
            if response.status < 300:
                self._record(body, index)
            return web.Response(status=response.status, text=text)
        return web.Response(status=502, text="no replica answered")

    def _record(self, body: bytes, replica: int) -> None:
        update = json.loads(body)
        sender = next(
            (v.get("from", {}).get("id") for v in update.values() if isinstance(v, dict)), None
        )
        self.deliveries.append(Delivery(update["update_id"], sender, replica))


@dataclass
class Replica:
    """One bot process and everything it wrote to stderr (its log)."""

    index: int
    port: int
    process: asyncio.subprocess.Process
    log: list[str] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None

    @property
    def webhook(self) -> str:
        return f"http://127.0.0.1:{self.port}{HOOK_PATH}"

    @property
    def healthz(self) -> str:
        return f"http://127.0.0.1:{self.port}/healthz"

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    async def read_log(self) -> None:
        assert self.process.stderr is not None
        async for line in self.process.stderr:
            self.log.append(line.decode(errors="replace").rstrip("\n"))


class ReplicaSet:
    """`count` replicas of one bot on one PostgreSQL database, behind one round-robin proxy."""

    def __init__(
        self,
        api: BotApiEmulator,
        exchange: ExchangeSimulator,
        dsn: str,
        folder: Path,
        count: int = 3,
        **overrides: str,
    ) -> None:
        self.api = api
        self.exchange = exchange
        self.dsn = dsn
        self.folder = folder
        self.ports = [free_port() for _ in range(count)]
        self.proxy = RoundRobinProxy([f"http://127.0.0.1:{p}{HOOK_PATH}" for p in self.ports])
        self.overrides = overrides
        self.replicas: list[Replica] = []
        self.started_in = 0.0

    def environment(self, port: int) -> dict[str, str]:
        """`bot_env` on PostgreSQL, in webhook mode behind the proxy, on its own HTTP port."""
        settings = {
            **REPLICA_ENV,
            "CHATBOT_DB": self.dsn,
            "CHATBOT_WEBHOOK_URL": self.proxy.url,
            "CHATBOT_HTTP_HOST": "127.0.0.1",
            "CHATBOT_HTTP_PORT": str(port),
            **self.overrides,
        }
        return {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(REPO),
            **bot_env(self.api, self.exchange, Path(self.dsn), **settings),
        }

    async def start(self) -> None:
        """Start the proxy and every replica, and wait until each serves /healthz and the
        emulator holds the proxy's webhook."""
        began = time.monotonic()
        await self.proxy.start()
        for index, port in enumerate(self.ports):
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "chatbot", "run",
                env=self.environment(port), cwd=self.folder,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            replica = Replica(index, port, process)
            replica.reader = asyncio.create_task(replica.read_log())
            self.replicas.append(replica)
        try:
            async with asyncio.timeout(START_TIMEOUT):
                await asyncio.gather(*(self.serving(r) for r in self.replicas))
                await self.api.world.signal.wait_for(self._webhook_set, None, "setWebhook")
        except TimeoutError:
            raise AssertionError(f"the replicas did not all start:\n{self.logs()}") from None
        self.started_in = time.monotonic() - began

    def _webhook_set(self) -> bool | None:
        webhook = self.api.webhook
        return True if webhook is not None and webhook.url == self.proxy.url else None

    async def serving(self, replica: Replica) -> None:
        """Wait until `replica` answers /healthz (its webhook is served from then on: updates
        wait in its queue until the bot has started); fail at once if the process ends."""
        async with aiohttp.ClientSession(trust_env=False) as session:
            while True:
                if not replica.alive:
                    raise AssertionError(f"replica {replica.index} exited:\n{self.logs()}")
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(replica.healthz) as response:
                        if response.status == 200:
                            return
                await asyncio.sleep(0.1)

    async def kill(self, index: int, sig: signal.Signals = signal.SIGKILL) -> None:
        """Send `sig` to replica `index` and wait for the process to end."""
        replica = self.replicas[index]
        replica.process.send_signal(sig)
        await replica.process.wait()

    async def stop(self) -> None:
        """End every replica (SIGTERM, then SIGKILL after 10 s), then the proxy."""
        for replica in self.replicas:
            if replica.alive:
                with contextlib.suppress(ProcessLookupError):
                    replica.process.send_signal(signal.SIGTERM)
        for replica in self.replicas:
            try:
                await asyncio.wait_for(replica.process.wait(), 10)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    replica.process.kill()
                await replica.process.wait()
            if replica.reader is not None:
                await replica.reader
        await self.proxy.stop()

    def took(self, user_id: int) -> list[int]:
        """Which replica took each of this user's updates, in order."""
        return [d.replica for d in self.proxy.deliveries if d.user_id == user_id]

    def spread(self) -> dict[int, int]:
        """How many updates each replica took."""
        counts = {r.index: 0 for r in self.replicas}
        for delivery in self.proxy.deliveries:
            counts[delivery.replica] += 1
        return counts

    def logs(self) -> str:
        """The tail of every replica's log, for a failing test's report."""
        parts = []
        for replica in self.replicas:
            code = replica.process.returncode
            tail = "\n".join(replica.log[-LOG_TAIL:])
            parts.append(f"--- replica {replica.index} (exit {code}) ---\n{tail}")
        return "\n".join(parts)


@contextlib.asynccontextmanager
async def replica_set(
    api: BotApiEmulator,
    exchange: ExchangeSimulator,
    dsn: str,
    folder: Path,
    count: int = 3,
    **overrides: str,
) -> AsyncIterator[ReplicaSet]:
    """Started replicas for the block; always stopped after it, killed if they hang."""
    replicas = ReplicaSet(api, exchange, dsn, folder, count, **overrides)
    try:
        await replicas.start()
        yield replicas
    finally:
        await replicas.stop()

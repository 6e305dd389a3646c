"""Signed `GET /api/v3/account` calls against the exchange simulator, ours beside the peers.

The simulator runs in its own process so that its work does not land in this process's CPU
time; each contender's cost is `time.process_time()` here divided by the calls it made. On two
cores the server's cost dominates wall-clock rates, so CPU per call is the number that compares
the clients themselves.

Contenders:
- floor: plain aiohttp GET of a URL signed once (recvWindow 60 s) and `json.loads`, i.e. the
  same request and response with no per-call signing or parsing into types;
- binance-chatbot: `BinanceClient.account()` (signs each call, parses into Decimals);
- python-binance: `AsyncClient.get_account()`;
- ccxt: `binance.private_get_account()` (the raw call, without ccxt's balance unification).
"""

from __future__ import annotations

import asyncio
import gc
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal

import aiohttp
from pydantic import SecretStr
from yarl import URL

from benchmarks.simulator import SimulatorProcess, pin_this_process
from chatbot.exchange.client import BinanceClient
from chatbot.exchange.credentials import ApiCredentials
from chatbot.exchange.signing import HmacSigner, encode_params, signature_param
from chatbot.key_types import KeyType

API_KEY = "benchK3y" * 8
SECRET = "benchS3cret" * 5
BALANCES = {"USDT": "25000", "BTC": "0.5", "ETH": "4", "BNB": "10", "SOL": "30"}

Call = Callable[[], Awaitable[object]]


@dataclass
class Result:
    name: str
    seq_rate: float
    seq_cpu_us: float
    conc_rate: float
    conc_cpu_us: float


async def _measure(call: Call, calls: int, concurrency: int) -> tuple[float, float]:
    """Run `calls` calls, `concurrency` at a time; return (calls per second, CPU µs per call)."""
    gc.collect()
    queue = iter(range(calls))

    async def worker() -> None:
        for _ in queue:
            await call()

    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return calls / wall, cpu / calls * 1e6


async def _interleaved(calls: dict[str, Call], per_round: int, rounds: int) -> list[Result]:
    """Each round measures every contender once, so drift in machine load hits all alike;
    the medians over the rounds are reported."""
    for call in calls.values():
        for _ in range(50):
            await call()  # warm-up: connections open, caches filled
    seq: dict[str, list[tuple[float, float]]] = {name: [] for name in calls}
    conc: dict[str, list[tuple[float, float]]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            seq[name].append(await _measure(call, per_round, 1))
            conc[name].append(await _measure(call, per_round * 2, 50))
    return [
        Result(
            name,
            statistics.median(r for r, _ in seq[name]),
            statistics.median(c for _, c in seq[name]),
            statistics.median(r for r, _ in conc[name]),
            statistics.median(c for _, c in conc[name]),
        )
        for name in calls
    ]


async def _floor(rest_url: str) -> tuple[Call, Callable[[], Awaitable[None]]]:
    session = aiohttp.ClientSession()
    now = int(time.time() * 1000)
    query = encode_params([("omitZeroBalances", "true"), ("recvWindow", 60000), ("timestamp", now)])
    query += "&" + signature_param(HmacSigner(SecretStr(SECRET)).sign(query))
    url = URL(f"{rest_url}/api/v3/account?{query}", encoded=True)
    headers = {"X-MBX-APIKEY": API_KEY}

    async def call() -> object:
        async with session.get(url, headers=headers) as response:
            return json.loads(await response.read())

    return call, session.close


async def _ours(rest_url: str) -> tuple[Call, Callable[[], Awaitable[None]]]:
    client = BinanceClient(rest_url)
    # the weight budget adopts the limit exchangeInfo announces, as the bot does at start: the
    # simulator's is raised for the benchmark, and Binance's 6,000 a minute would end it
    await client.exchange_info()
    creds = ApiCredentials.create(API_KEY, SECRET, KeyType.HMAC)
    return (lambda: client.account(creds)), client.close


async def _python_binance(rest_url: str) -> tuple[Call, Callable[[], Awaitable[None]]]:
    from binance import AsyncClient

    client = AsyncClient(API_KEY, SECRET)
    client.API_URL = rest_url + "/api"
    return (lambda: client.get_account(omitZeroBalances="true")), client.close_connection


async def _ccxt(rest_url: str) -> tuple[Call, Callable[[], Awaitable[None]]]:
    import ccxt.async_support as ccxt

    exchange = ccxt.binance({"apiKey": API_KEY, "secret": SECRET, "enableRateLimit": False})
    for api in ("public", "private"):
        exchange.urls["api"][api] = rest_url + "/api/v3"
    params = {"omitZeroBalances": "true"}
    return (lambda: exchange.private_get_account(params)), exchange.close


CONTENDERS = {
    "plain aiohttp GET (floor)": _floor,
    "binance-chatbot": _ours,
    "python-binance AsyncClient": _python_binance,
    "ccxt async binance": _ccxt,
}


async def run(per_round: int = 500, rounds: int = 9) -> list[Result]:
    pin_this_process()
    async with SimulatorProcess() as sim:
        await sim.add_account(API_KEY, SECRET, {k: Decimal(v) for k, v in BALANCES.items()})
        calls: dict[str, Call] = {}
        closers: list[Callable[[], Awaitable[None]]] = []
        for name, factory in CONTENDERS.items():
            try:
                calls[name], close = await factory(sim.rest_url)
            except ImportError as exc:  # the peers are installed by `make bench` only
                print(f"skipping {name}: {exc}")
                continue
            closers.append(close)
        try:
            return await _interleaved(calls, per_round, rounds)
        finally:
            for close in closers:
                await close()


def table(results: list[Result]) -> str:
    floor = results[0]
    lines = [
        "| client | sequential calls/s | 50 in flight calls/s | CPU µs/call (seq) "
        "| CPU µs/call (50) | CPU vs floor (seq / 50) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        rel_seq = (r.seq_cpu_us / floor.seq_cpu_us - 1) * 100
        rel_conc = (r.conc_cpu_us / floor.conc_cpu_us - 1) * 100
        lines.append(
            f"| {r.name} | {r.seq_rate:,.0f} | {r.conc_rate:,.0f} | {r.seq_cpu_us:,.0f} "
            f"| {r.conc_cpu_us:,.0f} | {rel_seq:+.0f}% / {rel_conc:+.0f}% |"
        )
    return "\n".join(lines)

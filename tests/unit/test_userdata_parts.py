"""The pure parts of the user-data stream: event records, backoff, errors, per-user delivery,
and the connection handover, scripted on fake sockets so every interleaving is deterministic."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from chatbot.exchange.credentials import ApiCredentials
from chatbot.exchange.errors import AuthError, BinanceError, InvalidSignature, RateLimited
from chatbot.exchange.events import AccountPosition, BalanceChange, ExecutionReport
from chatbot.exchange.user_stream.delivery import UserQueues, event_key, parse_user_event
from chatbot.exchange.user_stream.group import SubscriptionGroup
from chatbot.exchange.user_stream.settings import UserStreamSettings
from chatbot.exchange.user_stream.socket import wsapi_error
from chatbot.exchange.ws.backoff import reconnect_delay
from chatbot.key_types import KeyType
from chatbot.sandbox.exchange.signatures import verify_hmac, ws_payload

# The documented executionReport sample (user-data-stream.md), a NEW limit order.
NEW_REPORT: dict[str, Any] = {
    "e": "executionReport",
    "E": 1499405658658,
    "s": "ETHBTC",
    "c": "mUvoqJxFIILMdfAW5iGSOW",
    "S": "BUY",
    "o": "LIMIT",
    "f": "GTC",
    "q": "1.00000000",
    "p": "0.10264410",
    "P": "0.00000000",
    "F": "0.00000000",
    "g": -1,
    "C": "",
    "x": "NEW",
    "X": "NEW",
    "r": "NONE",
    "i": 4293153,
    "l": "0.00000000",
    "z": "0.00000000",
    "L": "0.00000000",
    "n": "0",
    "N": None,
    "T": 1499405658657,
    "t": -1,
    "v": 3,
    "I": 8641984,
    "w": True,
    "m": False,
    "M": False,
    "O": 1499405658657,
    "Z": "0.00000000",
    "Y": "0.00000000",
    "Q": "0.00000000",
    "W": 1499405658657,
    "V": "NONE",
}
PARTIAL_FILL = NEW_REPORT | {
    "x": "TRADE",
    "X": "PARTIALLY_FILLED",
    "I": 8641985,
    "l": "0.40000000",
    "z": "0.60000000",
    "L": "0.10264410",
    "n": "0.00040000",
    "N": "ETH",
    "t": 12345,
    "m": True,
    "Z": "0.06100000",
}


def test_execution_report_reads_the_documented_fields():
    report = ExecutionReport.from_json(NEW_REPORT)
    assert (report.symbol, report.side, report.order_type, report.time_in_force) == (
        "ETHBTC",
        "BUY",
        "LIMIT",
        "GTC",
    )
    assert report.client_order_id == "mUvoqJxFIILMdfAW5iGSOW"
    assert report.orig_client_order_id is None  # "" unless the event is a cancel
    assert (report.execution_type, report.status, report.reject_reason) == ("NEW", "NEW", "NONE")
    assert (report.order_id, report.execution_id, report.trade_id) == (4293153, 8641984, -1)
    assert report.quantity == Decimal("1") and report.price == Decimal("0.10264410")
    assert report.commission == 0 and report.commission_asset is None
    assert report.transaction_time == 1499405658657 and report.event_time == 1499405658658
    assert report.average_price is None and not report.is_final and not report.is_maker


def test_execution_report_of_a_fill_has_its_average_price():
    report = ExecutionReport.from_json(PARTIAL_FILL)
    assert report.last_qty == Decimal("0.4") and report.cumulative_qty == Decimal("0.6")
    assert report.cumulative_quote == Decimal("0.061") and report.last_price == Decimal("0.1026441")
    assert report.average_price == Decimal("0.061") / Decimal("0.6")
    assert report.commission == Decimal("0.0004") and report.commission_asset == "ETH"
    assert report.is_maker and report.trade_id == 12345 and not report.is_final
    cancel = ExecutionReport.from_json(NEW_REPORT | {"x": "CANCELED", "X": "CANCELED", "C": "x1"})
    assert cancel.orig_client_order_id == "x1" and cancel.is_final


def test_balance_events_parse():
    position = parse_user_event(
        {
            "e": "outboundAccountPosition",
            "E": 1564034571105,
            "u": 1564034571073,
            "B": [{"a": "ETH", "f": "10000.000000", "l": "0.000000"}],
        }
    )
    assert isinstance(position, AccountPosition) and position.update_time == 1564034571073
    [eth] = position.balances
    assert (eth.asset, eth.free, eth.locked) == ("ETH", Decimal(10000), Decimal(0))
    change = parse_user_event(
        {"e": "balanceUpdate", "E": 1573200697110, "a": "BTC", "d": "-100.00000000", "T": 3}
    )
    assert change == BalanceChange("BTC", Decimal(-100), 3, 1573200697110)


def test_unused_and_malformed_events_are_skipped():
    assert isinstance(parse_user_event(NEW_REPORT), ExecutionReport)
    assert parse_user_event({"e": "listStatus", "E": 1}) is None
    assert parse_user_event({"e": "externalLockUpdate", "E": 1}) is None
    assert parse_user_event({"e": "executionReport", "E": 1, "s": "ETHBTC"}) is None
    assert parse_user_event(NEW_REPORT | {"q": "not a number"}) is None


def test_event_identity_for_deduplication():
    assert event_key(NEW_REPORT) == event_key(dict(NEW_REPORT))
    assert event_key(NEW_REPORT) != event_key(PARTIAL_FILL)  # same order, next execution
    deposit = {"e": "balanceUpdate", "E": 1, "a": "BTC", "d": "1.0", "T": 1}
    assert event_key(deposit) == event_key(dict(deposit))
    assert event_key(deposit) != event_key(deposit | {"d": "2.0"})


@pytest.mark.parametrize("attempt", range(8))
def test_reconnect_delay_grows_with_jitter_up_to_the_cap(attempt):
    ceiling = min(30.0, 0.5 * 2**attempt)
    low = reconnect_delay(attempt, 0.5, 30.0, rng=lambda a, b: a)
    high = reconnect_delay(attempt, 0.5, 30.0, rng=lambda a, b: b)
    assert (low, high) == (ceiling / 2, ceiling)
    assert low <= reconnect_delay(attempt, 0.5, 30.0) <= high


def test_reconnect_delay_respects_binance_retry_after():
    assert reconnect_delay(0, 0.5, 30.0, retry_after=120.0) == 120.0
    assert reconnect_delay(10_000, 0.5, 30.0, rng=lambda a, b: b) == 30.0


def test_websocket_api_errors_map_to_the_hierarchy():
    assert type(wsapi_error({"code": -2015, "msg": "Invalid API-key"}, 401)) is AuthError
    bad_signature = wsapi_error({"code": -1022, "msg": "Signature ... not valid."}, 400)
    assert isinstance(bad_signature, InvalidSignature) and bad_signature.status == 400
    limited = wsapi_error(
        {
            "code": -1003,
            "msg": "Way too much request weight used; IP banned until 1659146400000.",
            "data": {"serverTime": 1659142907531, "retryAfter": 1659146400000},
        },
        418,
    )
    assert isinstance(limited, RateLimited) and limited.retry_after == pytest.approx(3492.469)


# -- per-user delivery -----------------------------------------------------------------------


async def test_each_users_callbacks_run_in_order_without_waiting_for_others():
    queues, seen = UserQueues(), []
    slow_gate = asyncio.Event()

    def job(user: int, n: int, gate: asyncio.Event | None = None) -> Callable[[], Any]:
        async def run() -> None:
            if gate is not None:
                await gate.wait()
            seen.append((user, n))

        return run

    queues.push(1, job(1, 1, slow_gate))
    queues.push(1, job(1, 2))
    queues.push(2, job(2, 1))
    for _ in range(5):
        await asyncio.sleep(0)
    assert seen == [(2, 1)]  # user 2 is not held up by user 1's slow callback
    slow_gate.set()
    for _ in range(5):
        await asyncio.sleep(0)
    assert seen == [(2, 1), (1, 1), (1, 2)]
    await queues.close()


async def test_a_failing_callback_does_not_stop_later_ones_and_discard_drops_queued():
    queues, seen = UserQueues(), []

    async def boom() -> None:
        raise RuntimeError("consumer bug")

    async def ok() -> None:
        seen.append("ok")

    queues.push(1, boom)
    queues.push(1, ok)
    queues.push(2, ok)
    queues.discard(2)
    for _ in range(5):
        await asyncio.sleep(0)
    assert seen == ["ok"]
    await queues.close()


# -- the group's handover, on scripted sockets ------------------------------------------------


class FakeSocket:
    """A WebSocket API socket as the group sees it. FIFO like a real one: while `paused`,
    events wait in a backlog that a later request's answer must follow."""

    def __init__(self, server: FakeServer, on_event, on_closed) -> None:
        self.server, self.on_event, self.on_closed = server, on_event, on_closed
        self.opened_at = time.monotonic()
        self.closed = False
        self.paused = False
        self.backlog: list[tuple[int, dict[str, Any]]] = []
        self.subscriptions: dict[int, str] = {}
        self._ids = itertools.count()

    def push(self, subscription_id: int, event: dict[str, Any]) -> None:
        if self.paused:
            self.backlog.append((subscription_id, event))
        else:
            self.on_event(subscription_id, event)

    async def request(self, method, params=None, *, on_result=None):
        await asyncio.sleep(0)
        if self.closed:
            from chatbot.exchange.user_stream.socket import WsApiDisconnected

            raise WsApiDisconnected()
        for subscription_id, event in self.backlog:  # the answer comes after them
            self.on_event(subscription_id, event)
        self.backlog.clear()
        result = self.server.answer(self, method, params or {})
        if on_result is not None:
            on_result(result)
        self.server.after(self, method)
        return result

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.on_closed()


class FakeServer:
    """Accounts' events fanned out to every subscription of the key, like Binance."""

    def __init__(self, refused: set[str] = frozenset()) -> None:
        self.sockets: list[FakeSocket] = []
        self.refused = refused
        self.subscribe_calls: list[str] = []
        self.subscribe_params: list[dict[str, Any]] = []
        self.hooks: dict[tuple[int, str], Callable[[], None]] = {}

    async def open(self, on_event, on_closed) -> FakeSocket:
        socket = FakeSocket(self, on_event, on_closed)
        self.sockets.append(socket)
        return socket

    def answer(self, socket: FakeSocket, method: str, params: dict[str, Any]) -> Any:
        if method == "userDataStream.subscribe.signature":
            self.subscribe_calls.append(params["apiKey"])
            self.subscribe_params.append(params)
            if params["apiKey"] in self.refused:
                raise AuthError(code=-2015)
            subscription_id = next(socket._ids)
            socket.subscriptions[subscription_id] = params["apiKey"]
            return {"subscriptionId": subscription_id}
        if "subscriptionId" in params:
            socket.subscriptions.pop(params["subscriptionId"], None)
        else:
            socket.subscriptions.clear()
        return {}

    def after(self, socket: FakeSocket, method: str) -> None:
        hook = self.hooks.pop((self.sockets.index(socket), method), None)
        if hook is not None:
            hook()

    def publish(self, api_key: str, event: dict[str, Any]) -> None:
        for socket in self.sockets:
            for subscription_id, key in list(socket.subscriptions.items()):
                if key == api_key:
                    socket.push(subscription_id, event)


KEY = "K" * 64


SECRET = "secret" * 8


def credentials(key: str = KEY) -> ApiCredentials:
    return ApiCredentials.create(key, SECRET, KeyType.HMAC)


class Outcome:
    def __init__(self) -> None:
        self.delivered: list[tuple[int, dict[str, Any]]] = []
        self.refused: list[tuple[int, BinanceError]] = []
        self.resyncs: list[list[int]] = []


@pytest.fixture
async def group_on(request):
    groups: list[SubscriptionGroup] = []

    def build(server: FakeServer, outcome: Outcome, **options: Any) -> SubscriptionGroup:
        group = SubscriptionGroup(
            open_socket=server.open,
            timestamp=options.get("timestamp", lambda: 1_700_000_000_000),
            deliver=lambda user, event: outcome.delivered.append((user, event)),
            refused=lambda user, error: outcome.refused.append((user, error)),
            resync=outcome.resyncs.append,
            settings=UserStreamSettings(
                url="ws://unused",
                users_per_socket=10,
                renew_after=options.get("renew_after", 3600.0),
                backoff=(0.001, 0.01),
                subscription_ids=options.get("subscription_ids", 65_535),
            ),
        )
        group.start()
        groups.append(group)
        return group

    yield build
    for group in groups:
        await group.stop()


async def eventually(condition: Callable[[], bool]) -> None:
    """Wait for the group's synchronous callbacks to have recorded something."""
    async with asyncio.timeout(5.0):
        while not condition():  # noqa: ASYNC110 (the callbacks under test are synchronous)
            await asyncio.sleep(0.001)


def deposit(n: int) -> dict[str, Any]:
    return {"e": "balanceUpdate", "E": n, "a": "USDT", "d": str(n), "T": n}


async def test_handover_keeps_order_and_drops_the_second_copy(group_on):
    server, outcome = FakeServer(), Outcome()
    group = group_on(server, outcome)
    assert await group.add(1, credentials()) is True
    old = server.sockets[0]

    # The old socket lags: event 1 (before the new socket subscribed) is still in its backlog
    # when the new socket, subscribed, delivers event 2 at once. Event 3 happens after the old
    # subscription ended, so only the new socket has it.
    old.paused = True
    server.publish(KEY, deposit(1))
    server.hooks[(1, "userDataStream.subscribe.signature")] = lambda: server.publish(
        KEY, deposit(2)
    )
    server.hooks[(0, "userDataStream.unsubscribe")] = lambda: server.publish(KEY, deposit(3))
    old.on_event(None, {"e": "serverShutdown", "E": 1})

    await eventually(lambda: len(outcome.delivered) >= 3 and old.closed)
    assert [event["E"] for _, event in outcome.delivered] == [1, 2, 3]
    assert group.renewals == 1 and group.connected
    assert outcome.resyncs == []  # nothing was missed, so nothing is re-read


async def test_a_refused_key_is_reported_once_and_not_retried(group_on):
    server, outcome = FakeServer(refused={"R" * 64}), Outcome()
    group = group_on(server, outcome)
    assert await group.add(1, credentials()) is True
    assert await group.add(2, credentials("R" * 64)) is False
    for reconnects in range(1, 4):
        await server.sockets[-1].close()
        await eventually(lambda n=reconnects: len(outcome.resyncs) == n)
    assert [user for user, _ in outcome.refused] == [2]
    assert server.subscribe_calls.count("R" * 64) == 1
    assert outcome.resyncs == [[1], [1], [1]]


async def test_events_of_removed_users_are_dropped(group_on):
    server, outcome = FakeServer(), Outcome()
    group = group_on(server, outcome)
    await group.add(1, credentials())
    group.remove(1)
    server.publish(KEY, deposit(1))
    await eventually(lambda: not server.sockets[0].subscriptions)  # unsubscribed, too
    assert outcome.delivered == []


async def test_every_subscribe_is_signed_afresh(group_on):
    server, outcome, clock = FakeServer(), Outcome(), itertools.count(1_700_000_000_000, 1000)
    group = group_on(server, outcome, timestamp=lambda: next(clock))
    await group.add(1, credentials())
    await server.sockets[0].close()
    await eventually(lambda: outcome.resyncs == [[1]])

    first, second = server.subscribe_params
    assert first["timestamp"] != second["timestamp"]
    for params in (first, second):
        assert set(params) == {"apiKey", "timestamp", "signature"}
        assert verify_hmac(SECRET, ws_payload(params), params["signature"])


async def test_a_socket_is_renewed_while_ids_for_a_full_group_are_left(group_on):
    server, outcome = FakeServer(), Outcome()
    group = group_on(server, outcome, subscription_ids=25)  # capacity 10
    assert await group.add(1, credentials()) is True
    for round_ in range(30):  # another user comes and goes: an id each time
        assert await group.add(2, credentials("B" * 64)) is True
        server.publish(KEY, deposit(round_))
        group.remove(2)
        await eventually(lambda: "B" * 64 not in server.sockets[-1].subscriptions.values())

    ids_handed_out = [next(socket._ids) for socket in server.sockets]
    assert ids_handed_out[:2] == [15, 15]  # renewed with 10 ids left: room for a full group
    assert all(n <= 15 for n in ids_handed_out) and group.renewals == len(server.sockets) - 1
    await eventually(lambda: len(outcome.delivered) == 30)
    assert [event["E"] for _, event in outcome.delivered] == list(range(30))
    assert outcome.resyncs == [] and outcome.refused == []

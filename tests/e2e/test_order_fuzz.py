"""Random commands and button presses from several users against the real bot, between the
Bot API emulator and the exchange simulator: users press their own buttons and, with the same
data, other users' (a forged or copied callback), some twice at once. Nothing fails inside the
bot, every message and press is answered, and every order on the exchange was confirmed by a
press of its owner on that very ticket."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import hypothesis
import pytest
from hypothesis import HealthCheck, given
from hypothesis import strategies as st

from chatbot.config import Settings
from tests.e2e import fuzz_harness as harness
from tests.e2e.conftest import SettingsFactory
from tests.e2e.fuzz_harness import GENERIC, MESSAGES, ORDERS, TRADERS, failures, press

traders, handled = harness.traders, harness.handled  # its fixtures, by name for pytest

PLAYERS = 4  # few enough that their buttons are often pressed by one another
ORDER_TEXTS = st.sampled_from(
    ["/buy BTCUSDT 0.001", "/sell BTCUSDT 0.001", "/buy BTC $20", "/buy BTCUSDT 0.001 @ 50000",
     "/sell ETHUSDT 0.01", "/cancelall BTCUSDT", "/alert BTC < 59000", "/orders"]
)  # fmt: skip
WHO = st.integers(0, PLAYERS - 1)
ACTIONS = st.one_of(
    st.tuples(st.just("send"), WHO, st.one_of(ORDER_TEXTS, ORDER_TEXTS, ORDERS, MESSAGES)),
    st.tuples(st.just("press"), WHO, st.integers(0, 10_000)),  # the n-th button seen (mod)
    st.tuples(st.just("double"), WHO, st.integers(0, 10_000)),  # pressed twice at once
)


@pytest.fixture
def settings(settings_factory: SettingsFactory) -> Settings:
    # The per-user limits answer "Too many" fast, which would leave most presses untried.
    return settings_factory(
        CHATBOT_ALLOWED_USERS="*", CHATBOT_COMMAND_LIMIT="10000", CHATBOT_BUTTON_LIMIT="10000"
    )


@dataclass
class Ledger:
    """Every button the bot showed (whose chat it was in) and every Confirm pressed (by whom)."""

    buttons: list[tuple[int, object, str]] = field(default_factory=list)
    seen: set[tuple[int, int, str]] = field(default_factory=set)
    owner: dict[str, int] = field(default_factory=dict)  # ticket id -> the user it was shown to
    confirmed: set[tuple[int, str]] = field(default_factory=set)  # (presser, ticket id)

    def collect(self, players) -> None:
        for index, (conv, _) in enumerate(players):
            for message in conv.messages:
                for row in message.buttons if message.from_bot else []:
                    for button in row:
                        self._add(index, conv, message, button.callback_data)

    def _add(self, index: int, conv, message, data: str | None) -> None:
        key = (conv.chat.id, message.message_id, data or "")
        if data is None or key in self.seen or data.startswith("delkey:yes"):
            return  # the players keep their keys
        self.seen.add(key)
        self.buttons.append((index, message, data))
        if data.startswith(("t:c:", "t:x:")):
            self.owner.setdefault(data[4:], conv.user.id)


@pytest.fixture
def ledger() -> Ledger:
    return Ledger()


@hypothesis.settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(program=st.lists(ACTIONS, min_size=1, max_size=6))
async def test_no_order_without_its_owners_confirm(
    api, exchange, traders, handled, ledger, caplog, program
):
    players = traders[:PLAYERS]
    answers: list[str] = []
    for kind, who, arg in program:
        conv, under = players[who]
        if kind == "send":
            sent = await conv.send(arg)
            answers.append((await conv.reply(timeout=20)).text)
            await handled.wait((sent.chat_id, sent.message_id))
        elif ledger.buttons:
            owner, message, data = ledger.buttons[arg % len(ledger.buttons)]
            if data.startswith("t:c:"):
                ledger.confirmed.add((conv.user.id, data[4:]))
            # the owner presses under the message itself; anyone else, the same data at home
            shown = message if owner == who else under
            times = 2 if kind == "double" else 1
            answers += await asyncio.gather(
                *(press(api, conv, handled, shown, data) for _ in range(times))
            )
        ledger.collect(players)
    assert not [a for a in answers if GENERIC in a], (program, answers)
    assert not failures(caplog.records), (program, failures(caplog.records))
    for index in range(TRADERS):
        key = f"FuzzKey{index:02d}".ljust(64, "k")
        user_id = 3000 + index
        for order in exchange.orders_for(key):
            ticket = order.client_order_id
            assert ledger.owner.get(ticket) == user_id, (program, order)
            assert (user_id, ticket) in ledger.confirmed, (program, order)

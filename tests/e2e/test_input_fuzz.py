"""Random text and random button data against the real bot, between the Bot API emulator and
the exchange simulator: every message gets a reply, every press an answer, and none of them is
the generic "Something went wrong" (nor does any handler fail after replying)."""

from __future__ import annotations

import itertools

import hypothesis
import pytest
from hypothesis import HealthCheck, given
from hypothesis import strategies as st

from chatbot.config import Settings
from tests.e2e import fuzz_harness as harness
from tests.e2e.conftest import SettingsFactory
from tests.e2e.fuzz_harness import (
    GENERIC,
    MESSAGES,
    TOKENS,
    TRADERS,
    failures,
    press,
)

PREFIXES = ["t:c:", "t:x:", "t:m:", "a:", "a:again:", "a:trade:", "delkey:yes:", "delkey:no:",
            "chart:"]  # fmt: skip
BUTTON_DATA = st.one_of(
    st.builds(
        str.__add__,
        st.sampled_from(PREFIXES),
        st.one_of(TOKENS, st.from_regex(r"\A[0-9]{1,25}\Z"), st.just("")),
    ),
    st.text(min_size=1, max_size=64),
).filter(lambda data: 0 < len(data.encode()) <= 64)  # Telegram's limit for callback data
STEPS = st.one_of(
    st.tuples(st.just("send"), MESSAGES, st.booleans()),  # and press the reply's buttons?
    st.tuples(st.just("press"), BUTTON_DATA, st.just(False)),
)


traders, handled = harness.traders, harness.handled  # its fixtures, by name for pytest


@pytest.fixture
def settings(settings_factory: SettingsFactory) -> Settings:
    return settings_factory(CHATBOT_ALLOWED_USERS="*")


@pytest.fixture
def turns() -> itertools.count[int]:
    return itertools.count()


@hypothesis.settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(step=STEPS)
async def test_no_input_gets_the_generic_error(api, traders, handled, turns, caplog, step):
    conv, under = traders[next(turns) % TRADERS]
    kind, text, press_buttons = step
    if kind == "send":
        sent = await conv.send(text)
        reply = await conv.reply(timeout=20)
        await handled.wait((sent.chat_id, sent.message_id))
        answers = [reply.text]
        if press_buttons:
            answers += [await press(api, conv, handled, reply, data) for data in buttons(reply)]
    else:
        answers = [await press(api, conv, handled, under, text)]
    assert not [a for a in answers if GENERIC in a], (step, answers)
    assert not failures(caplog.records), (step, failures(caplog.records))
    assert not [m.text for m in conv.messages if m.from_bot and GENERIC in m.text], step


def buttons(message) -> list[str]:
    """The data of a message's buttons, but "Delete key": the traders keep their keys."""
    data = [b.callback_data for row in message.buttons for b in row if b.callback_data]
    return [d for d in data if not d.startswith("delkey:yes")]

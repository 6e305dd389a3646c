"""Odd input, through the real bot between the Bot API emulator and the exchange simulator:
digits from other scripts, numbers too long for Binance, alerts that could never fire, button
data a modified client forged. Each gets a short, specific answer and changes nothing; none
reaches "Something went wrong"."""

from __future__ import annotations

import pytest

from chatbot.sandbox.botapi.models import Button
from tests.e2e.conftest import ALICE_KEY, ask
from tests.e2e.helpers import orders_at_exchange

GENERIC = "Something went wrong"
STALE = "This button is no longer active."
NO_ALERTS = "You have no alerts"


def forge(api, conv, message, data: str) -> str:
    """Press a button carrying `data` under `message`, a button the bot never sent: what a
    modified client can do. Returns the callback query id."""
    log = api.world.chat_log(conv.chat.id)
    return api.world.press(log, conv.user, message, Button("forged", data))


async def refused(conv, command: str, expected: str) -> None:
    reply = await ask(conv, command)
    assert expected in reply.text, (command, reply.text)
    assert GENERIC not in reply.text and not reply.buttons, (command, reply.text)


# --- digits other than 0-9 ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        "/cancel ²",
        "/unalert ①",
        "/cancel １２",
        "/unalert ١٢",
        "/buy BTC １２",
        "/sell BTCUSDT ０.００１",
        "/buy BTC 0.001 @ ６５０００",
        "/buy BTC $１００",
        "/alert BTC > ７００００",
        "/alert BTC +５%",
    ],
)
async def test_digits_other_than_0_to_9_are_refused(alice_with_key, exchange, command):
    await refused(alice_with_key, command, "has digits I cannot read: type numbers with the digits")
    assert NO_ALERTS in (await ask(alice_with_key, "/alerts")).text
    assert orders_at_exchange(exchange) == []


# --- numbers too long for Binance ---------------------------------------------------------------


async def test_numbers_too_long_are_refused_before_anything_is_stored(alice_with_key, exchange):
    cases = {
        "/buy BTC " + "1" * 41: "too large: Binance takes an amount of at most 92,233,720,368",
        "/buy BTC 0.001 @ " + "1" * 33: "too large: Binance takes a price of at most",
        "/alert BTC > " + "1" * 37: "too large: Binance takes a price of at most",
        "/alert BTC +1" + "0" * 30 + "%": "is more than any price on Binance can move",
        "/alert BTC +1000000000000000000%": "could never fire: BTCUSDT cannot trade above",
        "/cancel " + "9" * 23: "is not an order id. Example: /cancel 123456",
        "/cancel 9223372036854775808": "is not an order id",
        "/unalert " + "9" * 23: "is not an alert id. Example: /unalert 12",
    }
    for command, expected in cases.items():
        await refused(alice_with_key, command, expected)
    assert NO_ALERTS in (await ask(alice_with_key, "/alerts")).text
    assert orders_at_exchange(exchange) == []


# --- alerts that could never fire ---------------------------------------------------------------


async def test_alerts_that_could_never_fire_are_refused_with_the_reason(alice):
    below = "could never fire: BTCUSDT cannot trade below 0.01 on Binance"
    cases = {
        "/alert BTC -99.9999999%": below,
        "/alert BTC -99.99999999999999999%": below,
        "/alert BTC < 0.005": below,
        "/alert BTC < 0.000000001": below,
        "/alert BTC > 1000000.01": "could never fire: BTCUSDT cannot trade above 1,000,000",
    }
    for command, expected in cases.items():
        await refused(alice, command, expected)
    assert NO_ALERTS in (await ask(alice, "/alerts")).text
    for level in ("< 0.01", "> 1000000"):  # the edges themselves can be reached
        assert "Alert #" in (await ask(alice, f"/alert BTC {level}")).text


# --- forged button data -------------------------------------------------------------------------


async def test_forged_button_data_is_answered_and_changes_nothing(alice_with_key, api, exchange):
    preview = await ask(alice_with_key, "/buy BTC 0.001")
    assert "Preview" in preview.text
    forged = [
        "delkey:yes",
        "delkey:yes:abc",
        "delkey:yes:1002:x",
        "delkey:yes:1001\n",
        "delkey:yes:１００１",
        "a:again:" + "9" * 23,
        "a:trade:",
        "t:c:",
        "t:c:" + "x" * 40,
        "t:c:a b",
        "t:m:",
        "t:m:../../",
        "chart:",
        "chart:btc",
        "nothing",
    ]
    for data in forged:
        answer = await alice_with_key.answer(forge(api, alice_with_key, preview, data))
        assert answer.text == STALE, (data, answer)
    assert orders_at_exchange(exchange) == []
    assert ALICE_KEY[:4] in (await ask(alice_with_key, "/keyinfo")).text
    assert NO_ALERTS in (await ask(alice_with_key, "/alerts")).text


async def test_well_formed_but_unknown_button_data_gets_a_specific_answer(alice, api):
    help_message = await ask(alice, "/help")
    cases = {
        "t:c:t0000000000000000000": "This preview no longer exists",
        "t:x:t0000000000000000000": "This preview no longer exists",
        "t:m:t0000000000000000000": "This preview no longer exists",
        "delkey:yes:1002": "This is not your key.",
        # "Set again" answers after the service, so its refusal is the press's answer
        "a:again:999999": "This alert is not yours, or no longer exists.",
    }
    for data, expected in cases.items():
        answer = await alice.answer(forge(api, alice, help_message, data))
        assert expected in (answer.text or ""), (data, answer)
    # answered at once, then refused: the refusal comes as a message
    for data, expected in {
        "chart:BTCUSDX": "Unknown symbol BTCUSDX",
    }.items():
        await alice.answer(forge(api, alice, help_message, data))
        reply = await alice.reply()
        assert expected in reply.text and GENERIC not in reply.text, (data, reply.text)

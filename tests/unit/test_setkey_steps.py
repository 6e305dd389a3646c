"""The /setkey step as stored, on each engine: sealed, taken once, expired by the clock."""

import asyncio
import base64

import pytest
from pydantic import SecretStr

from chatbot.storage.conversations import (
    LATE_ANSWERS,
    TIMEOUT,
    SetkeyConversations,
    SetkeyStep,
    Waiting,
)
from chatbot.storage.vault import CredentialVault, VaultError

MASTER = base64.urlsafe_b64decode("Y2hhdGJvdC10ZXN0LW1hc3Rlci1rZXktMzItYnl0ZXM=")
API_KEY = "pending-api-key-of-user-one"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def steps(database, clock) -> SetkeyConversations:
    return SetkeyConversations(database, CredentialVault(database, MASTER), clock=clock)


async def test_the_steps_in_order(steps):
    assert await steps.waiting(1) is None
    await steps.ask_api_key(1)
    assert await steps.waiting(1) == Waiting(SetkeyStep.API_KEY, expired=False)
    assert await steps.take_api_key(1) is None  # no key yet: the secret is not awaited
    await steps.ask_secret(1, SecretStr(API_KEY))
    assert await steps.waiting(1) == Waiting(SetkeyStep.SECRET, expired=False)
    assert (await steps.take_api_key(1)).get_secret_value() == API_KEY
    assert await steps.waiting(1) is None and await steps.take_api_key(1) is None


async def test_the_pending_key_is_sealed_and_bound_to_its_user(steps, database):
    await steps.ask_secret(1, SecretStr(API_KEY))
    row = await database.fetch_one("SELECT * FROM setkey_steps WHERE user_id = 1")
    assert API_KEY.encode() not in bytes(row["sealed"])
    await database.execute("UPDATE setkey_steps SET user_id = 2 WHERE user_id = 1")  # copied
    with pytest.raises(VaultError):
        await steps.take_api_key(2)


async def test_a_step_expires_by_the_clock_and_is_then_not_taken(steps, clock):
    await steps.ask_secret(1, SecretStr(API_KEY))
    clock.now += TIMEOUT
    assert await steps.waiting(1) == Waiting(SetkeyStep.SECRET, expired=True)
    assert await steps.take_api_key(1) is None
    assert not await steps.end(1)  # nothing was waiting in time (a /cancel is the orders')
    assert await steps.waiting(1) is None


async def test_long_after_the_expiry_a_message_is_no_late_answer(steps, clock):
    await steps.ask_api_key(1)
    clock.now += TIMEOUT + LATE_ANSWERS
    assert await steps.waiting(1) is None
    await steps.ask_api_key(2)  # a /setkey sweeps what no late answer can reach
    assert await steps.end(2) and not await steps.end(1)


async def test_fifty_secrets_at_once_take_the_key_once(steps):
    await steps.ask_secret(1, SecretStr(API_KEY))
    taken = await asyncio.gather(*(steps.take_api_key(1) for _ in range(50)))
    assert [t.get_secret_value() for t in taken if t is not None] == [API_KEY]


async def test_cancel_ends_only_its_users_conversation(steps):
    await steps.ask_api_key(1)
    await steps.ask_api_key(2)
    assert await steps.end(1) and not await steps.end(1)
    assert await steps.waiting(2) == Waiting(SetkeyStep.API_KEY, expired=False)

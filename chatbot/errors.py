"""Errors whose message is meant for the user who typed the command.

Every error a user may see derives from `UserFacingError` and carries its `user_message`: the
services' and handlers' `UserError` (a short text that says what was wrong and what to type
instead), the exchange's `BinanceError`, the order rules' `OrderRuleViolation`, the signing
code's `KeyFormatError`, the vault's `VaultError`. One error handler (`handlers/common.py`)
turns any of them into a chat reply. Anything else that escapes a handler is a bug: the user
gets an apology with a reference id, the log the traceback.

This module imports nothing of the project, so every layer may import it. A `user_message`
never holds a key or a secret.
"""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


class UserFacingError(Exception):
    """An error with a text fit for the chat. `message` is the exception's own text (what the
    log shows); `user_message` is what the user is told, the same unless a subclass words it
    for the chat (the vault's errors name things an operator needs and a user does not)."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)

    @property
    def user_message(self) -> str:
        return self.message


class UserError(UserFacingError):
    """A refusal to show to the user as it is."""


class InvariantError(RuntimeError):
    """A state the code holds impossible was reached: a bug, reported as one by the error
    handler. Unlike `assert`, the check stays when Python runs with -O."""


def present(value: T | None, what: str) -> T:
    """`value`, which the caller knows is set here; a bug (InvariantError) when it is not."""
    if value is None:
        raise InvariantError(f"{what} is missing")
    return value

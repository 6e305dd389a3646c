"""Errors whose message is meant for the user who typed the command.

Handlers and services raise a `UserError` subclass with a short text that says what was wrong
and what to type instead; one error handler turns it into a chat reply. Anything else that
escapes a handler is a bug: the user gets an apology with a reference id, the log the traceback.
"""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


class UserError(Exception):
    """A refusal to show to the user as it is."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)

    @property
    def user_message(self) -> str:
        return self.message


class InvariantError(RuntimeError):
    """A state the code holds impossible was reached: a bug, reported as one by the error
    handler. Unlike `assert`, the check stays when Python runs with -O."""


def present(value: T | None, what: str) -> T:
    """`value`, which the caller knows is set here; a bug (InvariantError) when it is not."""
    if value is None:
        raise InvariantError(f"{what} is missing")
    return value

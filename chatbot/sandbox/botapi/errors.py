"""Bot API errors worded as Telegram words them: an HTTP status, a description, parameters.

python-telegram-bot picks its exception from the HTTP status (400 `BadRequest`, 401/404
`InvalidToken`, 403 `Forbidden`, 409 `Conflict`) and raises `RetryAfter` whenever the body
carries `parameters.retry_after`, so both must be right for the bot's error paths to be tested.
"""

from __future__ import annotations

from typing import Any

DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running",
    500: "Internal Server Error",
    502: "Bad Gateway",
}
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"


class ApiError(Exception):
    """A failed call: raised by a method, answered as `{"ok": false, ...}` with its status."""

    def __init__(
        self, error_code: int, description: str, *, retry_after: int | None = None
    ) -> None:
        super().__init__(f"{error_code} {description}")
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after

    def to_json(self) -> dict[str, Any]:
        """The response body, exactly as Telegram shapes it."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(detail: str) -> ApiError:
    """400 "Bad Request: <detail>"."""
    return ApiError(400, f"Bad Request: {detail}")


def forbidden(detail: str) -> ApiError:
    """403 "Forbidden: <detail>" (blocked by the user, kicked from the group...)."""
    return ApiError(403, f"Forbidden: {detail}")


def conflict(detail: str) -> ApiError:
    """409 "Conflict: <detail>" (two pollers, or polling while a webhook is set)."""
    return ApiError(409, f"Conflict: {detail}")


def too_many_requests(retry_after: int) -> ApiError:
    """429 with `parameters.retry_after`, which PTB turns into `RetryAfter`."""
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)


def unauthorized() -> ApiError:
    """401: a well-formed token that is not this bot's."""
    return ApiError(401, "Unauthorized")


def not_found() -> ApiError:
    """404: an unknown method, a malformed token or a missing file."""
    return ApiError(404, "Not Found")


def injected(error_code: int, description: str | None, retry_after: int | None) -> ApiError:
    """The error a test asked for, with Telegram's usual wording when it gave none."""
    if error_code == 429:
        seconds = 1 if retry_after is None else retry_after
        error = too_many_requests(seconds)
        if description is not None:
            error.description = description
        return error
    text = description or DEFAULT_DESCRIPTIONS.get(error_code, "Internal Server Error")
    return ApiError(error_code, text, retry_after=retry_after)

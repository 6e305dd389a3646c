"""Binance errors as one exception hierarchy a caller can match on.

Each exception carries Binance's numeric code (when there is one) and a message fit to show a
user in the chat. Messages never contain an API key, a secret or a signature.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from chatbot.errors import UserFacingError


class BinanceError(UserFacingError):
    """Any failure talking to Binance. `code` is Binance's error code, or None."""

    default_message = "Binance could not process the request."

    def __init__(
        self, message: str | None = None, *, code: int | None = None, status: int | None = None
    ) -> None:
        self.code = code
        self.status = status
        super().__init__(message or self.default_message)


class ExchangeUnavailable(BinanceError):
    """Binance did not answer, or answered with a server error; safe to try a read again later."""

    default_message = "Binance is not answering right now; try again in a minute."


class ConnectionLost(ExchangeUnavailable):
    """A WebSocket connection to Binance is closed or could not be opened. `retry_after` is how
    long Binance asked us to stay away (a 418 or 429 handshake), or None."""

    def __init__(self, message: str | None = None, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def retry_after_seconds(headers: Any) -> float | None:
    """Binance's `Retry-After` header (seconds) on a 418 or 429, or None."""
    value = headers.get("Retry-After") if headers else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class InvalidRequest(BinanceError):
    """The request was malformed (a parameter missing, too precise, out of range)."""


class InvalidSymbol(InvalidRequest):
    default_message = "Binance does not know this symbol."


class InvalidInterval(InvalidRequest):
    default_message = "Binance does not know this chart interval."


class FilterFailure(InvalidRequest):
    """The order broke one of the symbol's trading rules; `filter_name` says which one."""

    def __init__(
        self,
        filter_name: str,
        message: str | None = None,
        *,
        code: int | None = None,
        status: int | None = None,
    ) -> None:
        self.filter_name = filter_name
        super().__init__(message or _filter_message(filter_name), code=code, status=status)


class OrderRejected(BinanceError):
    """The matching engine refused the order (-2010) for a reason other than balance."""


class InsufficientBalance(OrderRejected):
    default_message = "Your account does not have enough balance for this order."


class DuplicateOrder(OrderRejected):
    default_message = "An order with this id was already sent."


class CancelRejected(BinanceError):
    default_message = "Binance could not cancel this order (it may be filled or gone already)."


class OrderNotFound(BinanceError):
    default_message = "Binance has no such order."


class OrderListNotFound(OrderNotFound):
    """-2018: no order list with this id or listClientOrderId (never placed, or long gone)."""

    default_message = "Binance has no such order list."


class AuthError(BinanceError):
    """The key, the signature or the key's permissions were refused."""

    default_message = "Binance refused the API key: invalid key, IP or permissions for this action."


class InvalidSignature(AuthError):
    default_message = "Binance refused the signature: the secret does not match this API key."


class InvalidApiKeyFormat(AuthError):
    default_message = "The API key has an invalid format."


class TimestampError(BinanceError):
    default_message = "The request's time was outside Binance's window; check the server clock."


class RateLimited(BinanceError):
    """Too much request weight (HTTP 429 or -1003); `retry_after` is in seconds."""

    def __init__(
        self,
        retry_after: float,
        message: str | None = None,
        *,
        code: int | None = None,
        status: int | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(
            message or f"Binance's request limit was reached; try again in {retry_after:.0f} s.",
            code=code,
            status=status,
        )


class IpBanned(RateLimited):
    """HTTP 418: the IP is banned until `until` (UTC); no call is sent before then."""

    def __init__(self, until: datetime, *, status: int | None = 418) -> None:
        self.until = until
        remaining = max(0.0, (until - datetime.now(UTC)).total_seconds())
        super().__init__(
            remaining,
            f"Binance has banned this server's IP for too many requests until "
            f"{until:%Y-%m-%d %H:%M:%S} UTC.",
            code=-1003,
            status=status,
        )


class OrderStatusUnknown(BinanceError):
    """The order may or may not have been placed: query it by `client_order_id`, never resend.
    `reason` says what was lost (for the log: "HTTP 503", "TimeoutError", ...)."""

    def __init__(
        self,
        client_order_id: str,
        message: str | None = None,
        *,
        code: int | None = None,
        status: int | None = None,
        reason: str = "",
    ) -> None:
        self.client_order_id = client_order_id
        self.reason = reason
        super().__init__(
            message or "Binance did not confirm the order in time; its status is being checked.",
            code=code,
            status=status,
        )


class NotAvailable(BinanceError):
    """The endpoint does not exist on this network (for example `/sapi` on the Spot testnet)."""

    default_message = "This information is not available on this Binance network."


_FILTER_MESSAGES = {
    "PRICE_FILTER": "the price is outside the allowed range or not a multiple of the tick size",
    "PERCENT_PRICE": "the price is too far from the current average price",
    "PERCENT_PRICE_BY_SIDE": "the price is too far from the current average price",
    "LOT_SIZE": "the quantity is outside the allowed range or not a multiple of the step size",
    "MARKET_LOT_SIZE": "the quantity is too large or too small for a market order",
    "MIN_NOTIONAL": "the order value is below the minimum",
    "NOTIONAL": "the order value is outside the allowed range",
    "MAX_NUM_ORDERS": "too many open orders on this symbol",
    "MAX_NUM_ALGO_ORDERS": "too many open stop orders on this symbol",
    "EXCHANGE_MAX_NUM_ORDERS": "too many open orders on the account",
    "EXCHANGE_MAX_NUM_ALGO_ORDERS": "too many open stop orders on the account",
    "MAX_NUM_ORDER_LISTS": "too many open order lists (OCO) on this symbol",
    "EXCHANGE_MAX_NUM_ORDER_LISTS": "too many open order lists (OCO) on the account",
    "TRAILING_DELTA": "the trailing distance is outside the allowed range",
}


def _filter_message(filter_name: str) -> str:
    reason = _FILTER_MESSAGES.get(filter_name, "the order breaks one of the symbol's rules")
    return f"Binance refused the order: {reason} ({filter_name})."


_FILTER_RE = re.compile(r"Filter failure: ([A-Z_]+)")


_SIMPLE_ERRORS: dict[int, type[BinanceError]] = {
    -1000: ExchangeUnavailable,
    -1001: ExchangeUnavailable,
    -1006: ExchangeUnavailable,
    -1007: ExchangeUnavailable,
    -1008: ExchangeUnavailable,
    -1021: TimestampError,
    -1022: InvalidSignature,
    -1120: InvalidInterval,
    -1121: InvalidSymbol,
    -2011: CancelRejected,
    -2013: OrderNotFound,
    -2014: InvalidApiKeyFormat,
    -2015: AuthError,
    -2018: OrderListNotFound,
}


def error_from_payload(
    code: int, msg: str, *, status: int | None = None, retry_after: float | None = None
) -> BinanceError:
    """Map Binance's `{"code", "msg"}` to the matching exception."""
    if code == -1013 and (match := _FILTER_RE.search(msg)):
        return FilterFailure(match.group(1), code=code, status=status)
    if code in (-1003, -1015):
        wait = retry_after if retry_after is not None else (60.0 if code == -1003 else 10.0)
        return RateLimited(wait, code=code, status=status)
    if code == -2010:
        lowered = msg.lower()
        if "insufficient balance" in lowered:
            return InsufficientBalance(code=code, status=status)
        if "duplicate order" in lowered:
            return DuplicateOrder(code=code, status=status)
        return OrderRejected(f"Binance rejected the order: {msg}", code=code, status=status)
    if code in _SIMPLE_ERRORS:
        return _SIMPLE_ERRORS[code](code=code, status=status)
    return InvalidRequest(f"Binance refused the request: {msg}", code=code, status=status)


# Binance's codes that mean the request was refused before it could reach the matching engine
# (validation, filters, permissions, limits) or by the engine itself (-2010). Every other code
# (-1000, -1001, -1006, -1007, -1008, anything new) leaves a new order's fate unknown.
_REFUSED_CODES = frozenset({-1002, -1003, -1013, -1014, -1015, -1020, -1021, -1022})
_REFUSED_CODES |= frozenset({-2010, -2014, -2015})


def refused_order_code(code: object) -> bool:
    """True when a new order answered with this error code was certainly not placed."""
    if not isinstance(code, int) or isinstance(code, bool):
        return False
    return code in _REFUSED_CODES or -1199 <= code <= -1100


def answer_error(
    status: int,
    payload: Any,
    retry_after: float | None,
    order_id: str | None,
    banned_until: datetime | None,
) -> BinanceError:
    """The error an unsuccessful REST answer means. For a new order (`order_id`), anything
    but a code proving refusal leaves its fate unknown."""
    code = payload.get("code") if isinstance(payload, dict) else None
    if order_id is not None and not refused_order_code(code):
        return OrderStatusUnknown(order_id, code=code, status=status, reason=f"HTTP {status}")
    if status == 418 and banned_until is not None:
        return IpBanned(banned_until)
    if status == 429:
        wait = retry_after if retry_after is not None else 60.0
        return RateLimited(wait, code=-1015 if code == -1015 else -1003, status=status)
    if status == 404 and code is None:
        return NotAvailable(status=status)
    if status >= 500 or code is None:
        return ExchangeUnavailable(code=code, status=status)
    return error_from_payload(int(code), str(payload.get("msg", "")), status=status)

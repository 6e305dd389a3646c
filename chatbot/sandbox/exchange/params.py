"""Request parameters read the way Binance reads them, with Binance's errors for bad ones.

REST parameters arrive in the query string and/or a form-encoded body (the query string wins
when both carry a name); WebSocket API parameters arrive as a JSON object. Both end up as a
`Params` of strings, so validation is written once.

Binance answers `-1104 "Not all sent parameters were read; read 'N' parameter(s) but was sent
'M'."` when a request carries a parameter the endpoint does not read. Each REST route and
WebSocket API method therefore declares what it reads (`@reads(...)`, `SIGNED` adds
`timestamp`, `recvWindow` and `signature`), and the declaration is checked before the handler
runs, so an order with a stray parameter is refused before anything happens. A parameter
Binance documents but the simulator does not implement (`stopPrice`, `icebergQty`,
`selfTradePreventionMode`, `timeZone`, ...) is deliberately left undeclared: refusing it is
better than silently ignoring what the caller asked for.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from .signatures import ws_value
from .wire import ApiError, illegal_chars, mandatory, too_precise

_DECIMAL = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
_DECIMAL_LEGAL = "^([0-9]{1,20})(\\.[0-9]{1,20})?$"
_INTEGER = re.compile(r"^-?[0-9]{1,20}$")
_INTEGER_LEGAL = "^[0-9]{1,20}$"


def _pairs(raw: str) -> list[tuple[str, str]]:
    """Decode `a=1&b=2`, rejecting a name given twice (-1101)."""
    pairs = parse_qsl(raw, keep_blank_values=True)
    names = [name for name, _ in pairs]
    if len(names) != len(set(names)):
        raise ApiError(-1101, "Duplicate values for a parameter detected.")
    return pairs


SIGNED = ("timestamp", "recvWindow", "signature")
_READS = "binance_reads"
F = TypeVar("F", bound=Callable[..., Any])


def reads(*names: str) -> Callable[[F], F]:
    """Declare the parameters a REST handler reads; anything else sent is -1104."""

    def declare(handler: F) -> F:
        setattr(handler, _READS, frozenset(names))
        return handler

    return declare


def declared_reads(handler: Any) -> frozenset[str] | None:
    """What `handler` declared with `@reads`, or None (not a Binance route)."""
    return getattr(handler, _READS, None)


def unread_parameters(sent: Iterable[str], read: Iterable[str]) -> ApiError | None:
    """Binance's -1104 when some of the `sent` names are not among those the endpoint reads."""
    sent = list(sent)
    known = frozenset(read)
    count = sum(1 for name in sent if name in known)
    if count == len(sent):
        return None
    return ApiError(
        -1104,
        f"Not all sent parameters were read; read '{count}' parameter(s) but was sent "
        f"'{len(sent)}'.",
    )


class Params:
    """A request's parameters by name; empty values count as not sent (but as sent for
    -1104, which counts every name that arrived)."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._sent = tuple(values)
        self._values = {name: value for name, value in values.items() if value != ""}

    @classmethod
    def from_wire(cls, query: str, body: str = "") -> Params:
        values = dict(_pairs(body))
        values.update(_pairs(query))  # the query string wins
        return cls(values)

    @classmethod
    def from_json(cls, params: Mapping[str, Any]) -> Params:
        return cls(
            {name: "" if value is None else ws_value(value) for name, value in params.items()}
        )

    def names(self) -> Iterable[str]:
        return self._values.keys()

    def check_read(self, read: Iterable[str]) -> None:
        """Raise -1104 unless every parameter sent is one of `read`."""
        error = unread_parameters(self._sent, read)
        if error is not None:
            raise error

    def get(self, name: str) -> str | None:
        return self._values.get(name)

    def require(self, name: str) -> str:
        value = self._values.get(name)
        if value is None:
            raise mandatory(name)
        return value

    def decimal(self, name: str, *, places: int = 8, required: bool = False) -> Decimal | None:
        """A non-negative decimal; too many decimals is -1111, a malformed one -1100."""
        raw = self.require(name) if required else self._values.get(name)
        if raw is None:
            return None
        match = _DECIMAL.match(raw)
        if match is None:
            raise illegal_chars(name, _DECIMAL_LEGAL)
        fraction = (match.group(2) or ".")[1:].rstrip("0")
        if len(fraction) > places:
            raise too_precise(name)
        return Decimal(raw)

    def integer(
        self, name: str, *, required: bool = False, minimum: int | None = None
    ) -> int | None:
        raw = self.require(name) if required else self._values.get(name)
        if raw is None:
            return None
        if _INTEGER.match(raw) is None:
            raise illegal_chars(name, _INTEGER_LEGAL)
        value = int(raw)
        if minimum is not None and value < minimum:
            raise illegal_chars(name, _INTEGER_LEGAL)
        return value

    def limit(self, default: int, maximum: int) -> int:
        """`limit`: the default when absent, at most `maximum` (Binance clamps, not rejects)."""
        value = self.integer("limit", minimum=1)
        return default if value is None else min(value, maximum)

    def boolean(self, name: str, default: bool = False) -> bool:
        raw = self._values.get(name)
        if raw is None:
            return default
        if raw.lower() not in ("true", "false"):
            raise illegal_chars(name, "^(true|false)$")
        return raw.lower() == "true"

    def enum(self, name: str, allowed: Iterable[str], error: ApiError) -> str | None:
        """The value if it is one of `allowed`, else `error` (e.g. -1117 Invalid side.)."""
        raw = self._values.get(name)
        if raw is not None and raw not in allowed:
            raise error
        return raw

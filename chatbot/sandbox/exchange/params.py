"""Request parameters read the way Binance reads them, with Binance's errors for bad ones.

REST parameters arrive in the query string and/or a form-encoded body (the query string wins
when both carry a name); WebSocket API parameters arrive as a JSON object. Both end up as a
`Params` of strings, so validation is written once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

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


def split_signature(raw: str) -> str:
    """`raw` without its `signature=...` pair(s): the part of the payload that was signed."""
    if not raw:
        return ""
    return "&".join(pair for pair in raw.split("&") if not pair.startswith("signature="))


def wire_value(value: Any) -> str:
    """A JSON parameter value as text (`true`/`false` for booleans, as signed)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Params:
    """A request's parameters by name; empty values count as not sent."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = {name: value for name, value in values.items() if value != ""}

    @classmethod
    def from_wire(cls, query: str, body: str = "") -> Params:
        values = dict(_pairs(body))
        values.update(_pairs(query))  # the query string wins
        return cls(values)

    @classmethod
    def from_json(cls, params: Mapping[str, Any]) -> Params:
        return cls({name: wire_value(value) for name, value in params.items() if value is not None})

    def names(self) -> Iterable[str]:
        return self._values.keys()

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

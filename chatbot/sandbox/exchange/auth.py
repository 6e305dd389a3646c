"""Who is calling: the API key, its signature, and the request's timing, as Binance checks them.

Order of checks (each failing with Binance's code): API key present and well-formed (-2015 /
-2014) and known (-2015), `timestamp` present (-1102), `signature` present (-1102) and valid
over the exact payload (-1022), `recvWindow` at most 60000 (-1102), then the timing rule
`timestamp < serverTime + 1000 and serverTime - timestamp <= recvWindow` (-1021).

REST payload: the raw query string as received, without the `signature` pair, followed by the
raw body (no separator). WebSocket API payload: every parameter but `signature`, sorted by
name. Both are built by signatures.py, written from Binance's documentation and never from the
client's signing code.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from .accounts import API_KEY_PATTERN, Account
from .params import Params
from .signatures import ws_payload
from .wire import (
    TIMESTAMP_AHEAD,
    TIMESTAMP_OUTSIDE,
    ApiError,
    Clock,
    bad_api_key_format,
    bad_signature,
    invalid_api_key,
    mandatory,
)

DEFAULT_RECV_WINDOW = Decimal(5000)
MAX_RECV_WINDOW = Decimal(60000)
_MICROSECONDS = 10**14  # a timestamp this large is in µs, not ms


class Authenticator:
    """Checks signed requests against the registered accounts and the server clock."""

    def __init__(self, accounts: Mapping[str, Account], clock: Clock) -> None:
        self._accounts = accounts
        self._clock = clock

    def account(self, api_key: str | None) -> Account:
        """The account behind an API key; -2015 if missing or unknown, -2014 if malformed."""
        if api_key is None:
            raise invalid_api_key()
        if not API_KEY_PATTERN.match(api_key):
            raise bad_api_key_format()
        account = self._accounts.get(api_key)
        if account is None:
            raise invalid_api_key()
        return account

    def rest(self, api_key: str | None, params: Params, payload: str) -> Account:
        """Authenticate a signed REST call; `payload` is query (minus signature) + body."""
        account = self.account(api_key)
        self._verify(account, params, payload)
        return account

    def websocket(self, raw_params: Mapping[str, Any]) -> Account:
        """Authenticate signed WebSocket API params (`apiKey`, `timestamp`, `signature`)."""
        params = Params.from_json(raw_params)
        account = self.account(params.require("apiKey"))
        self._verify(account, params, ws_payload(raw_params))
        return account

    def _verify(self, account: Account, params: Params, payload: str) -> None:
        params.integer("timestamp", required=True)
        signature = params.require("signature")
        if not account.verify(payload, signature):
            raise bad_signature()
        self.check_timing(params)

    def check_timing(self, params: Params) -> None:
        """Binance's timing rule; raises -1021 with whichever of its two messages applies."""
        timestamp = Decimal(params.integer("timestamp", required=True) or 0)
        if timestamp >= _MICROSECONDS:
            timestamp /= 1000
        window = params.decimal("recvWindow", places=3)
        if window is None:
            window = DEFAULT_RECV_WINDOW
        if window > MAX_RECV_WINDOW:
            raise ApiError(
                -1102, "'recvWindow' contains unexpected value. Cannot be greater than 60000."
            )
        if window <= 0:
            raise mandatory("recvWindow")
        now = self._clock.received_ms()  # the arrival, even if the engine acts later
        if timestamp >= now + 1000:
            raise ApiError(-1021, TIMESTAMP_AHEAD)
        if now - timestamp > window:
            raise ApiError(-1021, TIMESTAMP_OUTSIDE)

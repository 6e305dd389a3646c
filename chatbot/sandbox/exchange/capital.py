"""The wallet's deposit and withdrawal history (`/sapi/v1/capital/deposit/hisrec`,
`/sapi/v1/capital/withdraw/history`), mainnet only like every `/sapi` route.

Every credit or debit made through the control API's `deposit` (a test's deposit or
withdrawal) is recorded here with Binance's fields: a credit as a successful deposit (status
1, times in ms), a debit as a completed withdrawal (status 6, `applyTime` as a UTC
"YYYY-MM-DD HH:MM:SS" string, no network fee). Both endpoints take Binance's window: the last
90 days by default, at most 90 days between `startTime` and `endTime`, then `offset` and
`limit` (default and maximum 1000), newest first.

`refuse(api_key)` makes both answer as Binance does to a key that may not read the wallet
(HTTP 401, -1002), so a client's "could not be read" path can be tested on mainnet too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from .accounts import Account
from .auth import Authenticator
from .gateway import PARAMS, PAYLOAD
from .params import SIGNED, Params, reads
from .wire import ApiError, Clock, fmt, json_response

WINDOW_MS = 90 * 86_400_000
HISTORY = (*SIGNED, "coin", "status", "startTime", "endTime", "offset", "limit")


@dataclass
class CapitalLedger:
    """Each account's deposits and withdrawals, oldest first, and the keys refused."""

    deposits: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    withdrawals: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    refused: set[str] = field(default_factory=set)

    def record(self, account: Account, asset: str, amount: Decimal, now_ms: int) -> None:
        """A credit (> 0) as a deposit, a debit (< 0) as a withdrawal of its size."""
        key = account.api_key
        if amount > 0:
            rows = self.deposits.setdefault(key, [])
            rows.append(_deposit(f"{account.uid}{len(rows) + 1:06d}", asset, amount, now_ms))
        elif amount < 0:
            rows = self.withdrawals.setdefault(key, [])
            rows.append(_withdrawal(f"w{account.uid}{len(rows) + 1:06d}", asset, -amount, now_ms))

    def refuse(self, api_key: str) -> None:
        self.refused.add(api_key)


class CapitalRoutes:
    def __init__(self, ledger: CapitalLedger, auth: Authenticator, clock: Clock) -> None:
        self._ledger = ledger
        self._auth = auth
        self._clock = clock

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/sapi/v1/capital/deposit/hisrec", self.deposit_history),
            web.get("/sapi/v1/capital/withdraw/history", self.withdraw_history),
        ]

    @reads(*HISTORY, "txId", "includeSource")
    async def deposit_history(self, request: web.Request) -> web.Response:
        account, params = self._signed(request)
        rows = self._ledger.deposits.get(account.api_key, [])
        return json_response(self._window(rows, params, lambda r: r["insertTime"]))

    @reads(*HISTORY, "withdrawOrderId", "idList")
    async def withdraw_history(self, request: web.Request) -> web.Response:
        account, params = self._signed(request)
        rows = self._ledger.withdrawals.get(account.api_key, [])
        return json_response(self._window(rows, params, lambda r: r["_at"], hide=("_at",)))

    def _signed(self, request: web.Request) -> tuple[Account, Params]:
        params = request[PARAMS]
        account = self._auth.rest(request.headers.get("X-MBX-APIKEY"), params, request[PAYLOAD])
        if account.api_key in self._ledger.refused:
            raise ApiError(-1002, "You are not authorized to execute this request.", status=401)
        return account, params

    def _window(
        self, rows: list[dict[str, Any]], params: Params, at: Any, hide: tuple[str, ...] = ()
    ) -> list[dict[str, Any]]:
        now = self._clock.now_ms()
        start, end = params.integer("startTime"), params.integer("endTime")
        if start is not None and end is not None and end - start > WINDOW_MS:
            raise ApiError(-1127, "More than 90 days between startTime and endTime.")
        end = now if end is None else end
        start = end - WINDOW_MS if start is None else start
        coin, status = params.get("coin"), params.integer("status")
        chosen = [
            r
            for r in reversed(rows)
            if start <= at(r) <= end
            and (coin is None or r["coin"] == coin)
            and (status is None or r["status"] == status)
        ]
        offset = params.integer("offset", minimum=0) or 0
        chosen = chosen[offset : offset + params.limit(1000, 1000)]
        return [{k: v for k, v in r.items() if k not in hide} for r in chosen]


def _deposit(ref: str, coin: str, amount: Decimal, now_ms: int) -> dict[str, Any]:
    return {
        "id": ref,
        "amount": fmt(amount),
        "coin": coin,
        "network": coin,
        "status": 1,
        "address": f"sim-{coin.lower()}-address",
        "addressTag": "",
        "txId": f"sim-deposit-{ref}",
        "insertTime": now_ms,
        "completeTime": now_ms,
        "transferType": 0,
        "confirmTimes": "1/1",
        "unlockConfirm": 0,
        "walletType": 0,
    }


def _withdrawal(ref: str, coin: str, amount: Decimal, now_ms: int) -> dict[str, Any]:
    stamp = datetime.fromtimestamp(now_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
    return {
        "id": ref,
        "amount": fmt(amount),
        "transactionFee": "0",
        "coin": coin,
        "status": 6,
        "address": f"sim-{coin.lower()}-address",
        "txId": f"sim-withdrawal-{ref}",
        "applyTime": stamp,
        "network": coin,
        "transferType": 0,
        "info": "",
        "confirmNo": 1,
        "walletType": 0,
        "txKey": "",
        "completeTime": stamp,
        "_at": now_ms,  # the exact time, for the window; not sent
    }

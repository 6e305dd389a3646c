"""Deposits and withdrawals as Binance's wallet endpoints report them (`/sapi/v1/capital/...`).

Deposit history times are epoch milliseconds (`insertTime`, `completeTime`); withdrawal history
times are "YYYY-MM-DD HH:MM:SS" strings in UTC (`applyTime`, `completeTime`). Only completed
ones move money: deposit status 1 (success) and withdrawal status 6 (completed). A withdrawal
takes `amount` + `transactionFee` out of the account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

DEPOSIT_SUCCESS = 1
WITHDRAW_COMPLETED = 6


@dataclass(frozen=True, slots=True)
class CapitalMove:
    """One deposit (`amount` > 0) or withdrawal (`amount` < 0, its fee included)."""

    id: str
    coin: str
    amount: Decimal
    time_ms: int
    completed: bool

    @classmethod
    def deposit(cls, data: dict[str, Any]) -> CapitalMove:
        when = int(data.get("completeTime") or data["insertTime"])
        done = int(data["status"]) == DEPOSIT_SUCCESS
        return cls(str(data["id"]), data["coin"], Decimal(data["amount"]), when, done)

    @classmethod
    def withdrawal(cls, data: dict[str, Any]) -> CapitalMove:
        amount = Decimal(data["amount"]) + Decimal(data.get("transactionFee") or 0)
        when = _utc_ms(data.get("completeTime") or data["applyTime"])
        done = int(data["status"]) == WITHDRAW_COMPLETED
        return cls(str(data["id"]), data["coin"], -amount, when, done)


def _utc_ms(text: str) -> int:
    moment = datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)

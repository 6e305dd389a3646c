"""Typed results of Binance's account and order calls and user-data events (market data is in
market_models.py). Every amount is a `Decimal` parsed from Binance's string.

The records are plain slotted dataclasses (not frozen: a frozen one costs twice as much to
build, and an account answer builds dozens of them on every call).

`Decimal(...)` takes Binance's strings, integers, and the Decimals that the client's JSON decoder
makes of any bare decimal number, so no amount ever passes through a float.

Each record has a `from_json` constructor that takes the JSON object exactly as Binance sends it;
times stay integer milliseconds since the epoch, as on the wire.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from chatbot.exchange.symbol_rules import ExchangeFilters, SymbolRules


@dataclass(slots=True)
class Balance:
    asset: str
    free: Decimal
    locked: Decimal

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


@dataclass(slots=True)
class CommissionRates:
    maker: Decimal
    taker: Decimal
    buyer: Decimal = Decimal(0)
    seller: Decimal = Decimal(0)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CommissionRates:
        return cls(
            Decimal(data["maker"]),
            Decimal(data["taker"]),
            Decimal(data.get("buyer", "0")),
            Decimal(data.get("seller", "0")),
        )


@dataclass(slots=True)
class Account:
    can_trade: bool
    can_withdraw: bool
    can_deposit: bool
    account_type: str
    permissions: list[str]
    balances: list[Balance]
    commission: CommissionRates | None
    update_time: int

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Account:
        rates = data.get("commissionRates")
        return cls(
            data["canTrade"] is True,
            data["canWithdraw"] is True,
            data.get("canDeposit") is True,
            data.get("accountType", "SPOT"),
            data.get("permissions", []),
            [
                Balance(b["asset"], Decimal(b["free"]), Decimal(b["locked"]))
                for b in data["balances"]
            ],
            CommissionRates.from_json(rates) if rates else None,
            int(data.get("updateTime", 0)),
        )

    def balance(self, asset: str) -> Balance:
        """The balance of one asset; zero when the account holds none."""
        for item in self.balances:
            if item.asset == asset:
                return item
        return Balance(asset, Decimal(0), Decimal(0))


@dataclass(slots=True)
class Fill:
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    trade_id: int

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fill:
        return cls(
            Decimal(data["price"]),
            Decimal(data["qty"]),
            Decimal(data["commission"]),
            data["commissionAsset"],
            int(data["tradeId"]),
        )


@dataclass(slots=True)
class Order:
    """An order as Binance reports it (new-order, query, cancel and open-orders responses)."""

    symbol: str
    order_id: int
    client_order_id: str
    side: str
    type: str
    status: str
    price: Decimal
    orig_qty: Decimal
    executed_qty: Decimal
    cumulative_quote_qty: Decimal
    time_in_force: str | None
    time: int | None
    update_time: int | None
    orig_client_order_id: str | None = None
    fills: list[Fill] = field(default_factory=list)
    stop_price: Decimal | None = None  # None when Binance sends none or "0"
    trailing_delta: int | None = None  # basis points
    trailing_time: int | None = None  # when a trailing stop started to trail; None until then
    order_list_id: int | None = None  # None for Binance's -1 (not in an order list)
    is_working: bool = True  # False for a pending leg of an OTO list, or an untriggered stop

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Order:
        return cls(
            symbol=data["symbol"],
            order_id=int(data["orderId"]),
            client_order_id=data["clientOrderId"],
            side=data.get("side", ""),
            type=data.get("type", ""),
            status=data.get("status", "NEW"),
            price=Decimal(data.get("price", "0")),
            orig_qty=Decimal(data.get("origQty", "0")),
            executed_qty=Decimal(data.get("executedQty", "0")),
            # Binance's own spelling of the field.
            cumulative_quote_qty=Decimal(data.get("cummulativeQuoteQty", "0")),
            time_in_force=data.get("timeInForce"),
            time=_int_or_none(data.get("time", data.get("transactTime"))),
            update_time=_int_or_none(data.get("updateTime", data.get("transactTime"))),
            orig_client_order_id=data.get("origClientOrderId"),
            fills=[Fill.from_json(f) for f in data.get("fills", [])],
            stop_price=Decimal(data["stopPrice"]) or None if "stopPrice" in data else None,
            trailing_delta=_int_or_none(data.get("trailingDelta")),
            trailing_time=_trailing_time(data.get("trailingTime")),
            order_list_id=list_id_or_none(data.get("orderListId")),
            is_working=_is_working(data),
        )

    @property
    def average_price(self) -> Decimal | None:
        """Average fill price (quote spent / quantity filled), None before any fill."""
        if self.executed_qty == 0:
            return None
        return self.cumulative_quote_qty / self.executed_qty

    @property
    def is_open(self) -> bool:
        return self.status in {"NEW", "PARTIALLY_FILLED", "PENDING_NEW"}


@dataclass(slots=True)
class AccountTrade:
    """One of the user's own fills (`myTrades`)."""

    symbol: str
    id: int
    order_id: int
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    time: int
    is_buyer: bool
    is_maker: bool

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AccountTrade:
        return cls(
            symbol=data["symbol"],
            id=int(data["id"]),
            order_id=int(data["orderId"]),
            price=Decimal(data["price"]),
            qty=Decimal(data["qty"]),
            quote_qty=Decimal(data["quoteQty"]),
            commission=Decimal(data["commission"]),
            commission_asset=data["commissionAsset"],
            time=int(data["time"]),
            is_buyer=bool(data["isBuyer"]),
            is_maker=bool(data["isMaker"]),
        )


@dataclass(slots=True)
class SymbolCommission:
    """`account/commission`: the standard rates and any discount for one symbol."""

    symbol: str
    standard: CommissionRates
    tax: CommissionRates
    special: CommissionRates | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SymbolCommission:
        special = data.get("specialCommission")
        return cls(
            data["symbol"],
            CommissionRates.from_json(data["standardCommission"]),
            CommissionRates.from_json(data["taxCommission"]),
            CommissionRates.from_json(special) if special else None,
        )


@dataclass(slots=True)
class ApiRestrictions:
    """What the API key may do (mainnet `/sapi/v1/account/apiRestrictions`)."""

    ip_restrict: bool
    enable_reading: bool
    enable_spot_trading: bool
    enable_withdrawals: bool
    create_time: int | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ApiRestrictions:
        return cls(
            ip_restrict=bool(data.get("ipRestrict", False)),
            enable_reading=bool(data.get("enableReading", False)),
            enable_spot_trading=bool(data.get("enableSpotAndMarginTrading", False)),
            enable_withdrawals=bool(data.get("enableWithdrawals", False)),
            create_time=_int_or_none(data.get("createTime")),
        )


@dataclass(slots=True)
class ExchangeInfo:
    """The symbols Binance lists, with their trading rules, keyed by symbol name, and the
    limits over all symbols together (`exchangeFilters`)."""

    server_time: int
    symbols: dict[str, SymbolRules]
    rate_limits: list[dict[str, Any]]
    exchange_filters: ExchangeFilters = field(default_factory=ExchangeFilters)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExchangeInfo:
        rules = (SymbolRules.from_exchange_info(s) for s in data["symbols"])
        return cls(
            int(data.get("serverTime", 0)),
            {r.symbol: r for r in rules},
            list(data.get("rateLimits", [])),
            ExchangeFilters.from_exchange_info(data.get("exchangeFilters", [])),
        )


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def list_id_or_none(value: Any) -> int | None:
    """Binance's orderListId, None for -1 (the order belongs to no list)."""
    return None if value is None or int(value) == -1 else int(value)


def _trailing_time(value: Any) -> int | None:
    """`trailingTime`: -1 (or absent) until a trailing stop is activated."""
    return None if value is None or int(value) == -1 else int(value)


def _is_working(data: dict[str, Any]) -> bool:
    """`isWorking` (query, open orders), else `workingTime` (-1 until the order works)."""
    if "isWorking" in data:
        return data["isWorking"] is True
    return int(data.get("workingTime", 0)) != -1

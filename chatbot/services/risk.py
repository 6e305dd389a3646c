"""/risk: what protects each holding on the exchange, and what the user loses if every stop hits.

A holding's protection is read from its open SELL orders: an OCO (a list with a stop leg and a
target leg), a stop-loss (STOP_LOSS / STOP_LOSS_LIMIT), a trailing stop (a stop-loss with a
`trailingDelta`), a take-profit alone, or nothing.

The loss at a stop is the current price minus the stop's *worst* fill price, times the quantity
it covers, converted to USDT: a STOP_LOSS_LIMIT sells at its limit or better, a STOP_LOSS
(market on trigger) is taken at its trigger. A trailing stop's trigger follows the best price
since it started trailing, which Binance does not report: once activated it is at least the
delta below the price now (the best price is at least today's), so that is its worst case;
before activation a market trailing stop's fill is unknown, and the report says so.

Reads go through the weight budget: the open orders come from `OpenOrderMirror` (no REST call
while the user-data stream keeps them), whose record holds each order's trigger and list but not
whether a trailing stop has started to trail (no event the bot follows tells it); the symbols with
such a stop are read again one by one (weight 6 each). The open order lists (weight 6) say which
orders are one list's legs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from chatbot.exchange.client import BinanceClient
from chatbot.exchange.models import Order
from chatbot.services.account import AccountService, Holding
from chatbot.services.keys import KeyService
from chatbot.services.market import MarketService
from chatbot.services.order_intent import ExitLevel, ExitSpec, ProtectIntent, ProtectKind

BIPS = Decimal(10_000)
STOP_TYPES = frozenset({"STOP_LOSS", "STOP_LOSS_LIMIT"})
TARGET_TYPES = frozenset({"TAKE_PROFIT", "TAKE_PROFIT_LIMIT", "LIMIT_MAKER"})
CASH = "USDT"
WEIGHT_ONE_SYMBOL, WEIGHT_ALL_SYMBOLS = 6, 80  # GET /api/v3/openOrders


class Protection(StrEnum):
    """What guards a holding, strongest first (the order /risk lists a holding's exits in)."""

    OCO = "OCO"
    STOP = "stop"
    TRAILING = "trailing"
    TAKE_PROFIT = "take-profit only"
    NONE = "none"


@dataclass(frozen=True)
class Exit:
    """One protection on the exchange: an OCO, a stop, a trailing stop or a take-profit.

    Prices are in the symbol's quote asset. `stop` is the stop leg's trigger (None for a
    trailing stop placed without one), `limit` its limit (STOP_LOSS_LIMIT), `target` the
    take-profit's price. `worst_fill` is the lowest price the stop leg sells at (None: no stop
    leg, or a market trailing stop not yet activated); `loss_usdt` is the loss down to it.
    """

    kind: Protection
    symbol: str
    quote: str
    quantity: Decimal
    stop: Decimal | None = None
    limit: Decimal | None = None
    target: Decimal | None = None
    trail_bps: int | None = None
    trailing_active: bool = False
    worst_fill: Decimal | None = None
    loss_usdt: Decimal | None = None

    @property
    def has_stop(self) -> bool:
        return self.kind is not Protection.TAKE_PROFIT


@dataclass(frozen=True)
class HoldingRisk:
    """A holding worth at least the dust threshold, and its exits on the exchange."""

    asset: str
    total: Decimal
    value_usdt: Decimal | None
    exits: tuple[Exit, ...] = ()

    @property
    def protection(self) -> Protection:
        return min((e.kind for e in self.exits), key=_rank, default=Protection.NONE)

    @property
    def covered(self) -> Decimal:
        """The quantity under a stop (an OCO's, a stop's, a trailing stop's)."""
        return min(self.total, sum((e.quantity for e in self.exits if e.has_stop), Decimal(0)))

    @property
    def loss_usdt(self) -> Decimal:
        """The loss at the stops whose worst fill is known."""
        return sum((e.loss_usdt for e in self.exits if e.loss_usdt is not None), Decimal(0))

    @property
    def unknown_losses(self) -> int:
        """Stops whose loss cannot be told (an unactivated market trailing stop, no price)."""
        return sum(1 for e in self.exits if e.has_stop and e.loss_usdt is None)


@dataclass(frozen=True)
class RiskReport:
    """Holdings by value (USDT apart, as `cash_usdt`), the dust folded, and the total balance
    the losses are a share of."""

    holdings: list[HoldingRisk]
    cash_usdt: Decimal
    dust: list[Holding]
    total_usdt: Decimal

    @property
    def dust_usdt(self) -> Decimal:
        return sum((h.value_usdt or Decimal(0) for h in self.dust), Decimal(0))

    @property
    def total_loss_usdt(self) -> Decimal:
        return sum((h.loss_usdt for h in self.holdings), Decimal(0))

    @property
    def unknown_losses(self) -> int:
        return sum(h.unknown_losses for h in self.holdings)

    @property
    def loss_share_pct(self) -> Decimal | None:
        """The total loss as a percentage of the total balance; None for an empty account."""
        if self.total_usdt <= 0:
            return None
        return self.total_loss_usdt / self.total_usdt * 100

    @property
    def unprotected(self) -> list[str]:
        """Holdings with no exit at all: each gets a Protect button."""
        return [h.asset for h in self.holdings if h.protection is Protection.NONE]


class RiskService:
    def __init__(
        self,
        account: AccountService,
        client: BinanceClient,
        keys: KeyService,
        market: MarketService,
        *,
        default_stop_pct: Decimal,
    ) -> None:
        self._account = account
        self._client = client
        self._keys = keys
        self._market = market
        self._default_stop_pct = default_stop_pct

    async def report(self, user_id: int) -> RiskReport:
        """Each holding's protection and the loss if every stop hits. Raises `NoApiKey`."""
        balances = await self._account.balances(user_id)
        coins = [h for h in balances.holdings if h.asset != CASH]
        cash = sum((h.total for h in balances.holdings if h.asset == CASH), Decimal(0))
        exits = await self._exits({h.asset for h in coins}, user_id) if coins else {}
        holdings = [
            HoldingRisk(h.asset, h.total, h.value_usdt, tuple(exits.get(h.asset, ())))
            for h in coins
        ]
        return RiskReport(holdings, cash, balances.dust, balances.total_usdt)

    def protect_intent(self, asset: str) -> ProtectIntent:
        """The Protect button's proposal: a stop-loss `CHATBOT_RISK_DEFAULT_STOP_PCT` below
        the price on the free balance, no take-profit."""
        level = ExitLevel(percent=-self._default_stop_pct)
        return ProtectIntent(ProtectKind.PROTECT, asset, ExitSpec(stop_loss=level))

    async def _exits(self, assets: set[str], user_id: int) -> dict[str, list[Exit]]:
        """The exits on each of `assets`, by asset, strongest first."""
        _, orders = await self._account.open_orders(user_id)
        orders = await self._with_triggers(user_id, orders)
        exits: dict[str, list[Exit]] = {}
        candidates = [o for o in orders if o.side == "SELL" and o.type in STOP_TYPES | TARGET_TYPES]
        if not candidates:
            return exits
        legs = await self._list_legs(user_id)
        for group in _group(candidates, legs):
            rules = await self._market.resolve(group[0].symbol)
            if rules.base_asset not in assets:
                continue
            exit_ = await self._exit(group, rules.quote_asset)
            if exit_ is not None:
                exits.setdefault(rules.base_asset, []).append(exit_)
        for found in exits.values():
            found.sort(key=lambda e: _rank(e.kind))
        return exits

    async def _with_triggers(self, user_id: int, orders: list[Order]) -> list[Order]:
        """`orders`, with the symbols of SELL stops whose state the record may lack read
        again: a stop recorded without its trigger (an order recorded before the record kept
        triggers), and a trailing stop not known to trail (its start is never told, so the
        record cannot hold it). One symbol at a time (weight 6 each), or all symbols at once
        (80) when that is cheaper."""
        stale = {o.symbol for o in orders if o.side == "SELL" and _unsure(o)}
        if not stale:
            return orders
        credentials = await self._keys.credentials(user_id)
        if len(stale) * WEIGHT_ONE_SYMBOL >= WEIGHT_ALL_SYMBOLS:
            return await self._client.open_orders(credentials)
        fresh = [o for o in orders if o.symbol not in stale]
        for symbol in sorted(stale):
            fresh += await self._client.open_orders(credentials, symbol)
        return fresh

    async def _list_legs(self, user_id: int) -> dict[int, int]:
        """Order id -> the id of the open list it is a leg of: an OCO, or an OTOCO whose
        entry has filled (its two exits then work as an OCO, under the list's OTO type)."""
        credentials = await self._keys.credentials(user_id)
        lists = await self._client.open_order_lists(credentials)
        return {leg.order_id: found.order_list_id for found in lists for leg in found.orders}

    async def _exit(self, group: list[Order], quote: str) -> Exit | None:
        """The protection one order, or one OCO's legs, give; None for a lone LIMIT_MAKER."""
        stop = next((o for o in group if o.type in STOP_TYPES), None)
        target = next((o for o in group if o.type in TARGET_TYPES), None)
        if stop is None:
            if target is None or target.type == "LIMIT_MAKER":
                return None
            return Exit(
                Protection.TAKE_PROFIT, target.symbol, quote, _left(target),
                target=_target_price(target), trail_bps=target.trailing_delta,
            )  # fmt: skip
        last = (await self._market.last_prices()).get(stop.symbol)
        worst = _worst_fill(stop, last)
        loss = None
        if worst is not None and last is not None:
            loss = await self._market.usdt_value(quote, (last - worst) * _left(stop))
        kind = Protection.STOP if stop.trailing_delta is None else Protection.TRAILING
        return Exit(
            Protection.OCO if len(group) > 1 else kind,
            stop.symbol,
            quote,
            _left(stop),
            stop=stop.stop_price,
            limit=stop.price if stop.type == "STOP_LOSS_LIMIT" else None,
            target=_target_price(target) if target is not None else None,
            trail_bps=stop.trailing_delta,
            trailing_active=stop.trailing_time is not None,
            worst_fill=worst,
            loss_usdt=loss,
        )


def _unsure(order: Order) -> bool:
    """A stop whose trigger, or whose trailing state, only Binance can tell (see
    `RiskService._with_triggers`)."""
    if order.type not in STOP_TYPES | (TARGET_TYPES - {"LIMIT_MAKER"}):
        return False
    if order.trailing_delta is not None:
        return order.trailing_time is None
    return order.stop_price is None


def _rank(kind: Protection) -> int:
    return list(Protection).index(kind)


def _group(orders: Iterable[Order], legs: dict[int, int]) -> list[list[Order]]:
    """One group per OCO (its legs), one per order outside a list."""
    by_list: dict[int, list[Order]] = {}
    groups: list[list[Order]] = []
    for order in orders:
        list_id = legs.get(order.order_id, order.order_list_id)
        if list_id is None:
            groups.append([order])
        elif list_id in by_list:
            by_list[list_id].append(order)
        else:
            by_list[list_id] = [order]
            groups.append(by_list[list_id])
    return groups


def _worst_fill(stop: Order, last: Decimal | None) -> Decimal | None:
    """The lowest price a SELL stop leg gives: its limit, its trigger, or for an activated
    market trailing stop the delta below the price now (see the module docstring)."""
    if stop.type == "STOP_LOSS_LIMIT":
        return stop.price
    if stop.trailing_delta is None:
        return stop.stop_price
    if stop.trailing_time is None or last is None:
        return None
    return last * (1 - Decimal(stop.trailing_delta) / BIPS)


def _target_price(order: Order) -> Decimal | None:
    """Where a take-profit sells: a LIMIT_MAKER's price, else its trigger."""
    return order.price if order.type == "LIMIT_MAKER" else order.stop_price


def _left(order: Order) -> Decimal:
    return order.orig_qty - order.executed_qty

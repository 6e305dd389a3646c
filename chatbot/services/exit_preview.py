"""Exit previews: a stop-loss, a take-profit or both on coins held (/protect, /sl, /tp), or
with a limit buy (/buy ... tp ... sl ...), planned, checked as Binance would check them, and
saved as a DRAFT ticket to confirm. Nothing is sent to Binance here.

Every refusal Binance would give is raised here as a `UserError` with the rule in plain words,
before any ticket exists: the order types the symbol lists, OCO / OTO allowed, trailing
allowed and TRAILING_DELTA, each trigger's side of the price (the last price; for a /buy the
entry's limit price, against which Binance judges an OTOCO's pending pair), an OCO's price
relations, every leg's filters (LOT_SIZE, PRICE_FILTER, PERCENT_PRICE_BY_SIDE, NOTIONAL), the
open-order counts with what the exits add (MAX_NUM_ORDERS, MAX_NUM_ALGO_ORDERS,
MAX_NUM_ORDER_LISTS), and the free balance the exits sell.

A buy's fee is taken in the coin bought, so a /buy's exits sell the quantity received after
the fee (at the higher of the maker and taker rates, rounded down to the step): what will be
held, never more.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import ParamSpec, TypeVar

from chatbot.errors import UserError
from chatbot.exchange.client import BinanceClient
from chatbot.exchange.credentials import ApiCredentials
from chatbot.exchange.exit_checks import (
    check_exit_counts,
    check_list_allowed,
    check_oco_prices,
    check_order_type,
    prepare_leg,
)
from chatbot.exchange.grid import mul, quantity_step, to_step
from chatbot.exchange.models import Account
from chatbot.exchange.order_limits import ALGO_TYPES, OpenOrder, OpenOrderCounts
from chatbot.exchange.rule_checks import OrderRuleViolation, check_status
from chatbot.exchange.symbol_rules import SymbolRules
from chatbot.services.account_mirror import AccountMirror
from chatbot.services.exit_plan import ExitFigures, ExitPlan, LegType, exit_figures, plan_exits
from chatbot.services.keys import KeyService
from chatbot.services.market import MarketService
from chatbot.services.open_orders import OpenOrderMirror
from chatbot.services.order_intent import OrderIntent, ProtectIntent, amount_in_quote
from chatbot.services.order_preview import OrderPreview, OrderPreviewer
from chatbot.side import Side
from chatbot.storage.tickets import Ticket, TicketKind, TicketRepository

P = ParamSpec("P")
R = TypeVar("R")
DEFAULT_FEE = Decimal("0.001")


@dataclass(frozen=True)
class ExitPreview:
    """An exit ticket and what its preview shows. `entry` is the /buy's own preview (its
    cost, fee and balance) for an OTOCO; None for exits on coins held. `reference` is what
    percentages were of: the last price, or the /buy's limit price."""

    ticket: Ticket
    rules: SymbolRules
    plan: ExitPlan
    figures: ExitFigures
    last_price: Decimal
    reference: Decimal
    ttl: int  # seconds to press Confirm
    entry: OrderPreview | None = None

    @property
    def confirmable(self) -> bool:
        return self.entry is None or self.entry.confirmable


class ExitPreviewer:
    """Builds exit previews; `OrderService` owns one (its `preview_protect`, `preview_entry`)."""

    def __init__(
        self,
        client: BinanceClient,
        keys: KeyService,
        market: MarketService,
        tickets: TicketRepository,
        *,
        balances: AccountMirror,
        open_orders: OpenOrderMirror,
        orders: OrderPreviewer,
        limit_distance_pct: Decimal,
    ) -> None:
        self._client = client
        self._keys = keys
        self._market = market
        self._tickets = tickets
        self._balances = balances
        self._open_orders = open_orders
        self._orders = orders
        self._distance = limit_distance_pct

    async def preview_protect(
        self, user_id: int, chat_id: int, intent: ProtectIntent, ttl: int
    ) -> ExitPreview:
        """/protect, /sl, /tp: exits on the free balance (or the quantity typed) at the last
        price; an OCO when both sides are asked, else one order."""
        rules = await self._market.resolve(intent.symbol)
        _refused(check_status, rules)
        credentials = await self._keys.credentials(user_id)
        last, account = await asyncio.gather(
            self._last_price(rules.symbol), self._account(user_id, credentials)
        )
        free = account.balance(rules.base_asset).free
        quantity = intent.quantity if intent.quantity is not None else free
        plan = plan_exits(
            intent.exits,
            rules=rules,
            reference=last,
            quantity=quantity,
            limit_distance_pct=self._distance,
        )
        _check_holding(rules, plan, free, intent.quantity is not None)
        kind = TicketKind.OCO if plan.is_oco else TicketKind.EXIT
        await self._check(user_id, credentials, rules, plan, last, kind)
        figures = await self._figures(plan, last, account, rules, entry_fee=False)
        leg = plan.legs[0]
        ticket = await self._tickets.create(
            user_id=user_id,
            chat_id=chat_id,
            kind=kind,
            symbol=rules.symbol,
            side=Side.SELL,
            order_type=str(leg.order_type) if kind is TicketKind.EXIT else "OCO",
            quantity=plan.quantity,
            price=leg.limit_price if kind is TicketKind.EXIT else None,
            preview_price=last,
            legs=plan.legs,
        )
        return ExitPreview(ticket, rules, plan, figures, last, last, ttl)

    async def preview_entry(
        self, user_id: int, chat_id: int, intent: OrderIntent, ttl: int
    ) -> ExitPreview:
        """/buy ... tp ... sl ...: with a limit price, one OTOCO (the buy working, its exits an
        OCO that Binance places once the buy has filled); at market, the buy alone, and the
        OCO placed by the bot once it has filled (ENTRY_OCO). The buy itself is previewed and
        checked as any /buy (`OrderPreviewer`); its exits here, against its limit price or
        the best ask now."""
        spec, price = intent.exits, intent.price
        if spec is None:
            raise ValueError("preview_entry takes a /buy with exits")
        rules = await self._market.resolve(intent.symbol)
        _refused(check_status, rules)
        if amount_in_quote(intent, rules):
            raise UserError(
                "With exits, type the quantity to buy, like /buy BTC 0.01 tp +5% sl -3%"
            )
        credentials = await self._keys.credentials(user_id)
        last, account, book = await asyncio.gather(
            self._last_price(rules.symbol),
            self._account(user_id, credentials),
            self._client.book_ticker(rules.symbol),
        )
        reference = price if price is not None else book.ask_price
        kind = TicketKind.OTOCO if price is not None else TicketKind.ENTRY_OCO
        step, _ = quantity_step(rules, market=False)
        received = to_step(
            mul(intent.amount, 1 - _fee_rate(account, worst=True)), step, ROUND_FLOOR
        )
        plan = plan_exits(
            spec,
            rules=rules,
            reference=reference,
            quantity=received,
            limit_distance_pct=self._distance,
        )
        if not (plan.take_profit and plan.stop_loss):
            raise UserError(
                "A /buy carries both exits (a take-profit and a stop-loss, as one OCO); for "
                "one side, buy first, then /sl or /tp. Example: /buy BTC 0.01 tp +5% sl -3%"
            )
        if kind is TicketKind.OTOCO:
            _refused(check_list_allowed, rules, "OTO")
        await self._check(user_id, credentials, rules, plan, reference, kind)
        figures = await self._figures(plan, reference, account, rules, entry_fee=True)
        plain = dataclasses.replace(intent, exits=None)
        entry = await self._orders.preview(user_id, chat_id, plain, ttl, kind=kind, legs=plan.legs)
        return ExitPreview(entry.ticket, rules, plan, figures, last, reference, ttl, entry)

    async def _check(
        self,
        user_id: int,
        credentials: ApiCredentials,
        rules: SymbolRules,
        plan: ExitPlan,
        against: Decimal,
        kind: TicketKind,
    ) -> None:
        """Every rule Binance would apply to the legs (see the module docstring)."""
        for leg_type in {leg.order_type for leg in plan.legs}:
            _refused(check_order_type, rules, str(leg_type))
        if len(plan.legs) == 2:
            _refused(check_list_allowed, rules, "OCO")
            _check_oco(plan, against)
        for leg in plan.legs:
            references = await self._market.reference_prices(rules, str(leg.order_type))
            _refused(
                prepare_leg,
                rules,
                order_type=str(leg.order_type),
                side=leg.side,
                quantity=leg.quantity,
                price=leg.limit_price,
                stop_price=leg.stop_price,
                trailing_delta=leg.trailing_bps,
                last_price=against,
                references=references,
            )
        exchange = await self._market.exchange_filters()
        found = await self._open_orders.open_orders(user_id, credentials, None)
        counts = OpenOrderCounts.count(
            rules.symbol, [OpenOrder.from_order(o) for o in found], all_symbols=True
        )
        entry = 1 if kind is TicketKind.OTOCO else 0  # a market entry is gone when they go
        algo = sum(1 for leg in plan.legs if leg.order_type in ALGO_TYPES)
        lists = 1 if kind in (TicketKind.OCO, TicketKind.OTOCO) else 0
        added = len(plan.legs) + entry
        _refused(check_exit_counts, rules, exchange, counts, added, algo, lists)

    async def _figures(
        self,
        plan: ExitPlan,
        entry: Decimal,
        account: Account,
        rules: SymbolRules,
        *,
        entry_fee: bool,
    ) -> ExitFigures:
        rate = await self._market.usdt_value(rules.quote_asset, Decimal(1))
        return exit_figures(
            plan,
            entry=entry,
            fee_rate=_fee_rate(account, worst=False),
            quote_usdt=rate,
            balance_usdt=await self._total_usdt(account),
            entry_fee=entry_fee,
        )

    async def _total_usdt(self, account: Account) -> Decimal | None:
        """The account's worth in USDT, free and locked; None when an asset has no price."""
        total = Decimal(0)
        for balance in account.balances:
            if balance.total <= 0:
                continue
            value = await self._market.usdt_value(balance.asset, balance.total)
            if value is None:
                return None
            total += value
        return total

    async def _last_price(self, symbol: str) -> Decimal:
        """Triggers fire on the last trade price, so that is what they are judged against."""
        return (await self._client.ticker_price(symbol)).price

    async def _account(self, user_id: int, credentials: ApiCredentials) -> Account:
        return await self._balances.account(
            user_id, lambda: self._client.account(credentials, omit_zero=True)
        )


def _check_oco(plan: ExitPlan, against: Decimal) -> None:
    """Binance's OCO relation: the take-profit above the price, the stop below it. A stop that
    trails from placement has no trigger yet; its lowest first trigger stands for it."""
    tp, sl = plan.take_profit, plan.stop_loss
    if tp is None or sl is None:
        return
    above = tp.limit_price if tp.order_type is LegType.LIMIT_MAKER else tp.stop_price
    below = sl.stop_price if sl.stop_price is not None else sl.first_trigger
    if above is None or below is None:
        return
    _refused(
        check_oco_prices,
        "SELL",
        str(tp.order_type),
        above,
        below,
        against,
        below_type=str(sl.order_type),
    )


def _check_holding(rules: SymbolRules, plan: ExitPlan, free: Decimal, typed: bool) -> None:
    """An exit sells coins held: the free balance must cover it."""
    base = rules.base_asset
    if free <= 0:
        raise UserError(f"You hold no free {base} to protect. /balance shows what you hold.")
    if plan.quantity > free:
        raise UserError(
            f"Exit refused: you have {free.normalize():f} {base} free and the exit sells "
            f"{plan.quantity.normalize():f}. Type a smaller quantity, or none for all you hold."
        )
    if plan.quantity <= 0:
        what = "the quantity you typed" if typed else f"your free {base}"
        raise UserError(f"Exit refused: {what} is below {rules.symbol}'s smallest step.")


def _fee_rate(account: Account, *, worst: bool) -> Decimal:
    rates = account.commission
    if rates is None:
        return DEFAULT_FEE
    return max(rates.maker, rates.taker) if worst else rates.taker


def _refused(check: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run a rule check; a broken rule becomes the user's "Exit refused: ..." reply."""
    try:
        return check(*args, **kwargs)
    except OrderRuleViolation as exc:
        raise UserError(f"Exit refused: {exc.message}.") from None

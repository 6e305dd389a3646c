"""The order preview: what the user typed, rounded and checked as Binance would check it,
priced, and saved as a DRAFT ticket to confirm. Nothing is sent to Binance here.

A preview refuses (raises `UserError` with the rule and its limit) what Binance would refuse:
the symbol's status, every filter of the symbol against that filter's own reference price,
the open-order counts and MAX_POSITION, and the bot's own cap per order. An order the free
balance cannot cover is not refused but gets no Confirm: its ticket is closed at once
(CANCELLED, detail `NO_CONFIRM`), and the preview carries the largest order of the same kind
that fits instead (`LargestFit`), which `preview_largest` turns into a fresh preview.
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
from chatbot.exchange.filters import PreparedOrder, prepare_order
from chatbot.exchange.grid import (
    floor_div,
    format_decimal,
    mul,
    price_step,
    quantity_step,
    round_price,
    to_step,
)
from chatbot.exchange.models import Account
from chatbot.exchange.order_limits import (
    OpenOrder,
    OpenOrderCounts,
    check_open_orders,
    check_position,
    position,
)
from chatbot.exchange.reference_prices import ReferencePrices
from chatbot.exchange.rule_checks import OrderRuleViolation, check_status
from chatbot.exchange.symbol_rules import ExchangeFilters, SymbolRules
from chatbot.services.account_mirror import AccountMirror
from chatbot.services.exit_plan import ExitLeg
from chatbot.services.keys import KeyService
from chatbot.services.market import MarketService
from chatbot.services.open_orders import OpenOrderMirror
from chatbot.services.order_intent import OrderIntent, amount_in_quote
from chatbot.side import Side
from chatbot.storage.tickets import Ticket, TicketKind, TicketRepository, TicketState

P = ParamSpec("P")
R = TypeVar("R")
NO_CONFIRM = "no Confirm: the free balance does not cover it"


@dataclass(frozen=True)
class LargestFit:
    """The largest order like the previewed one that the free balance covers now.

    `amount` is a base quantity, or an amount of quote asset when `in_quote`; 0 when nothing
    is free. `refused` is the rule even that amount breaks (then no smaller order fits).
    """

    amount: Decimal
    in_quote: bool
    refused: OrderRuleViolation | None = None

    @property
    def offered(self) -> bool:
        return self.amount > 0 and self.refused is None


@dataclass(frozen=True)
class OrderPreview:
    ticket: Ticket
    rules: SymbolRules
    order: PreparedOrder
    typed_quantity: Decimal | None
    typed_price: Decimal | None
    price: Decimal  # the limit price, or the best ask (buy) / bid (sell) now
    quantity: Decimal  # base quantity (for an order by quote amount, what Binance will compute)
    cost: Decimal  # quote asset spent (buy) or received (sell), estimated for market orders
    fee: Decimal
    fee_asset: str
    fee_rate: Decimal
    spend_asset: str
    spend_needed: Decimal
    spend_free: Decimal
    ttl: int
    largest: LargestFit | None = None  # set when the balance cannot cover it: no Confirm then

    @property
    def insufficient(self) -> bool:
        return self.spend_free < self.spend_needed

    @property
    def confirmable(self) -> bool:
        return self.largest is None


@dataclass(frozen=True)
class _Market:
    """Everything a preview reads from Binance, fetched at once."""

    rules: SymbolRules
    best: Decimal  # best ask for a buy, best bid for a sell
    references: ReferencePrices
    account: Account
    open_orders: list[OpenOrder]
    counts: OpenOrderCounts
    exchange: ExchangeFilters


class OrderPreviewer:
    """Builds order previews; `OrderService` owns one and the handlers reach it through it."""

    def __init__(
        self,
        client: BinanceClient,
        keys: KeyService,
        market: MarketService,
        tickets: TicketRepository,
        *,
        balances: AccountMirror,
        open_orders: OpenOrderMirror,
        max_order_usdt: Decimal | None = None,
    ) -> None:
        self._client = client
        self._keys = keys
        self._market = market
        self._tickets = tickets
        self._balances = balances
        self._open_orders = open_orders
        self._max_usdt = max_order_usdt

    async def preview(
        self,
        user_id: int,
        chat_id: int,
        intent: OrderIntent,
        ttl: int,
        *,
        kind: TicketKind = TicketKind.ORDER,
        legs: tuple[ExitLeg, ...] = (),
    ) -> OrderPreview:
        """Round and check the order, price it, and save it as a ticket: DRAFT to confirm, or
        closed with `largest` set when the balance does not cover it. Raises UserError when a
        rule is broken. An OTOCO's entry is previewed here too, its `kind` and exit `legs`
        saved with it (`exit_preview.py`)."""
        rules, credentials, in_quote = await self._start(user_id, intent)
        market = await self._fetch(rules, credentials, intent, user_id)
        return await self._build(
            user_id, chat_id, intent, in_quote, market, ttl, kind=kind, legs=legs
        )

    async def preview_largest(self, ticket_id: str, user_id: int, ttl: int) -> OrderPreview:
        """The button under a preview without Confirm: a fresh preview (a new ticket) for the
        largest order like it that the free balance covers now. Balance and prices are read
        again, so the amount may differ from the button's by a step if the market moved.
        Only the ticket's owner may press it, and only once."""
        ticket = await self._tickets.get(ticket_id)
        if ticket is None or ticket.kind is not TicketKind.ORDER:
            raise UserError("This preview no longer exists: send the command again.")
        if ticket.user_id != user_id:
            raise UserError("This is not your order.")
        used = "This button was already used: send the command again."
        if ticket.state is not TicketState.CANCELLED or ticket.detail != NO_CONFIRM:
            raise UserError(used)
        rules = await self._market.resolve(ticket.symbol)
        amount = ticket.quote_quantity or ticket.quantity or Decimal(0)
        unit = rules.quote_asset if ticket.quote_quantity is not None else None
        side = ticket.side or Side.BUY
        intent = OrderIntent(side, rules.symbol, amount, unit, price=ticket.price)
        rules, credentials, in_quote = await self._start(user_id, intent)
        market = await self._fetch(rules, credentials, intent, user_id)
        fit = _largest_fit(market, intent, in_quote)
        if not fit.offered:
            raise UserError(f"No smaller order fits now: {_why_not(fit)}.")
        if not await self._tickets.move(
            ticket_id, (TicketState.CANCELLED,), TicketState.EXPIRED, detail="re-previewed"
        ):
            raise UserError(used)  # a second tap, a second device: one fresh preview only
        smaller = dataclasses.replace(intent, amount=fit.amount)
        return await self._build(user_id, ticket.chat_id, smaller, in_quote, market, ttl)

    async def _start(
        self, user_id: int, intent: OrderIntent
    ) -> tuple[SymbolRules, ApiCredentials, bool]:
        rules = await self._market.resolve(intent.symbol)
        _refused(check_status, rules)
        credentials = await self._keys.credentials(user_id)
        return rules, credentials, amount_in_quote(intent, rules)

    async def _fetch(
        self,
        rules: SymbolRules,
        credentials: ApiCredentials,
        intent: OrderIntent,
        user_id: int,
    ) -> _Market:
        """The balances and open orders come from the user-data stream's record once known
        (`AccountMirror`, `OpenOrderMirror`): a preview asks Binance only for prices."""
        order_type = "LIMIT" if intent.price is not None else "MARKET"
        exchange = await self._market.exchange_filters()
        book, references, account, (orders, counts) = await asyncio.gather(
            self._client.book_ticker(rules.symbol),
            self._market.reference_prices(rules, order_type),
            self._balances.account(
                user_id, lambda: self._client.account(credentials, omit_zero=True)
            ),
            self._limited_orders(user_id, credentials, rules, exchange),
        )
        best = book.ask_price if intent.side is Side.BUY else book.bid_price
        return _Market(rules, best, references, account, orders, counts, exchange)

    async def _limited_orders(
        self,
        user_id: int,
        credentials: ApiCredentials,
        rules: SymbolRules,
        exchange: ExchangeFilters,
    ) -> tuple[list[OpenOrder], OpenOrderCounts]:
        """Only what the limits need: every symbol's open orders when an exchange filter
        exists, else the symbol's when it has a count or position filter."""
        every = exchange.any
        if not (every or rules.max_num_orders or rules.max_num_algo_orders or rules.max_position):
            return [], OpenOrderCounts(0, 0)
        symbol = None if every else rules.symbol
        found = await self._open_orders.open_orders(user_id, credentials, symbol)
        orders = [
            OpenOrder(o.symbol, o.side, o.type, max(o.orig_qty - o.executed_qty, Decimal(0)))
            for o in found
        ]
        return orders, OpenOrderCounts.count(rules.symbol, orders, all_symbols=every)

    async def _build(
        self,
        user_id: int,
        chat_id: int,
        intent: OrderIntent,
        in_quote: bool,
        market: _Market,
        ttl: int,
        *,
        kind: TicketKind = TicketKind.ORDER,
        legs: tuple[ExitLeg, ...] = (),
    ) -> OrderPreview:
        rules, side = market.rules, intent.side
        order_type = "LIMIT" if intent.price is not None else "MARKET"
        prepared = _refused(
            prepare_order,
            rules,
            side=side,
            order_type=order_type,
            quantity=None if in_quote else intent.amount,
            quote_quantity=intent.amount if in_quote else None,
            price=intent.price,
            references=market.references,
            best_price=market.best,
        )
        quantity = prepared.quantity or prepared.expected_quantity or Decimal(0)
        _refused(check_open_orders, rules, market.exchange, order_type, market.counts)
        balance = market.account.balance(rules.base_asset)
        held = position(rules, balance.free, balance.locked, market.open_orders)
        _refused(check_position, rules, side, quantity, held)
        price = prepared.price if prepared.price is not None else market.best
        await self._check_cap(rules, prepared, price)
        ticket = await self._tickets.create(
            user_id=user_id,
            chat_id=chat_id,
            kind=kind,
            symbol=rules.symbol,
            side=side,
            order_type=order_type,
            quantity=prepared.quantity,
            quote_quantity=prepared.quote_quantity,
            price=prepared.price,
            preview_price=market.best,
            legs=legs,
        )
        preview = _priced(ticket, prepared, intent, price, quantity, market, ttl)
        if not preview.insufficient:
            return preview
        # No Confirm: close the ticket before anyone sees its id, so no press can claim it.
        await self._tickets.move(
            ticket.id, (TicketState.DRAFT,), TicketState.CANCELLED, detail=NO_CONFIRM
        )
        closed = dataclasses.replace(ticket, state=TicketState.CANCELLED, detail=NO_CONFIRM)
        fit = _largest_fit(market, intent, in_quote)
        return dataclasses.replace(preview, ticket=closed, largest=fit)

    async def _check_cap(self, rules: SymbolRules, order: PreparedOrder, price: Decimal) -> None:
        if self._max_usdt is None:
            return
        notional = order.quote_quantity or mul(order.quantity or Decimal(0), price)
        value = await self._market.usdt_value(rules.quote_asset, notional)
        if value is not None and value > self._max_usdt:
            raise UserError(
                f"Order refused: this bot allows at most {format_decimal(self._max_usdt)} USDT "
                f"per order; this one is about {format_decimal(value, 2)} USDT."
            )


def _refused(check: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run a rule check; a broken rule becomes the user's "Order refused: ..." reply."""
    try:
        return check(*args, **kwargs)
    except OrderRuleViolation as exc:
        raise UserError(f"Order refused: {exc.message}.") from None


def _largest_fit(market: _Market, intent: OrderIntent, in_quote: bool) -> LargestFit:
    """The largest amount like `intent`'s that the free balance covers and the filters pass:
    a buy at the limit price or the best ask (its fee is taken from what it buys), a sell of
    the free base asset; rounded down to the step, or for an amount of quote asset to the tick.
    """
    rules, side, best = market.rules, intent.side, market.best
    buying = side is Side.BUY
    free_quote = market.account.balance(rules.quote_asset).free
    free_base = market.account.balance(rules.base_asset).free
    order_type = "LIMIT" if intent.price is not None else "MARKET"
    if in_quote:
        spendable = free_quote if buying else mul(free_base, best)
        amount = to_step(spendable, price_step(rules), ROUND_FLOOR)
    else:
        step, _ = quantity_step(rules, market=intent.price is None)
        limit = intent.price
        price = best if limit is None else round_price(rules, limit, side)
        if buying:
            amount = floor_div(free_quote, price, step)
        else:
            amount = to_step(free_base, step, ROUND_FLOOR)
    if amount <= 0:
        return LargestFit(Decimal(0), in_quote)
    try:
        prepare_order(
            rules,
            side=side,
            order_type=order_type,
            quantity=None if in_quote else amount,
            quote_quantity=amount if in_quote else None,
            price=intent.price,
            references=market.references,
            best_price=best,
        )
    except OrderRuleViolation as exc:
        return LargestFit(amount, in_quote, exc)
    return LargestFit(amount, in_quote)


def _why_not(fit: LargestFit) -> str:
    if fit.refused is not None:
        return fit.refused.message
    return "you have none of it free"


def _priced(
    ticket: Ticket,
    order: PreparedOrder,
    intent: OrderIntent,
    price: Decimal,
    quantity: Decimal,
    market: _Market,
    ttl: int,
) -> OrderPreview:
    """Cost, fee and balance figures for the preview (market figures are estimates). Binance
    charges the fee in the asset received, so a buy's fee is in the base asset. An order by
    quote amount needs that amount (a buy) or the base quantity it sells."""
    rules, account = market.rules, market.account
    cost = order.quote_quantity if order.quote_quantity is not None else mul(quantity, price)
    buying = intent.side is Side.BUY
    rates = account.commission
    maker, taker = (rates.maker, rates.taker) if rates else (Decimal("0.001"), Decimal("0.001"))
    crosses = order.price is not None and (
        order.price >= market.best if buying else order.price <= market.best
    )
    fee_rate = maker if order.price is not None and not crosses else taker
    spend_asset = rules.quote_asset if buying else rules.base_asset
    return OrderPreview(
        ticket=ticket,
        rules=rules,
        order=order,
        typed_quantity=None if order.quote_quantity is not None else intent.amount,
        typed_price=intent.price,
        price=price,
        quantity=quantity,
        cost=cost,
        fee=mul(quantity if buying else cost, fee_rate),
        fee_asset=rules.base_asset if buying else rules.quote_asset,
        fee_rate=fee_rate,
        spend_asset=spend_asset,
        spend_needed=cost if buying else quantity,
        spend_free=account.balance(spend_asset).free,
        ttl=ttl,
    )

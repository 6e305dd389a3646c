"""Profit and loss by average cost, in USDT: pure arithmetic over priced trades and transfers.

Every asset other than USDT has a book: the quantity held and what it cost in USDT.
- A buy adds the quantity received at its cost: the quote paid × the quote's USDT rate at the
  trade's time, plus the fee's USDT value when the fee was paid in another asset (BNB, the
  quote). A fee taken from the asset bought is already in the quantity received (fewer units
  for the same cost), so it is not added again.
- A sell realizes: proceeds (quote received × rate, less a fee paid in another asset) −
  average cost × the quantity given up (a fee taken from the asset sold is given up too).
- Trading against a quote other than USDT (ETHBTC) also disposes of (buy) or acquires (sell)
  the quote: that leg realizes on the quote's own book, with no fee of its own.
- A fee paid in a third asset (BNB) takes that quantity off its book at average cost.
- A deposit adds to the book at its USDT value at that time (cost, not profit); a withdrawal
  takes the quantity off at average cost (no profit).
- A sale or withdrawal of more than the book holds (coins held before the history the bot could
  read) has no known cost: the excess is counted at the sale's own price, i.e. at zero profit,
  and reported as `sold_unknown`; what is held now beyond the book, as `held_unknown`.

The period (`since_ms`) filters what is counted (realized, fees, trades, wins); the average cost
always comes from the whole history, since a sale in the period may sell what was bought
before it. Unrealized: each book at the current price − its cost. Everything is Decimal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from chatbot.storage.trade_history import StoredFill, Transfer

USDT = "USDT"
ZERO = Decimal(0)


@dataclass(frozen=True)
class PricedTrade:
    """A fill with its symbol's assets and the USDT rates at its time (None: unknown)."""

    trade: StoredFill
    base: str
    quote: str
    quote_rate: Decimal | None
    fee_rate: Decimal | None = None  # of a fee asset that is neither base nor quote


@dataclass(frozen=True)
class PricedTransfer:
    transfer: Transfer
    rate: Decimal | None


@dataclass(frozen=True)
class LedgerRow:
    """One fill as the CSV shows it: `cost_basis` is what a buy added to the book or what a
    sell took off it; `realized` is a sell's result (None for a buy)."""

    trade: StoredFill
    base: str
    quote: str
    usdt_rate: Decimal  # of the quote
    fee_usdt: Decimal
    cost_basis: Decimal
    realized: Decimal | None


@dataclass
class AssetResult:
    asset: str
    realized: Decimal = ZERO
    fees: Decimal = ZERO
    trades: int = 0
    sells: int = 0  # sells that realized (the win rate's denominator)
    wins: int = 0
    quantity: Decimal = ZERO  # the book: quantity whose cost is known
    cost: Decimal = ZERO
    unrealized: Decimal | None = None  # None: no price now, or nothing held
    sold_unknown: Decimal = ZERO  # sold or withdrawn beyond the book: counted at zero profit
    held_unknown: Decimal = ZERO  # held now beyond the book: left out of unrealized


@dataclass
class Figures:
    assets: dict[str, AssetResult] = field(default_factory=dict)
    rows: list[LedgerRow] = field(default_factory=list)
    curve: list[tuple[int, Decimal]] = field(default_factory=list)  # cumulative realized
    unpriced: set[str] = field(default_factory=set)  # assets left out for want of a rate

    def only(self, asset: str | None) -> list[AssetResult]:
        chosen = [self.assets[asset]] if asset in self.assets else []
        return chosen if asset else sorted(self.assets.values(), key=lambda r: r.asset)

    @property
    def realized(self) -> Decimal:
        return sum((r.realized for r in self.assets.values()), ZERO)

    @property
    def unrealized(self) -> Decimal:
        return sum((r.unrealized or ZERO for r in self.assets.values()), ZERO)


class _Ledger:
    def __init__(self, since_ms: int | None) -> None:
        self.since = since_ms
        self.figures = Figures()

    def result(self, asset: str) -> AssetResult:
        return self.figures.assets.setdefault(asset, AssetResult(asset))

    def counts(self, time_ms: int) -> bool:
        return self.since is None or time_ms >= self.since

    def add(self, asset: str, qty: Decimal, cost: Decimal) -> None:
        if asset != USDT:
            book = self.result(asset)
            book.quantity += qty
            book.cost += cost

    def remove(self, asset: str, qty: Decimal, price: Decimal) -> Decimal:
        """Take `qty` off the book; returns its cost (the excess over the book at `price`)."""
        if asset == USDT:
            return qty
        book = self.result(asset)
        known = min(qty, max(book.quantity, ZERO))
        cost = book.cost * known / book.quantity if known > 0 else ZERO
        book.quantity -= known
        book.cost -= cost
        excess = qty - known
        book.sold_unknown += excess
        return cost + excess * price

    def realize(self, asset: str, amount: Decimal, time_ms: int) -> None:
        if asset != USDT and self.counts(time_ms):
            self.result(asset).realized += amount
            total = self.figures.realized
            self.figures.curve.append((time_ms, total))


def compute(
    trades: list[PricedTrade],
    transfers: list[PricedTransfer],
    *,
    since_ms: int | None = None,
) -> Figures:
    """Run every trade and transfer in time order (see the module docstring)."""
    ledger = _Ledger(since_ms)
    events: list[tuple[int, int, PricedTrade | PricedTransfer]] = [
        (p.trade.time, 0, p) for p in trades
    ]
    events += [(p.transfer.time_ms, 1, p) for p in transfers]
    for _, _, event in sorted(events, key=lambda e: (e[0], e[1])):
        if isinstance(event, PricedTrade):
            _trade(ledger, event)
        else:
            _transfer(ledger, event)
    return ledger.figures


def value_now(figures: Figures, prices: dict[str, Decimal], held: dict[str, Decimal]) -> None:
    """Fill in each book's unrealized result at `prices` (USDT per unit now), over no more
    than is `held` now, and what is held beyond the book (cost unknown)."""
    for asset in held:
        if asset != USDT and asset not in figures.assets:
            figures.assets[asset] = AssetResult(asset)
    for asset, result in figures.assets.items():
        balance = held.get(asset, ZERO)
        extra = balance - max(result.quantity, ZERO)
        result.held_unknown = max(extra, ZERO)
        qty = min(max(result.quantity, ZERO), balance)
        price = prices.get(asset)
        if qty > 0 and price is not None:
            result.unrealized = price * qty - result.cost * qty / result.quantity


def _trade(ledger: _Ledger, priced: PricedTrade) -> None:
    t, base, quote = priced.trade, priced.base, priced.quote
    if priced.quote_rate is None:
        ledger.figures.unpriced.add(quote)
        return
    rate = priced.quote_rate
    value = t.quote_qty * rate
    base_rate = value / t.qty if t.qty else ZERO
    fee_usdt, fee_known = _fee(priced, base_rate)
    if not fee_known:
        ledger.figures.unpriced.add(t.commission_asset)
    fee_base = t.commission if t.commission_asset == base else ZERO
    fee_quote = t.commission if t.commission_asset == quote else ZERO
    other_fee = t.commission_asset not in (base, quote)
    counted = ledger.counts(t.time)
    result = ledger.result(base)
    if counted:
        result.trades += 1
        result.fees += fee_usdt
    if t.is_buyer:
        cost = value if fee_base else value + fee_usdt
        ledger.add(base, t.qty - fee_base, cost)
        _quote_leg(ledger, quote, -(t.quote_qty + fee_quote), rate, t.time)
        realized = None
    else:
        cost = ledger.remove(base, t.qty + fee_base, base_rate)
        proceeds = value if fee_base else value - fee_usdt
        realized = proceeds - cost
        ledger.realize(base, realized, t.time)
        if counted:
            result.sells += 1
            result.wins += realized > 0
        _quote_leg(ledger, quote, t.quote_qty - fee_quote, rate, t.time)
    if other_fee and t.commission_asset != USDT:
        ledger.remove(t.commission_asset, t.commission, priced.fee_rate or ZERO)
    ledger.figures.rows.append(LedgerRow(t, base, quote, rate, fee_usdt, cost, realized))


def _fee(priced: PricedTrade, base_rate: Decimal) -> tuple[Decimal, bool]:
    """The fee in USDT, and whether its rate was known (an unknown one counts as zero)."""
    t = priced.trade
    if t.commission_asset == USDT:
        return t.commission, True
    if t.commission_asset == priced.base:
        return t.commission * base_rate, True
    if t.commission_asset == priced.quote:
        return t.commission * (priced.quote_rate or ZERO), True
    if priced.fee_rate is None:
        return ZERO, not t.commission
    return t.commission * priced.fee_rate, True


def _quote_leg(ledger: _Ledger, quote: str, qty: Decimal, rate: Decimal, time_ms: int) -> None:
    """The quote side of a trade: acquired (qty > 0) or disposed of, at `rate`."""
    if quote == USDT or not qty:
        return
    if qty > 0:
        ledger.add(quote, qty, qty * rate)
    else:
        cost = ledger.remove(quote, -qty, rate)
        ledger.realize(quote, -qty * rate - cost, time_ms)


def _transfer(ledger: _Ledger, priced: PricedTransfer) -> None:
    t = priced.transfer
    if t.asset == USDT:
        return
    if t.amount > 0:
        if priced.rate is None:
            ledger.figures.unpriced.add(t.asset)
            return
        ledger.add(t.asset, t.amount, t.amount * priced.rate)
    else:
        ledger.remove(t.asset, -t.amount, priced.rate or ZERO)

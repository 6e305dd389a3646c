"""The chat text of the futures commands (/price BTCUSDT.P, /fprice, /trades BTCUSDT.P,
/funding), rendered from the futures market service's typed answers.

Funding rates arrive as fractions (0.0001 per period) and are shown as percentages with four
decimals and a sign (`+0.0100%`), as Binance's own pages show them: a rate's sign says who
pays, so `0.01%` and `-0.01%` must never look alike. Prices keep the contract's tick.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from chatbot.exchange.futures_models import FuturesContract, PremiumIndex
from chatbot.exchange.grid import places
from chatbot.exchange.market_models import MarketTrade
from chatbot.services.futures_market import FundingView, FuturesQuote, futures_key
from handlers.common import esc, num

_RATE_PLACES = Decimal("0.0001")  # of a percentage: 0.0100%


def contract_price_places(contract: FuturesContract) -> int:
    """Decimals of a price of this contract: its tick's, else its `pricePrecision`."""
    return places(contract.tick_size) if contract.tick_size else contract.price_precision


def funding_pct(rate: Decimal) -> str:
    """A funding rate (a fraction) as a signed percentage: 0.0001 -> `+0.0100%`."""
    pct = (rate * 100).quantize(_RATE_PLACES)
    sign = "+" if pct > 0 else ""
    return f"{sign}{pct:f}%"


def countdown(from_ms: int, to_ms: int) -> str:
    """The time left between two instants, to the minute: `3h 12m`, `45m`, `under 1m`."""
    minutes = max(0, to_ms - from_ms) // 60_000
    if minutes == 0:
        return "under 1m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}m" if hours else f"{minutes}m"


def render_futures_quote(quote: FuturesQuote) -> str:
    """What /price BTCUSDT.P shows: last price and 24 h statistics as for spot, then mark and
    index price, funding and open interest."""
    contract, ticker, premium = quote.contract, quote.ticker, quote.premium
    quote_asset, price_at = esc(contract.quote_asset), contract_price_places(contract)
    change = ticker.price_change_percent
    arrow = "▲" if change > 0 else "▼" if change < 0 else "•"
    sign = "+" if change > 0 else ""
    interest = quote.open_interest.open_interest
    return "\n".join(
        [
            f"<b>{esc(quote.key)}</b>  {num(ticker.last_price, price_at)} {quote_asset}"
            f"  {arrow} {sign}{num(change, 2)}%",
            f"Mark {num(premium.mark_price, price_at)} · index "
            f"{num(premium.index_price, price_at)}",
            f"24h high {num(ticker.high_price, price_at)} · low {num(ticker.low_price, price_at)}",
            f"24h volume {num(ticker.quote_volume, 0)} {quote_asset}",
            _funding_line(premium),
            f"Open interest {num(interest, contract.quantity_precision)} "
            f"{esc(contract.base_asset)} (≈ {num(interest * premium.mark_price, 0)} "
            f"{quote_asset})",
        ]
    )


def _funding_line(premium: PremiumIndex) -> str:
    if premium.last_funding_rate is None or not premium.next_funding_time:
        return "Funding: none on this contract"
    return (
        f"Funding {funding_pct(premium.last_funding_rate)} · next in "
        f"{countdown(premium.time, premium.next_funding_time)}"
    )


def render_funding(view: FundingView) -> str:
    """What /funding BTCUSDT.P shows: the current rate, the next settlement and the last
    settled rates, newest first."""
    premium, key = view.premium, futures_key(view.contract.symbol)
    lines = [f"<b>{esc(key)}</b> funding"]
    if premium.last_funding_rate is None or not premium.next_funding_time:
        lines.append("No funding on this contract.")
    else:
        lines.append(
            f"Now {funding_pct(premium.last_funding_rate)} · next settlement "
            f"{_utc(premium.next_funding_time)} UTC (in "
            f"{countdown(premium.time, premium.next_funding_time)})"
        )
    if view.history:
        lines += [f"Last {len(view.history)} settled (UTC):", "<pre>"]
        lines += [
            f"{_utc(f.funding_time, '%m-%d %H:%M')}  {funding_pct(f.funding_rate):>9}"
            for f in view.history
        ]
        lines.append("</pre>")
    return "\n".join(lines)


def render_extremes(highest: list[PremiumIndex], lowest: list[PremiumIndex]) -> str:
    """What /funding without symbols shows: the contracts paid most by each side now."""
    if not highest and not lowest:
        return "No perpetual has a positive or negative funding rate right now."
    lines = ["<b>Funding rates now</b> (longs pay shorts when positive)"]
    for title, rows in (("Highest", highest), ("Lowest", lowest)):
        if rows:
            lines += [f"{title}:", "<pre>", *_rate_rows(rows), "</pre>"]
    lines.append("One contract's history: /funding BTC")
    return "\n".join(lines)


def _rate_rows(rows: list[PremiumIndex]) -> list[str]:
    width = max(len(futures_key(p.symbol)) for p in rows)
    rates = [funding_pct(p.last_funding_rate or Decimal(0)) for p in rows]
    return [
        f"{futures_key(p.symbol):<{width}}  {rate:>9}" for p, rate in zip(rows, rates, strict=True)
    ]


def render_futures_trades(contract: FuturesContract, recent: list[MarketTrade]) -> str:
    """What /trades BTCUSDT.P shows, laid out like the spot command's."""
    key = futures_key(contract.symbol)
    return render_trade_lines(
        key, recent, contract_price_places(contract), contract.quantity_precision
    )


def render_trade_lines(
    title: str, recent: list[MarketTrade], price_at: int, quantity_at: int
) -> str:
    """Trades newest first, one line each, for spot and futures alike."""
    if not recent:
        return f"No recent trades on {esc(title)}."
    lines = [f"<b>{esc(title)}</b> last {len(recent)} trades (UTC)", "<pre>"]
    for trade in recent:
        side = "SELL" if trade.is_buyer_maker else "BUY "
        lines.append(
            f"{_utc(trade.time, '%H:%M:%S')} {side} {num(trade.price, price_at):>12} "
            f"× {num(trade.qty, quantity_at)}"
        )
    lines.append("</pre>")
    return "\n".join(lines)


def _utc(ms: int, form: str = "%Y-%m-%d %H:%M") -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime(form)

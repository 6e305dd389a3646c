"""/pnl: profit and loss from the user's own trades, as text, a chart or a CSV for taxes.

    /pnl [today|7d|30d|ytd|all] [ASSET]   the figures (default: all)
    /pnl chart [PERIOD]                   the curve as a picture
    /pnl csv [PERIOD]                     every fill with its cost basis, as a document

While the history is read, one message shows the progress and is edited in place; the report
replaces it when done.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from telegram import Message, Update
from telegram.constants import ChatAction
from telegram.error import TelegramError

from chatbot.services.pnl import AssetResult, LedgerRow
from chatbot.services.pnl_report import Period, PnlReport
from chatbot.services.trade_history import TransferHistory
from handlers.common import (
    chat_of,
    delete_quietly,
    edit,
    esc,
    num,
    reply,
    split_message,
    typing,
    user_id,
)
from handlers.context import BotContext
from handlers.parsing import CommandError

USAGE = (
    "Type it like /pnl, /pnl 30d, /pnl 7d BTC, /pnl chart or /pnl csv "
    "(periods: today, 7d, 30d, ytd, all)"
)
_ASSET = re.compile(r"^[A-Z0-9]{2,20}$")
PROGRESS_EVERY = 1.0  # seconds between edits of the progress message


@dataclass(frozen=True)
class PnlRequest:
    form: str  # "text", "chart" or "csv"
    period: Period
    asset: str | None


def parse_pnl(args: list[str]) -> PnlRequest:
    """`[chart|csv] [PERIOD] [ASSET]` in any order; raises CommandError with the usage."""
    form, period, asset = "text", None, None
    periods = {p.value: p for p in Period}
    for word in args:
        low = word.lower()
        if low in ("chart", "csv") and form == "text":
            form = low
        elif low in periods and period is None:
            period = periods[low]
        elif re.match(r"^\d+[a-z]+$", low):
            raise CommandError(f"Unknown period “{esc(word[:20])}”. {USAGE}")
        elif _ASSET.match(word.upper()) and asset is None:
            asset = word.upper()
        else:
            raise CommandError(f"I don't understand “{esc(word[:20])}”. {USAGE}")
    if form != "text" and asset is not None:
        raise CommandError(f"/pnl {form} takes a period only, like /pnl {form} ytd")
    return PnlRequest(form, period or Period.ALL, asset)


class ProgressMessage:
    """One message that says how far the build got, edited at most once a second."""

    def __init__(self, update: Update) -> None:
        self._update = update
        self.message: Message | None = None
        self._edited_at = 0.0

    async def step(self, done: int, total: int) -> None:
        text = f"Reading your trades: {done} of {total} symbols…"
        with contextlib.suppress(TelegramError):  # progress is a courtesy: never fail the build
            if self.message is None:
                self.message = await reply(self._update, text)
                self._edited_at = time.monotonic()
            elif time.monotonic() - self._edited_at >= PROGRESS_EVERY:
                self._edited_at = time.monotonic()
                await edit(self.message, text)

    async def finish(self, text: str) -> None:
        """Replace the progress message with `text` (more parts follow as new messages)."""
        first, *rest = split_message(text)
        if self.message is None:
            await reply(self._update, text)
            return
        await edit(self.message, first)
        for part in rest:
            await reply(self._update, part)


async def pnl(update: Update, context: BotContext) -> None:
    """/pnl [today|7d|30d|ytd|all] [ASSET] | chart | csv: see the module docstring."""
    request = parse_pnl(context.args or [])
    progress = ProgressMessage(update)
    service = context.services.pnl
    try:
        async with typing(update):
            report = await service.report(
                user_id(update), request.period, request.asset, progress.step
            )
    except BaseException:
        await delete_quietly(progress.message)  # the error's reply says what happened
        raise
    if request.form == "text":
        await progress.finish(render_pnl(report))
        return
    await progress.finish(render_read(report))
    chat = chat_of(update)
    if request.form == "chart":
        async with typing(update, ChatAction.UPLOAD_PHOTO, after=0):
            png = await service.chart(report)
        await chat.send_photo(png, caption=chart_caption(report))
    else:
        await chat.send_document(
            render_csv(report).encode(),
            filename=f"pnl-{report.period.value}.csv",
            caption=f"Your fills ({_period_words(report)}) with their cost basis, in USDT.",
        )


def render_pnl(report: PnlReport) -> str:
    figures = report.figures
    results = [r for r in figures.only(report.asset) if r.trades or r.realized or r.unrealized]
    what = f" on {esc(report.asset)}" if report.asset else ""
    lines = [f"<b>Profit and loss{what}</b> ({_period_words(report)}, USDT)"]
    if not results:
        lines.append("No trades counted in this period.")
    lines += [_asset_line(r) for r in results]
    realized = sum((r.realized for r in results), Decimal(0))
    unrealized = sum((r.unrealized or Decimal(0) for r in results), Decimal(0))
    fees = sum((r.fees for r in results), Decimal(0))
    trades = sum(r.trades for r in results)
    sells, wins = sum(r.sells for r in results), sum(r.wins for r in results)
    lines.append(f"<b>Realized {_signed(realized)}</b> · unrealized {_signed(unrealized)}")
    rate = f"{num(Decimal(wins * 100) / sells, 0)}% of {sells} sells" if sells else "no sells"
    lines.append(f"Fees {num(fees, 2)} · {trades} trades · win rate {rate}")
    lines.append("")
    lines += _notes(report)
    return "\n".join(lines)


def render_read(report: PnlReport) -> str:
    symbols = report.read.symbols
    more = f" and {len(symbols) - 12} more" if len(symbols) > 12 else ""
    shown = ", ".join(symbols[:12]) + more
    return f"Read {len(symbols)} symbols: {esc(shown) or 'none'}."


def chart_caption(report: PnlReport) -> str:
    total = report.figures.realized + report.figures.unrealized
    return (
        f"Cumulative realized profit after fees ({_period_words(report)}); the last point "
        f"adds today's unrealized: {_signed(total)} USDT"
    )


CSV_COLUMNS = (
    "time_utc", "symbol", "side", "qty", "price", "quote_qty", "fee", "fee_asset",
    "quote_usdt_rate", "fee_usdt", "cost_basis_usdt", "realized_usdt",
)  # fmt: skip


def render_csv(report: PnlReport) -> str:
    """Every fill of the period, oldest first; amounts as exact decimals."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    since = report.since_ms or 0
    for row in report.figures.rows:
        if row.trade.time >= since:
            writer.writerow(_csv_row(row))
    return out.getvalue()


def _csv_row(row: LedgerRow) -> list[str]:
    t = row.trade
    when = datetime.fromtimestamp(t.time / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
    realized = "" if row.realized is None else _plain(row.realized)
    return [
        when, t.symbol, "BUY" if t.is_buyer else "SELL", _plain(t.qty), _plain(t.price),
        _plain(t.quote_qty), _plain(t.commission), t.commission_asset, _plain(row.usdt_rate),
        _plain(row.fee_usdt), _plain(row.cost_basis), realized,
    ]  # fmt: skip


def _plain(value: Decimal) -> str:
    """Exact, without exponent, at most 8 decimals (Binance's precision)."""
    return f"{value.quantize(Decimal('0.00000001')).normalize():f}"


def _asset_line(r: AssetResult) -> str:
    parts = [f"<b>{esc(r.asset)}</b> realized {_signed(r.realized)}"]
    if r.unrealized is not None:
        parts.append(f"unrealized {_signed(r.unrealized)}")
    if r.trades:
        parts.append(f"{r.trades} trades")
    return " · ".join(parts)


def _notes(report: PnlReport) -> list[str]:
    notes = [render_read(report)]
    history = report.read.transfer_history
    if history is not TransferHistory.READ:
        where = "on this network" if history is TransferHistory.NO_SAPI else "with this key"
        since = report.following_since.strftime("%Y-%m-%d")
        notes.append(
            f"Deposits and withdrawals before {since} could not be read {where}: counted "
            "only those seen live since."
        )
    figures = report.figures
    held = [r for r in figures.only(report.asset) if r.held_unknown > 0]
    if held:
        listed = ", ".join(f"{num(r.held_unknown)} {esc(r.asset)}" for r in held)
        notes.append(f"Held with no known cost (bought before what could be read): {listed}.")
    sold = [r for r in figures.only(report.asset) if r.sold_unknown > 0]
    if sold:
        listed = ", ".join(f"{num(r.sold_unknown)} {esc(r.asset)}" for r in sold)
        notes.append(f"Sold with no known cost, counted at zero profit: {listed}.")
    if figures.unpriced:
        notes.append(f"No USDT price for {esc(', '.join(sorted(figures.unpriced)))}: left out.")
    notes.append("Average cost; each trade converted at the USDT price of its own time.")
    return notes


def _period_words(report: PnlReport) -> str:
    words = {
        Period.TODAY: "today",
        Period.DAYS_7: "last 7 days",
        Period.DAYS_30: "last 30 days",
        Period.YTD: "this year",
        Period.ALL: "all time",
    }
    return words[report.period]


def _signed(value: Decimal) -> str:
    return f"{'+' if value > 0 else ''}{num(value, 2)}"

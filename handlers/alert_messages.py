"""The alert messages: the reply to a new alert (and its backtest line), /alerts, and what the
outbox sends when alerts fire or expire. The words of each kind's condition are
`alert_texts.py`'s; this module lays them out in messages."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from chatbot.services.alert_kinds import (
    AlertKind,
    Condition,
    Expiry,
    FundingLevel,
    IndicatorCondition,
    Move,
    VolumeSpike,
    condition_from_json,
)
from chatbot.services.alerts import NewAlert
from chatbot.services.backtest import BacktestResult
from chatbot.services.futures_market import contract_of
from chatbot.storage.alerts import AlertRecord, AlertState
from chatbot.storage.outbox import AlertEvent, FiredAlert
from handlers.alert_texts import (
    backtest_line,
    condition_text,
    expired_text,
    expires_in,
    expiry_text,
    fired_text,
    funding_text,
    window_text,
)
from handlers.common import esc, num

MAX_TEXT = 4096
BACKTEST_PENDING = "⏳ Backtest over the last 90 days: reading the candles…"
BACKTEST_FAILED = "The backtest could not be computed now (Binance did not answer in time)."


def shown(kind: str, params: str | None, stored: str, symbol: str = "") -> str:
    """An alert's condition in words: a price level as it was stored when set ("≥ 70000",
    "+5% (≥ 73500)"; on a perpetual's `symbol`, "mark price ≥ 70000"), the other kinds
    worded from their JSON."""
    condition = _condition(kind, params)
    if condition is not None:
        return condition_text(condition)
    return f"mark price {stored}" if contract_of(symbol) is not None else stored


def fired_value(kind: str, value: Decimal | None) -> str:
    """What an alert fired at: a price, or a funding alert's rate."""
    if kind == AlertKind.FUNDING and value is not None:
        return funding_text(value)
    return num(value)


def _condition(kind: str, params: str | None) -> Condition | None:
    if kind == AlertKind.PRICE or not params:
        return None
    try:
        return condition_from_json(AlertKind(kind), params)
    except ValueError:
        return None


def render_new(new: NewAlert, now: float, expiry: Expiry | None = None) -> str:
    """The reply to a new alert; `expiry` as the user typed it (else the time left)."""
    record = new.record
    extra = " · repeats" if record.repeat else ""
    if expiry is not None:
        extra += f" · {expiry_text(expiry, datetime.fromtimestamp(now, UTC).date())}"
    elif record.expires_at is not None:
        extra += f" · {expires_in(record.expires_at, now)}"
    condition = shown(record.kind, record.params, record.condition, record.symbol)
    note = f"\nNote: {esc(record.note)}" if record.note else ""
    return (
        f"🔔 Alert #{record.id} set: {esc(record.symbol)} {esc(condition)}{extra}\n"
        f"{_now_line(new, _condition(record.kind, record.params))}{note}"
    )


def _now_line(new: NewAlert, condition: Condition | None) -> str:
    if condition is None and contract_of(new.record.symbol) is not None:
        return (
            f"Mark price now {num(new.price)}, {num(abs(new.distance_pct), 2)}% away. "
            "Checked on every mark price update (each second)."
        )
    if condition is None:
        return f"Now {num(new.price)}, {num(abs(new.distance_pct), 2)}% away."
    if isinstance(condition, FundingLevel):
        rate = "" if new.rate is None else f"Funding rate now {funding_text(new.rate)}, "
        return f"{rate}mark price {num(new.price)}. Checked on every mark price update."
    if isinstance(condition, Move):
        change = "" if new.change is None else f"; {_signed(new.change)}% over the last "
        window = window_text(condition.window) if change else ""
        return f"Now {num(new.price)}{change}{window}. Checked on every trade."
    if isinstance(condition, VolumeSpike):
        return f"Now {num(new.price)}. Checked on every update of the {condition.interval} candle."
    if isinstance(condition, IndicatorCondition):
        return f"Now {num(new.price)}. Checked at each {condition.interval} close, on a crossing."
    return f"Now {num(new.price)}."


def render_backtest(result: BacktestResult | None) -> str:
    """The line under a new alert (None: the backtest failed)."""
    if result is None:
        return BACKTEST_FAILED
    days = int(result.span_days)
    return backtest_line(result.fired, result.median_move_24h, days)


def render_list(records: list[AlertRecord], down_since: float | None, now: float) -> str:
    """One message at most: the most recent alerts that fit, and how many older ones are not
    shown (a user with hundreds of fired alerts gets one page, not hundreds of messages)."""
    head = []
    if down_since is not None:
        head.append(f"⚠️ Live prices delayed since {_hm(down_since)} UTC.")
    if not records:
        head.append("You have no alerts. Example: /alert BTCUSDT > 70000")
        return "\n".join(head)
    head.append(f"<b>Your alerts</b> ({len(records)})")
    tail = "Remove with /unalert ID or /unalert all"
    room = MAX_TEXT - len("\n".join([*head, tail])) - 80  # 80: the "older not shown" line
    lines: list[str] = []
    for r in reversed(records):  # the most recent first, until the page is full
        condition = shown(r.kind, r.params, r.condition, r.symbol)
        line = f"#{r.id} {esc(r.symbol)} {esc(condition)} · {_state(r, now)}" + _note(r)
        if len(line) + 1 > room:
            break
        lines.append(line)
        room -= len(line) + 1
    older = len(records) - len(lines)
    more = [f"… and {older} older alert(s) not shown."] if older else []
    return "\n".join([*head, *reversed(lines), *more, tail])


def _state(r: AlertRecord, now: float) -> str:
    fired = ""
    if r.fired_at is not None and r.fired_price is not None:
        when = datetime.fromtimestamp(r.fired_at, UTC)
        fired = f"fired at {fired_value(r.kind, r.fired_price)} on {when:%m-%d %H:%M} UTC"
    if r.state is AlertState.FIRED:
        return fired
    if r.state is AlertState.PAUSED:
        return "paused"
    if r.state is AlertState.EXPIRED:
        when = datetime.fromtimestamp(r.expires_at or now, UTC)
        return f"expired on {when:%m-%d %H:%M} UTC" + (f" (last {fired})" if fired else "")
    active = "active" + (" (repeats; last " + fired + ")" if r.repeat and fired else "")
    return active + (f", {expires_in(r.expires_at, now)}" if r.expires_at is not None else "")


def _note(r: AlertRecord) -> str:
    return f" — {esc(r.note)}" if r.note else ""


def _hm(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%H:%M")


def render_fired(alerts: list[FiredAlert]) -> tuple[str, int]:
    """The message for alerts due to one chat, and how many of them it holds: one alert in
    full; a burst one short line each, as many as fit in Telegram's 4096 characters (the
    outbox sends the rest next)."""
    if len(alerts) <= 3:
        return "\n".join(_full_line(a) for a in alerts), len(alerts)
    head = f"🔔 <b>{{count}} alerts fired</b> ({_hms(alerts[0].fired_at)})"
    lines: list[str] = []
    size = len(head) + 10
    for a in alerts:
        condition = esc(shown(a.kind, a.params, a.condition, a.symbol))
        fired_at = fired_value(a.kind, a.price)
        what = "expired" if a.event is AlertEvent.EXPIRED else f"@ {fired_at}"
        line = f"#{a.alert_id} <b>{esc(a.symbol)}</b> {condition} {what}"
        if size + len(line) + 1 > MAX_TEXT:
            break
        lines.append(line)
        size += len(line) + 1
    return "\n".join([head.format(count=len(lines)), *lines]), len(lines)


def _full_line(a: FiredAlert) -> str:
    note = f" — {esc(a.note)}" if a.note else ""
    condition = _condition(a.kind, a.params)
    if a.event is AlertEvent.EXPIRED:
        expired_on = datetime.fromtimestamp(a.fired_at, UTC).date()
        if condition is None:  # a price level: its stored words ("mark price" on a perpetual)
            level = shown(a.kind, a.params, a.condition, a.symbol)
            return (
                f"⌛ Alert #{a.alert_id} <b>{esc(a.symbol)}</b> {esc(level)} expired on "
                f"{expired_on.isoformat()} without firing{note}"
            )
        return expired_text(a.alert_id, a.symbol, condition, expired_on, a.note)
    if condition is None or a.price is None:
        return (
            f"🔔 <b>{esc(a.symbol)}</b> {esc(shown(a.kind, a.params, a.condition, a.symbol))}: "
            f"crossed at {num(a.price)} ({_hms(a.fired_at)}) · alert #{a.alert_id}{note}"
        )
    told = fired_text(a.symbol, condition, a.price, a.measured)
    return f"🔔 {told} ({_hms(a.fired_at)}) · alert #{a.alert_id}{note}"


def _hms(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%H:%M:%S UTC")


def _signed(value: Decimal) -> str:
    text = num(value, 2)
    return f"+{text}" if value > 0 and text != "0" else text

"""The futures commands' chat text from fixed values: funding as a signed percentage, the
countdown to the next funding, prices on the contract's tick, open interest and its value."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chatbot.exchange.futures_models import (
    FundingRate,
    FuturesContract,
    FuturesTicker24h,
    OpenInterest,
    PremiumIndex,
)
from chatbot.exchange.market_models import MarketTrade
from chatbot.services.futures_market import FundingView, FuturesQuote
from handlers.futures_texts import (
    countdown,
    funding_pct,
    render_extremes,
    render_funding,
    render_futures_quote,
    render_futures_trades,
)

NOW = 1_765_008_000_000  # 2025-12-06 08:00 UTC
HOUR = 3_600_000

BTC = FuturesContract("BTCUSDT", "BTCUSDT", "PERPETUAL", "TRADING", "BTC", "USDT", 2, 3,
                      Decimal("0.10"))  # fmt: skip


def premium(
    symbol: str = "BTCUSDT", rate: str | None = "0.0001", next_in: int = 3 * HOUR + 12 * 60_000
) -> PremiumIndex:
    return PremiumIndex(
        symbol, Decimal("70001.23456"), Decimal("69990.5"), Decimal("70000"),
        Decimal(rate) if rate is not None else None, Decimal("0.0001"),
        NOW + next_in if rate is not None else 0, NOW,
    )  # fmt: skip


def ticker(change: str = "2.5") -> FuturesTicker24h:
    return FuturesTicker24h(
        "BTCUSDT", Decimal("1700"), Decimal(change), Decimal("69000"), Decimal("70000.1"),
        Decimal("0.01"), Decimal("68300.1"), Decimal("71000"), Decimal("68000.04"),
        Decimal("12345"), Decimal("864197530.6"), NOW - 24 * HOUR, NOW, 1000,
    )  # fmt: skip


def quote(rate: str | None = "0.0001", change: str = "2.5") -> FuturesQuote:
    interest = OpenInterest("BTCUSDT", Decimal("1234.567"), NOW)
    return FuturesQuote(BTC, ticker(change), premium(rate=rate), interest)


@pytest.mark.parametrize(
    ("rate", "shown"),
    [
        ("0.0001", "+0.0100%"),
        ("-0.00025", "-0.0250%"),
        ("0", "0.0000%"),
        ("0.00012345", "+0.0123%"),
        ("0.0075", "+0.7500%"),
    ],
)
def test_funding_rates_are_signed_percentages_with_four_decimals(rate, shown):
    assert funding_pct(Decimal(rate)) == shown


@pytest.mark.parametrize(
    ("left_ms", "shown"),
    [(3 * HOUR + 12 * 60_000 + 59_000, "3h 12m"), (45 * 60_000, "45m"), (59_999, "under 1m"),
     (8 * HOUR, "8h 0m"), (-5_000, "under 1m")],
)  # fmt: skip
def test_countdown_to_the_minute(left_ms, shown):
    assert countdown(NOW, NOW + left_ms) == shown


def test_quote_shows_prices_on_the_tick_funding_and_open_interest():
    assert render_futures_quote(quote()).split("\n") == [
        "<b>BTCUSDT.P</b>  70,000.1 USDT  ▲ +2.5%",
        "Mark 70,001.2 · index 69,990.5",
        "24h high 71,000 · low 68,000",
        "24h volume 864,197,531 USDT",
        "Funding +0.0100% · next in 3h 12m",
        "Open interest 1,234.567 BTC (≈ 86,421,214 USDT)",
    ]


def test_a_falling_contract_and_one_without_funding():
    text = render_futures_quote(quote(rate=None, change="-1.25"))
    assert "▼ -1.25%" in text
    assert "Funding: none on this contract" in text


def test_funding_view_shows_now_the_next_settlement_and_the_history_newest_first():
    history = [FundingRate("BTCUSDT", Decimal(r), NOW - i * 8 * HOUR, None)
               for i, r in enumerate(("0.0001", "-0.00005", "0.0003"))]  # fmt: skip
    text = render_funding(FundingView(BTC, premium(), history))
    assert text.split("\n") == [
        "<b>BTCUSDT.P</b> funding",
        "Now +0.0100% · next settlement 2025-12-06 11:12 UTC (in 3h 12m)",
        "Last 3 settled (UTC):",
        "<pre>",
        "12-06 08:00   +0.0100%",
        "12-06 00:00   -0.0050%",
        "12-05 16:00   +0.0300%",
        "</pre>",
    ]


def test_extremes_list_each_side_with_keys_aligned():
    highest = [premium("DOGEUSDT", "0.003"), premium("BTCUSDT", "0.0001")]
    lowest = [premium("XRPUSDT", "-0.002")]
    text = render_extremes(highest, lowest)
    assert "Highest:\n<pre>\nDOGEUSDT.P   +0.3000%\nBTCUSDT.P    +0.0100%\n</pre>" in text
    assert "Lowest:\n<pre>\nXRPUSDT.P   -0.2000%\n</pre>" in text
    assert render_extremes(highest, []).count("Lowest") == 0


def test_no_extremes_says_so():
    assert "No perpetual has a positive or negative funding rate" in render_extremes([], [])


def test_trades_are_titled_with_the_key_on_the_contracts_grid():
    trades = [MarketTrade(7, Decimal("70000.10"), Decimal("0.5"), Decimal("35000.05"),
                          NOW + 61_000, True)]  # fmt: skip
    assert render_futures_trades(BTC, trades).split("\n") == [
        "<b>BTCUSDT.P</b> last 1 trades (UTC)",
        "<pre>",
        "08:01:01 SELL     70,000.1 × 0.5",
        "</pre>",
    ]
    assert render_futures_trades(BTC, []) == "No recent trades on BTCUSDT.P."

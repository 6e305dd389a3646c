"""/risk's words for the cases the simulator's portfolio test does not show: an OCO whose stop
trails, a stop on a pair quoted in BTC, a holding with no USDT price, and a report without a
stop at all."""

from __future__ import annotations

from decimal import Decimal

from chatbot.services.risk import Exit, HoldingRisk, Protection, RiskReport
from handlers.risk import protect_buttons, render_risk


def plain(text: str) -> str:
    """The text as the user reads it (without its HTML bold)."""
    return text.replace("<b>", "").replace("</b>", "")


def report(*holdings: HoldingRisk, total: str = "1000") -> RiskReport:
    return RiskReport(list(holdings), Decimal(0), [], Decimal(total))


def test_an_oco_whose_stop_trails_shows_its_target_delta_and_limit():
    oco = Exit(
        Protection.OCO, "ETHUSDT", "USDT", Decimal("0.5"),
        target=Decimal("3600"), limit=Decimal("2400"), trail_bps=150, trailing_active=True,
        worst_fill=Decimal("2400"), loss_usdt=Decimal("300"),
    )  # fmt: skip
    text = plain(render_risk(report(HoldingRisk("ETH", Decimal(1), Decimal(3000), (oco,)))))
    assert "ETH 1 ≈ 3,000 USDT: 0.5 of 1 ETH covered" in text
    assert (
        "  · OCO on 0.5 ETH: target 3,600 USDT, trailing 1.5% (limit 2,400 USDT), active; "
        "loss if hit ≈ 300 USDT"
    ) in text.splitlines()
    assert "If every stop hits: −300 USDT (30% of your 1,000 USDT)" in text


def test_a_stop_on_a_btc_pair_shows_its_prices_in_btc_and_its_loss_in_usdt():
    stop = Exit(
        Protection.STOP, "ETHBTC", "BTC", Decimal(1), stop=Decimal("0.045"),
        limit=Decimal("0.0449"), worst_fill=Decimal("0.0449"), loss_usdt=Decimal("60"),
    )  # fmt: skip
    text = plain(render_risk(report(HoldingRisk("ETH", Decimal(1), Decimal(3000), (stop,)))))
    assert (
        "  · stop-loss on 1 ETH: stop 0.045 BTC (limit 0.0449 BTC); loss if hit ≈ 60 USDT"
    ) in text.splitlines()


def test_a_stop_without_a_usdt_price_is_counted_as_unknown():
    stop = Exit(Protection.STOP, "ABCTRY", "TRY", Decimal(5), stop=Decimal(10))
    holding = HoldingRisk("ABC", Decimal(5), None, (stop,))
    text = plain(render_risk(report(holding)))
    assert "ABC 5 (no USDT price): 5 of 5 ABC covered" in text
    assert "stop 10 TRY; loss unknown (no USDT price)" in text
    assert "If every stop hits: unknown (1 stop(s) whose fill is unknown)" in text


def test_without_any_stop_the_total_says_so_and_each_bare_coin_gets_a_button():
    target = Exit(Protection.TAKE_PROFIT, "SOLUSDT", "USDT", Decimal(2), target=Decimal(200))
    bare = HoldingRisk("DOGE", Decimal(100), Decimal(10))
    sol = HoldingRisk("SOL", Decimal(2), Decimal(300), (target,))
    result = report(sol, bare)
    text = plain(render_risk(result))
    assert "No stop-loss on the exchange." in text and "If every stop hits" not in text
    assert protect_buttons(result) == [[("Protect DOGE", "risk:protect:DOGE")]]

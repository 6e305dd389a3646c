"""The words of an exit plan: each leg's line, the figures, and only what is known of them."""

from __future__ import annotations

from decimal import Decimal as D

from chatbot.services.exit_plan import ExitPlan, exit_figures, plan_exits
from chatbot.services.order_intent import ExitLevel, ExitRole, ExitSpec
from handlers.exit_texts import EXIT_HELP, render_exit_plan, render_leg
from tests.unit.test_exit_plan import LIMIT_ONLY, WITH_MARKET_STOPS

SL, TP = ExitRole.STOP_LOSS, ExitRole.TAKE_PROFIT


def plan(spec: ExitSpec, rules=WITH_MARKET_STOPS) -> ExitPlan:
    return plan_exits(spec, rules=rules, reference=D("66000"), quantity=D("0.01"),
                      limit_distance_pct=D("0.5"))  # fmt: skip


def text(spec: ExitSpec, rules=WITH_MARKET_STOPS, rate=D(1), balance=D("1650")) -> str:
    p = plan(spec, rules)
    figures = exit_figures(p, entry=D("66000"), fee_rate=D("0.001"), quote_usdt=rate,
                           balance_usdt=balance, entry_fee=True)  # fmt: skip
    return render_exit_plan(p, figures, rules)


OCO = ExitSpec(take_profit=ExitLevel(price=D("70000")), stop_loss=ExitLevel(price=D("64000")))


def test_an_oco_preview() -> None:
    assert text(OCO).split("\n") == [
        "Take-profit: sell 0.01 BTC at 70,000 (limit maker)",
        "Stop-loss: sell 0.01 BTC if the price falls to 64,000 (market)",
        "Loss at the stop: −21.3 USDT (−1.3% of your balance)",
        "Gain at the target: +38.64 USDT (+2.3%)",
        "Risk:reward 1 : 1.81",
    ]


def test_limit_legs_say_their_limit() -> None:
    lines = text(OCO, LIMIT_ONLY).split("\n")
    assert lines[1] == (
        "Stop-loss: sell 0.01 BTC if the price falls to 64,000, at 63,680 or better (limit)"
    )
    tp_alone = plan(ExitSpec(take_profit=ExitLevel(price=D("70000"))), LIMIT_ONLY).legs[0]
    assert render_leg(tp_alone, LIMIT_ONLY) == (
        "Take-profit: sell 0.01 BTC if the price rises to 70,000, at 70,000 or better (limit)"
    )


def test_without_rates_the_figures_are_in_the_quote_asset() -> None:
    lines = text(OCO, rate=None, balance=None).split("\n")
    assert lines[2:] == [
        "Loss at the stop: −21.3 USDT",
        "Gain at the target: +38.64 USDT",
        "Risk:reward 1 : 1.81",
    ]


def test_a_trailing_stop_from_now_says_where_it_first_triggers() -> None:
    spec = ExitSpec(trail_bps=200, trail_leg=SL)
    assert text(spec).split("\n") == [
        "Stop-loss: sell 0.01 BTC (market) once the price falls 2% from its highest since it "
        "is placed (first at 64,680 or higher)",
        "Loss at the stop: −14.51 USDT (−0.9% of your balance)",  # 646.8 - 660 - 1.3068,
    ]


def test_a_trailing_stop_with_an_activation_price_says_its_loss_is_unknown() -> None:
    spec = ExitSpec(take_profit=ExitLevel(price=D("70000")), stop_loss=ExitLevel(price=D("64000")),
                    trail_bps=150, trail_leg=SL)  # fmt: skip
    lines = text(spec).split("\n")
    assert lines[1] == (
        "Stop-loss: sell 0.01 BTC (market), trailing 1.5% once it reaches 64,000: once the "
        "price falls 1.5% from its highest after that"
    )
    assert lines[2] == "At the stop: not known until it starts to trail."
    assert not any("Risk:reward" in line for line in lines)


def test_a_trailing_limit_stop_from_now_says_its_limit() -> None:
    leg = plan(ExitSpec(trail_bps=200, trail_leg=SL), LIMIT_ONLY).legs[0]
    assert render_leg(leg, LIMIT_ONLY) == (
        "Stop-loss: sell 0.01 BTC, at 64,356.6 or better (limit) once the price falls 2% from "
        "its highest since it is placed (first at 64,680 or higher)"
    )


def test_a_trailing_take_profit_says_where_it_starts() -> None:
    spec = ExitSpec(take_profit=ExitLevel(price=D("70000")), trail_bps=200, trail_leg=TP)
    assert text(spec).split("\n") == [
        "Take-profit: sell 0.01 BTC (market), trailing 2% once it reaches 70,000: once the "
        "price falls 2% from its highest after that",
        "At the target: not known until it starts to trail.",
    ]


def test_a_stop_above_the_entry_is_a_result_not_a_loss() -> None:
    p = plan(OCO)
    figures = exit_figures(p, entry=D("63000"), fee_rate=D(0), quote_usdt=D(1),
                           balance_usdt=None, entry_fee=False)  # fmt: skip
    assert render_exit_plan(p, figures, WITH_MARKET_STOPS).split("\n")[2:] == [
        "Result at the stop: +10 USDT",
        "Gain at the target: +70 USDT",
    ]


def test_every_exit_command_has_help() -> None:
    assert set(EXIT_HELP) == {"buy", "protect", "sl", "tp"}
    assert all(entry.startswith(f"/{name} ") for name, entry in EXIT_HELP.items())

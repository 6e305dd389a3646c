"""The exit plan's legs and figures, computed by hand on BTCUSDT-like rules (tick 0.01, step
0.00001), with and without the market-on-trigger STOP_LOSS / TAKE_PROFIT types."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatbot.config import ConfigError, load_settings
from chatbot.services.exit_plan import ExitPlan, exit_figures, plan_exits
from chatbot.services.order_intent import ExitLevel, ExitRole, ExitSpec
from chatbot.side import Side
from tests.unit.symbol_rules import lot, price_filter, rules_of

BASIC_TYPES = ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"]
MARKET_STOPS = [*BASIC_TYPES, "STOP_LOSS", "TAKE_PROFIT"]


def btc(order_types: list[str]):
    return rules_of(
        price_filter("0.01", "1000000", "0.01"),
        lot("0.00001", "9000", "0.00001"),
        symbol="BTCUSDT", baseAsset="BTC", quoteAsset="USDT", orderTypes=order_types,
    )  # fmt: skip


WITH_MARKET_STOPS, LIMIT_ONLY = btc(MARKET_STOPS), btc(BASIC_TYPES)


def price(text: str) -> ExitLevel:
    return ExitLevel(price=D(text))


def pct(text: str) -> ExitLevel:
    return ExitLevel(percent=D(text))


def plan(spec: ExitSpec, rules=WITH_MARKET_STOPS, ref="66000", qty="0.01") -> ExitPlan:
    return plan_exits(spec, rules=rules, reference=D(ref), quantity=D(qty),
                      limit_distance_pct=D("0.5"))  # fmt: skip


def legs(p: ExitPlan) -> list[tuple]:
    return [
        (leg.role, leg.order_type, leg.quantity, leg.stop_price, leg.limit_price, leg.trailing_bps)
        for leg in p.legs
    ]


TP, SL = ExitRole.TAKE_PROFIT, ExitRole.STOP_LOSS


def test_an_oco_is_a_limit_maker_target_and_a_market_stop() -> None:
    p = plan(ExitSpec(take_profit=price("70000"), stop_loss=price("64000")))
    assert p.is_oco
    assert legs(p) == [
        (TP, "LIMIT_MAKER", D("0.01"), None, D("70000.00"), None),
        (SL, "STOP_LOSS", D("0.01"), D("64000.00"), None, None),
    ]
    assert all(leg.side is Side.SELL for leg in p.legs)


def test_without_the_market_stop_the_stop_is_a_limit_half_a_percent_below() -> None:
    p = plan(ExitSpec(take_profit=price("70000"), stop_loss=price("64000")), LIMIT_ONLY)
    # 64000 x 0.995 = 63680
    assert legs(p)[1] == (SL, "STOP_LOSS_LIMIT", D("0.01"), D("64000.00"), D("63680.00"), None)


def test_the_stop_limit_rounds_down_away_from_the_trigger() -> None:
    # 64000.01 x 0.995 = 63680.00995 -> 63680.00 (down); the distance is a setting
    p = plan_exits(ExitSpec(stop_loss=price("64000.01")), rules=LIMIT_ONLY, reference=D("66000"),
                   quantity=D("0.01"), limit_distance_pct=D("1"))  # fmt: skip
    # 64000.01 x 0.99 = 63360.0099 -> 63360.00
    assert (p.stop_loss.stop_price, p.stop_loss.limit_price) == (D("64000.01"), D("63360.00"))
    p = plan(ExitSpec(stop_loss=price("64000.01")), LIMIT_ONLY)
    assert p.stop_loss.limit_price == D("63680.00")


def test_triggers_and_targets_round_up_to_the_tick() -> None:
    """A stop rounded up fires no later than typed; a target rounded up never sells lower."""
    p = plan(ExitSpec(take_profit=price("70000.001"), stop_loss=price("64000.005")))
    assert p.take_profit.limit_price == D("70000.01")
    assert p.stop_loss.stop_price == D("64000.01")


def test_percentages_resolve_against_the_reference_and_round_up() -> None:
    p = plan(ExitSpec(take_profit=pct("5"), stop_loss=pct("-3")))
    assert (p.take_profit.limit_price, p.stop_loss.stop_price) == (D("69300.00"), D("64020.00"))
    # 66123.45 x 1.05 = 69429.6225 -> 69429.63; 66123.45 x 0.97 = 64139.7465 -> 64139.75
    p = plan(ExitSpec(take_profit=pct("5"), stop_loss=pct("-3")), ref="66123.45")
    assert (p.take_profit.limit_price, p.stop_loss.stop_price) == (D("69429.63"), D("64139.75"))


def test_the_quantity_rounds_down_to_the_step() -> None:
    assert plan(ExitSpec(stop_loss=price("64000")), qty="0.012349").quantity == D("0.01234")


def test_a_take_profit_alone_is_take_profit_or_a_limit_at_its_trigger() -> None:
    spec = ExitSpec(take_profit=price("70000"))
    assert legs(plan(spec)) == [(TP, "TAKE_PROFIT", D("0.01"), D("70000.00"), None, None)]
    assert legs(plan(spec, LIMIT_ONLY)) == [
        (TP, "TAKE_PROFIT_LIMIT", D("0.01"), D("70000.00"), D("70000.00"), None)
    ]


def test_a_stop_alone_is_the_same_stop_leg() -> None:
    assert legs(plan(ExitSpec(stop_loss=pct("-5")))) == [
        (SL, "STOP_LOSS", D("0.01"), D("62700.00"), None, None)
    ]


def test_a_stop_trailing_from_placement_has_a_known_first_trigger() -> None:
    spec = ExitSpec(trail_bps=200, trail_leg=SL)
    p = plan(spec)
    assert legs(p) == [(SL, "STOP_LOSS", D("0.01"), None, None, 200)]
    assert p.stop_loss.first_trigger == D("64680.00")  # 66000 x 0.98
    assert p.stop_loss.exit_price == D("64680.00")
    limited = plan(spec, LIMIT_ONLY).stop_loss
    # the fixed limit sits 0.5% under the lowest trigger: 64680 x 0.995 = 64356.6
    assert (limited.order_type, limited.limit_price) == ("STOP_LOSS_LIMIT", D("64356.60"))
    assert limited.exit_price == D("64356.60")


def test_a_stop_trailing_from_an_activation_price_has_no_known_exit() -> None:
    p = plan(ExitSpec(stop_loss=price("64000"), trail_bps=150, trail_leg=SL))
    assert legs(p) == [(SL, "STOP_LOSS", D("0.01"), D("64000.00"), None, 150)]
    assert p.stop_loss.first_trigger is None and p.stop_loss.exit_price is None
    limited = plan(ExitSpec(stop_loss=price("64000"), trail_bps=150, trail_leg=SL), LIMIT_ONLY)
    # 64000 x 0.985 = 63040, then 0.5% under it: 62724.8
    assert limited.stop_loss.limit_price == D("62724.80")
    assert limited.stop_loss.exit_price is None


def test_a_trailing_take_profit_is_not_a_limit_maker() -> None:
    spec = ExitSpec(take_profit=price("70000"), stop_loss=price("64000"), trail_bps=200,
                    trail_leg=TP)  # fmt: skip
    assert legs(plan(spec)) == [
        (TP, "TAKE_PROFIT", D("0.01"), D("70000.00"), None, 200),
        (SL, "STOP_LOSS", D("0.01"), D("64000.00"), None, None),
    ]
    # 70000 x 0.98 = 68600, then 0.5% under it: 68257
    assert legs(plan(spec, LIMIT_ONLY))[0] == (
        TP, "TAKE_PROFIT_LIMIT", D("0.01"), D("70000.00"), D("68257.00"), 200
    )  # fmt: skip


def figures(p: ExitPlan, **kw):
    args = {"entry": D("66000"), "fee_rate": D("0.001"), "quote_usdt": D(1),
            "balance_usdt": D("1650"), "entry_fee": True} | kw  # fmt: skip
    return exit_figures(p, **args)


OCO = ExitSpec(take_profit=price("70000"), stop_loss=price("64000"))


def test_figures_of_an_oco_net_of_fees_on_entry_and_exit() -> None:
    f = figures(plan(OCO))
    # stop: 640 - 660 - 0.001 x (640 + 660) = -21.3; target: 700 - 660 - 0.001 x 1360 = 38.64
    assert (f.at_stop.quote, f.at_target.quote) == (D("-21.3"), D("38.64"))
    assert (f.at_stop.usdt, f.at_target.usdt) == (D("-21.3"), D("38.64"))
    assert f.at_stop.share_pct == pytest.approx(D("-21.3") / 1650 * 100, abs=D("1e-20"))
    assert f.at_target.share_pct == pytest.approx(D("38.64") / 1650 * 100, abs=D("1e-20"))
    assert f.risk_reward == pytest.approx(D("38.64") / D("21.3"), abs=D("1e-20"))


def test_a_stop_limit_loses_down_to_its_limit() -> None:
    f = figures(plan(OCO, LIMIT_ONLY), entry_fee=False)
    # 636.80 - 660 - 0.001 x 636.80 = -23.8368 (the entry's fee is already paid)
    assert f.at_stop.quote == D("-23.8368")
    assert f.at_target.quote == D("39.3")  # 700 - 660 - 0.7


def test_unknown_rates_leave_usdt_and_shares_out() -> None:
    f = figures(plan(OCO), quote_usdt=None)
    assert f.at_stop.usdt is None and f.at_stop.share_pct is None
    assert f.risk_reward is not None  # known in the quote asset alone
    f = figures(plan(OCO), quote_usdt=D("2"), balance_usdt=None)
    assert (f.at_stop.usdt, f.at_stop.share_pct) == (D("-42.6"), None)


def test_a_trailing_stop_waiting_for_activation_has_no_loss_and_no_ratio() -> None:
    spec = ExitSpec(take_profit=price("70000"), stop_loss=price("64000"), trail_bps=150,
                    trail_leg=SL)  # fmt: skip
    f = figures(plan(spec))
    assert f.at_stop is None and f.risk_reward is None
    assert f.at_target.quote == D("38.64")


def test_a_stop_above_the_entry_gives_no_ratio() -> None:
    f = figures(plan(OCO), entry=D("63000"), entry_fee=False)
    assert f.at_stop.quote > 0 and f.risk_reward is None


def test_the_stop_limit_distance_is_a_setting(monkeypatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.delenv("CHATBOT_STOP_LIMIT_DISTANCE_PCT", raising=False)
    assert load_settings().stop_limit_distance_pct == D("0.5")
    monkeypatch.setenv("CHATBOT_STOP_LIMIT_DISTANCE_PCT", "0.8")
    assert load_settings().stop_limit_distance_pct == D("0.8")
    for bad in ("0", "50", "soon"):
        monkeypatch.setenv("CHATBOT_STOP_LIMIT_DISTANCE_PCT", bad)
        with pytest.raises(ConfigError, match=r"^CHATBOT_STOP_LIMIT_DISTANCE_PCT"):
            load_settings()


@given(st.decimals("0.02", "1000000", places=8), st.decimals("0.1", "10", places=2))
def test_a_stop_is_never_worse_than_typed_and_its_limit_never_above_the_distance(
    typed: D, distance: D
) -> None:
    """The trigger rounds up by less than a tick; the limit sits at least `distance`% under
    the trigger and less than a tick further."""
    spec = ExitSpec(stop_loss=ExitLevel(price=typed))
    leg = plan_exits(
        spec, rules=LIMIT_ONLY, reference=D("2000000"), quantity=D(1), limit_distance_pct=distance
    ).legs[0]
    tick = D("0.01")
    assert typed <= leg.stop_price < typed + tick
    exact = leg.stop_price * (100 - distance) / 100
    assert exact - tick < leg.limit_price <= exact or leg.limit_price == tick

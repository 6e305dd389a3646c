"""The average-cost arithmetic of chatbot/services/pnl.py, worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from chatbot.services.pnl import PricedTrade, PricedTransfer, compute, value_now
from chatbot.services.pnl_report import Period
from chatbot.services.trade_history import merged_transfers
from chatbot.storage.trade_history import StoredFill, Transfer, TransferSource
from handlers.parsing import CommandError
from handlers.pnl import parse_pnl

D = Decimal
_ids = iter(range(1, 10_000))


def fill(
    symbol: str,
    buy: bool,
    qty: str,
    price: str,
    fee: str,
    fee_asset: str,
    at: int,
) -> StoredFill:
    quote = D(qty) * D(price)
    return StoredFill(symbol, next(_ids), 1, D(price), D(qty), quote, D(fee), fee_asset, at, buy)


def usdt(f: StoredFill, base: str, fee_rate: str | None = None) -> PricedTrade:
    rate = None if fee_rate is None else D(fee_rate)
    return PricedTrade(f, base, "USDT", D(1), rate)


def test_average_cost_over_two_buys_and_a_partial_sell() -> None:
    trades = [
        usdt(fill("ETHUSDT", True, "1", "2000", "2", "USDT", 1), "ETH"),  # cost 2002
        usdt(fill("ETHUSDT", True, "1", "3000", "3", "USDT", 2), "ETH"),  # cost 3003
        usdt(fill("ETHUSDT", False, "1", "4000", "4", "USDT", 3), "ETH"),
    ]
    figures = compute(trades, [])
    eth = figures.assets["ETH"]
    # average cost (2002 + 3003) / 2 = 2502.5; sold 1: 4000 - 4 - 2502.5 = 1493.5
    assert eth.realized == D("1493.5")
    assert (eth.quantity, eth.cost) == (D(1), D("2502.5"))
    assert eth.fees == D(9) and eth.trades == 3 and (eth.sells, eth.wins) == (1, 1)
    value_now(figures, {"ETH": D(2500)}, {"ETH": D(1)})
    assert eth.unrealized == D("-2.5")


def test_a_fee_in_the_asset_bought_is_in_the_quantity_not_added_to_the_cost() -> None:
    buy = usdt(fill("ETHUSDT", True, "1", "2000", "0.001", "ETH", 1), "ETH")
    sell = usdt(fill("ETHUSDT", False, "0.999", "2000", "1.998", "USDT", 2), "ETH")
    eth = compute([buy, sell], []).assets["ETH"]
    # paid 2000 for 0.999 ETH; sold it for 1998 - 1.998: the loss is both fees, 2 + 1.998
    assert eth.realized == D("-3.998") and eth.fees == D("3.998")
    assert eth.quantity == 0 and eth.cost == 0


def test_a_bnb_fee_is_priced_at_its_own_time_and_taken_off_the_bnb_book() -> None:
    bnb = usdt(fill("BNBUSDT", True, "1", "600", "0.6", "USDT", 1), "BNB")
    buy = usdt(fill("ETHUSDT", True, "1", "2000", "0.002", "BNB", 2), "ETH", fee_rate="500")
    figures = compute([bnb, buy], [])
    # the ETH cost: 2000 + 0.002 BNB at 500 = 2001; the BNB book loses 0.002 at 600.6 a unit
    assert figures.assets["ETH"].cost == D(2001)
    assert figures.assets["ETH"].fees == D(1)
    assert figures.assets["BNB"].quantity == D("0.998")
    assert figures.assets["BNB"].cost == D("600.6") - D("0.002") * D("600.6")


def test_a_non_usdt_quote_is_converted_at_the_trade_time_and_its_leg_realizes() -> None:
    btc = usdt(fill("BTCUSDT", True, "0.1", "50000", "5", "USDT", 1), "BTC")  # 0.1 BTC for 5005
    # ETHBTC buy 1 ETH for 0.04 BTC when BTC is worth 60000: 2400 USDT
    eth = PricedTrade(fill("ETHBTC", True, "1", "0.04", "0.001", "ETH", 2), "ETH", "BTC", D(60000))
    figures = compute([btc, eth], [])
    assert figures.assets["ETH"].cost == D(2400) and figures.assets["ETH"].quantity == D("0.999")
    # the BTC given up: 0.04 worth 2400, cost 0.04 * 50050 = 2002 -> +398
    assert figures.assets["BTC"].realized == D(398)
    assert figures.assets["BTC"].quantity == D("0.06")
    assert figures.rows[1].usdt_rate == D(60000)


def test_deposits_and_withdrawals_are_not_profit() -> None:
    deposit = Transfer(TransferSource.DEPOSIT, "d1", "SOL", D(10), 1)
    withdrawal = Transfer(TransferSource.WITHDRAW, "w1", "SOL", D(-4), 3)
    sell = usdt(fill("SOLUSDT", False, "2", "200", "0.4", "USDT", 2), "SOL")
    moves = [PricedTransfer(deposit, D(150)), PricedTransfer(withdrawal, D(300))]
    figures = compute([sell], moves)
    sol = figures.assets["SOL"]
    # cost 1500 for 10; sold 2: 400 - 0.4 - 300 = 99.6; 4 withdrawn at cost 150: no result
    assert sol.realized == D("99.6")
    assert (sol.quantity, sol.cost) == (D(4), D(600))


def test_selling_more_than_the_history_explains_counts_the_excess_at_zero_profit() -> None:
    buy = usdt(fill("BTCUSDT", True, "1", "100", "0", "USDT", 1), "BTC")
    sell = usdt(fill("BTCUSDT", False, "3", "150", "0", "USDT", 2), "BTC")
    figures = compute([buy, sell], [])
    btc = figures.assets["BTC"]
    # 1 known at 100: +50; 2 more with no known cost: at 150, 0
    assert btc.realized == D(50) and btc.sold_unknown == D(2)
    value_now(figures, {"BTC": D(150)}, {"BTC": D("0.5"), "XRP": D(7)})
    assert figures.assets["XRP"].held_unknown == D(7) and figures.assets["XRP"].unrealized is None


def test_the_period_filters_what_is_counted_but_the_average_cost_uses_everything() -> None:
    old_buy = usdt(fill("ETHUSDT", True, "1", "1000", "0", "USDT", 100), "ETH")
    old_sell = usdt(fill("ETHUSDT", False, "0.5", "1500", "1.5", "USDT", 150), "ETH")
    new_sell = usdt(fill("ETHUSDT", False, "0.5", "900", "0.9", "USDT", 300), "ETH")
    eth = compute([old_buy, old_sell, new_sell], [], since_ms=200).assets["ETH"]
    # only the last sell counts: 450 - 0.9 - 0.5 * 1000 = -50.9, cost from the old buy
    assert eth.realized == D("-50.9") and eth.fees == D("0.9")
    assert eth.trades == 1 and (eth.sells, eth.wins) == (1, 0)


def test_a_trade_without_a_quote_rate_is_left_out_and_named() -> None:
    lost = PricedTrade(fill("XRPTRY", True, "10", "20", "0", "XRP", 1), "XRP", "TRY", None)
    figures = compute([lost], [])
    assert figures.unpriced == {"TRY"} and "XRP" not in figures.assets


def test_a_live_update_and_the_history_row_of_the_same_deposit_count_once() -> None:
    history = Transfer(TransferSource.DEPOSIT, "d1", "SOL", D(10), 1_000)
    live = Transfer(TransferSource.LIVE, "e1", "SOL", D(10), 1_200)
    other = Transfer(TransferSource.LIVE, "e2", "SOL", D(3), 1_300)
    assert merged_transfers([history, live, other]) == [history, other]


def ms(*parts: int) -> int:
    return int(datetime(*parts, tzinfo=UTC).timestamp() * 1000)


def test_periods_start_in_utc() -> None:
    now = datetime(2026, 12, 6, 5, 30, tzinfo=UTC)
    assert Period.TODAY.start_ms(now) == ms(2026, 12, 6)
    assert Period.YTD.start_ms(now) == ms(2026, 1, 1)
    assert Period.DAYS_7.start_ms(now) == ms(2026, 11, 29, 5, 30)
    assert Period.ALL.start_ms(now) is None


@pytest.mark.parametrize(
    ("args", "form", "period", "asset"),
    [
        ([], "text", Period.ALL, None),
        (["30d", "btc"], "text", Period.DAYS_30, "BTC"),
        (["ETH", "today"], "text", Period.TODAY, "ETH"),
        (["chart", "ytd"], "chart", Period.YTD, None),
        (["CSV"], "csv", Period.ALL, None),
    ],
)
def test_pnl_grammar(args: list[str], form: str, period: Period, asset: str | None) -> None:
    request = parse_pnl(args)
    assert (request.form, request.period, request.asset) == (form, period, asset)


@pytest.mark.parametrize("args", [["9d"], ["7d", "30d"], ["BTC", "ETH"], ["csv", "BTC"], ["$"]])
def test_pnl_grammar_refuses(args: list[str]) -> None:
    with pytest.raises(CommandError):
        parse_pnl(args)

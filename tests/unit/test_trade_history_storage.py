"""/pnl's storage on each engine: fills stored once, the per-symbol mark only grows, transfers
keyed by their source, candle closes kept."""

from __future__ import annotations

from decimal import Decimal

from chatbot.storage.trade_history import (
    StoredFill,
    TradeHistoryRepository,
    Transfer,
    TransferSource,
)

D = Decimal


def fill(trade_id: int, at: int, symbol: str = "ETHUSDT") -> StoredFill:
    return StoredFill(
        symbol, trade_id, 7, D("2000.5"), D("0.001"), D("2.0005"), D("0.000001"), "ETH", at, True
    )


async def test_a_page_stored_twice_keeps_each_fill_once_and_the_mark_never_goes_back(database):
    repo = TradeHistoryRepository(database)
    await repo.add_trades(1, "ETHUSDT", [fill(5, 200), fill(3, 100)], synced_ms=1)
    await repo.add_trades(1, "ETHUSDT", [fill(5, 200)], synced_ms=2)
    await repo.add_trades(1, "ETHUSDT", [fill(2, 50)], synced_ms=3)  # an older page, late
    await repo.add_trades(1, "BTCUSDT", [], synced_ms=4)  # read, nothing there
    assert await repo.last_ids(1) == {"ETHUSDT": 5, "BTCUSDT": -1}
    trades = await repo.trades(1)
    assert [t.id for t in trades] == [2, 3, 5]  # oldest first
    assert trades[0] == fill(2, 50)  # Decimals and flags come back as they went in
    assert await repo.trades(2) == [] and await repo.first_trade_ms(1) == 50


async def test_transfers_are_kept_once_per_source_and_reference(database):
    repo = TradeHistoryRepository(database)
    deposit = Transfer(TransferSource.DEPOSIT, "d1", "SOL", D(10), 1_000)
    live = Transfer(TransferSource.LIVE, "d1", "SOL", D(10), 1_000)
    await repo.add_transfers(1, [deposit, live, deposit])
    assert await repo.transfers(1) == [deposit, live]
    assert await repo.transfers_read_to(1) is None
    await repo.mark_transfers_read(1, 5_000)
    await repo.mark_transfers_read(1, 6_000)
    assert await repo.transfers_read_to(1) == 6_000


async def test_candle_closes_are_stored_once(database):
    repo = TradeHistoryRepository(database)
    await repo.add_closes("BTCUSDT", "1m", {60_000: D("65000.1"), 120_000: D("65001")})
    await repo.add_closes("BTCUSDT", "1m", {60_000: D("1")})  # a closed candle never changes
    closes = await repo.closes("BTCUSDT", "1m", [60_000, 180_000])
    assert closes == {60_000: D("65000.1")}

"""The balances mirror: events and the REST snapshot merge by Binance's update time, and a
gap (a new epoch) sends the next question to Binance."""

from __future__ import annotations

from decimal import Decimal

from chatbot.exchange.events import AccountPosition
from chatbot.exchange.models import Account, Balance
from chatbot.services.account_mirror import AccountMirror


def snapshot(update_time: int, **free: str) -> Account:
    balances = [Balance(a, Decimal(v), Decimal(0)) for a, v in free.items()]
    return Account(True, False, True, "SPOT", ["SPOT"], balances, None, update_time)


def position(update_time: int, asset: str, free: str) -> AccountPosition:
    return AccountPosition([Balance(asset, Decimal(free), Decimal(0))], update_time, update_time)


class Fetch:
    def __init__(self, account: Account) -> None:
        self.account, self.calls = account, 0

    async def __call__(self) -> Account:
        self.calls += 1
        return self.account


def free(account: Account) -> dict[str, Decimal]:
    return {b.asset: b.free for b in account.balances}


async def test_events_newer_than_the_snapshot_win_whatever_their_order_of_arrival():
    epoch = {1: 7}
    mirror = AccountMirror()
    mirror.attach(epoch.get)
    mirror.follow(1)
    mirror.on_position(1, position(300, "USDT", "1500"))  # arrived before the snapshot
    mirror.on_position(1, position(100, "BTC", "9"))  # older than the snapshot: superseded
    fetch = Fetch(snapshot(200, USDT="1000", BTC="1"))
    assert free(await mirror.account(1, fetch)) == {"USDT": Decimal(1500), "BTC": Decimal(1)}
    assert free(await mirror.account(1, fetch)) == {"USDT": Decimal(1500), "BTC": Decimal(1)}
    mirror.on_position(1, position(400, "BTC", "0"))
    assert free(await mirror.account(1, fetch))["BTC"] == 0
    assert fetch.calls == 1 and mirror.served == 2


async def test_a_gap_or_an_unfollowed_user_asks_binance():
    epoch = {1: 7}
    mirror = AccountMirror()
    mirror.attach(epoch.get)
    fetch = Fetch(snapshot(200, USDT="1000"))
    await mirror.account(2, fetch)  # never followed
    mirror.follow(1)
    await mirror.account(1, fetch)
    epoch[1] = 8  # the connection was lost and made again
    await mirror.account(1, fetch)
    del epoch[1]  # down
    mirror.follow(1)
    await mirror.account(1, fetch)
    assert fetch.calls == 4 and mirror.served == 0

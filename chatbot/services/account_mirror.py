"""Each followed user's balances as the user-data stream keeps them, so /balance need not ask
Binance (weight 20) for what the stream already told.

A user's mirror starts from one REST `account` answer and is kept by `outboundAccountPosition`
events, which carry the new free and locked amounts of every asset that changed (absolute
values, not deltas): an asset takes whichever of the snapshot and the events is newest by
Binance's update time, so their order of arrival does not matter. The mirror is trusted only
while the user's subscription is unbroken: a gap (reconnect, re-subscription), a key change or
a stream that is down drops it, and the next /balance asks Binance again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal

from chatbot.exchange.events import AccountPosition
from chatbot.exchange.models import Account, Balance


@dataclass
class _Mirror:
    epoch: int
    account: Account | None = None
    amounts: dict[str, tuple[int, Decimal, Decimal]] = field(default_factory=dict)

    def merge(self, update_time: int, balances: list[Balance]) -> None:
        for b in balances:
            known = self.amounts.get(b.asset)
            if known is None or known[0] <= update_time:
                self.amounts[b.asset] = (update_time, b.free, b.locked)

    def seed(self, account: Account) -> None:
        """The REST snapshot; an asset it omits (zero) is zero unless an event is newer."""
        self.account = account
        listed = {b.asset for b in account.balances}
        for asset, (at, _, _) in list(self.amounts.items()):
            if asset not in listed and at <= account.update_time:
                del self.amounts[asset]
        self.merge(account.update_time, account.balances)

    def view(self) -> Account | None:
        if self.account is None:
            return None
        balances = [Balance(a, free, locked) for a, (_, free, locked) in self.amounts.items()]
        return replace(self.account, balances=sorted(balances, key=lambda b: b.asset))


class AccountMirror:
    """Balances of the users whose user-data subscription is live; see the module docstring."""

    def __init__(self) -> None:
        self._epoch: Callable[[int], int | None] = lambda _: None
        self._mirrors: dict[int, _Mirror] = {}
        self.served = 0  # answers given from the mirror (no REST call)

    def attach(self, epoch: Callable[[int], int | None]) -> None:
        """The stream's epoch (`UserDataStream.epoch`): a mirror is trusted only while it is
        the one the mirror was started in (set by whoever runs the stream)."""
        self._epoch = epoch

    def follow(self, user_id: int) -> None:
        """The user's subscription is live from now on: events may be mirrored."""
        epoch = self._epoch(user_id)
        if epoch is None:
            self._mirrors.pop(user_id, None)
        else:
            self._mirrors[user_id] = _Mirror(epoch)

    def forget(self, user_id: int) -> None:
        """A gap, a key change, an unsubscription: the mirror can no longer be trusted."""
        self._mirrors.pop(user_id, None)

    def on_position(self, user_id: int, event: AccountPosition) -> None:
        mirror = self._mirrors.get(user_id)
        if mirror is not None:
            mirror.merge(event.update_time, event.balances)

    async def account(self, user_id: int, fetch: Callable[[], Awaitable[Account]]) -> Account:
        """The user's account from the mirror when it can be trusted, else from `fetch`
        (which then seeds the mirror)."""
        mirror = self._mirrors.get(user_id)
        if mirror is None or mirror.epoch != self._epoch(user_id):  # down, or a gap since
            return await fetch()
        view = mirror.view()
        if view is not None:
            self.served += 1
            return view
        account = await fetch()
        if self._mirrors.get(user_id) is mirror:  # not dropped while Binance answered
            mirror.seed(account)
            return mirror.view() or account
        return account

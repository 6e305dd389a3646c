"""A market /buy with tp/sl: the buy goes first, and the bot places its OCO once the buy has
filled; a refused OCO is told at once; a restart between the fill and the OCO places it once."""

from __future__ import annotations

from decimal import Decimal

from chatbot.runtime import runtime
from chatbot.storage.tickets import TicketState
from tests.e2e.conftest import ALICE, ALICE_KEY, ask
from tests.e2e.helpers import confirm, orders_at_exchange, process_dies, ticket_of


def _types(exchange) -> dict[str, str]:
    return {o.type: o.status for o in exchange.orders_for(ALICE_KEY)}


async def test_market_entry_then_its_oco(alice_with_key, exchange):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    preview = await ask(alice_with_key, "/buy BTC 0.01 tp +5% sl -3%")
    text = preview.text
    assert "Preview: BUY BTCUSDT market order, then its exits (OCO)" in text, text
    assert "I place them as soon as the buy has filled" in text
    assert "Stop-loss: sell 0.00999 BTC" in text and "Risk:reward 1 : " in text
    assert orders_at_exchange(exchange) == []
    result = await confirm(alice_with_key, preview)
    await alice_with_key.wait_for(lambda: "Exits placed" in alice_with_key.current(preview).text)
    text = alice_with_key.current(preview).text
    assert "Filled" in text and "(OCO, order list #" in text, result.text
    orders = orders_at_exchange(exchange)
    assert _types(exchange) == {"MARKET": "FILLED", "LIMIT_MAKER": "NEW", "STOP_LOSS": "NEW"}
    legs = [o for o in orders if o.type != "MARKET"]
    assert {o.orig_qty for o in legs} == {Decimal("0.00999")}  # the fill less its BTC fee
    assert len({o.order_list_id for o in legs}) == 1


async def test_a_refused_oco_says_the_coins_are_unprotected(alice_with_key, exchange):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    preview = await ask(alice_with_key, "/buy BTC 0.01 tp 63000 sl 58000")
    exchange.faults.fail_next("/api/v3/orderList/oco", code=-2010, status=400)
    await confirm(alice_with_key, preview)
    warning = await alice_with_key.wait_for(
        lambda: next((m for m in alice_with_key.messages if "Exits refused" in m.text), None)
    )
    assert "WITHOUT protection" in warning.text
    assert "/protect BTCUSDT sl 58000 tp 63000" in warning.text, warning.text
    assert _types(exchange) == {"MARKET": "FILLED"}


async def test_a_restart_between_the_fill_and_the_oco_places_it_once(
    api, exchange, settings, alice_with_key, running_bot
):
    from chatbot.app import running_bot as run
    from chatbot.exchange.client import OrderRequest

    exchange.set_price("BTCUSDT", Decimal("60000"))
    services = runtime(running_bot).services
    tickets = services.orders.ticket_repository
    creds = await services.keys.credentials(ALICE)
    preview = await ask(alice_with_key, "/buy BTC 0.01 tp 63000 sl 58000")
    ticket_id = ticket_of(preview)
    # the process dies after the buy went out and filled, before anything else
    assert await tickets.claim(ticket_id, ALICE, 0)
    await tickets.move(ticket_id, (TicketState.CONFIRMING,), TicketState.SUBMITTED)
    await services.account.client.place_order(
        creds,
        OrderRequest("BTCUSDT", "BUY", "MARKET", Decimal("0.01"), client_order_id=ticket_id),
    )
    await process_dies(running_bot)
    async with run(settings, poll_timeout=1) as again:
        alice = api.conversation(api.user(ALICE, first_name="Alice"))
        await alice.wait_for(lambda: "Exits placed" in alice.current(preview).text, 15)
        orders = runtime(again).services.orders
        ticket = await orders.ticket_repository.get(ticket_id)
        assert ticket is not None and ticket.list_id is not None and ticket.list_id > 0
        assert await orders.reconcile() == []  # a later start finds nothing left to place
    assert _types(exchange) == {"MARKET": "FILLED", "LIMIT_MAKER": "NEW", "STOP_LOSS": "NEW"}
    assert len(orders_at_exchange(exchange)) == 3

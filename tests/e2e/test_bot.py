"""The bot end to end: real python-telegram-bot against the Bot API emulator, real aiohttp
against the exchange simulator, a real SQLite file. Assertions are on what the user sees and
what reached the exchange."""

from __future__ import annotations

from decimal import Decimal

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from chatbot.runtime import runtime
from tests.e2e.conftest import ALICE, ALICE_KEY, ALICE_SECRET, STRANGER, ask
from tests.e2e.helpers import everything_stored, following, until_async, users_synced
from tests.keys import public_key_pem

# --- start, help, menu, access ---------------------------------------------------------------


async def test_start_and_help_list_every_command(alice, api):
    for command in ("/start", "/help"):
        text = (await ask(alice, command)).text
        for name in ("/price", "/balance", "/orders", "/trades", "/history", "/setkey"):
            assert name in text
        assert "withdrawals" in text.lower() and "testnet" in text.lower()
    menu = dict(api.commands())
    assert {"price", "balance", "setkey", "help"} <= set(menu)


async def test_unknown_user_is_told_their_id(api, running_bot):
    stranger = api.conversation(api.user(STRANGER, first_name="Eve"))
    reply = await ask(stranger, "/price BTC")
    assert str(STRANGER) in reply.text and "CHATBOT_ALLOWED_USERS" in reply.text


async def test_unknown_user_button_press_is_refused(api, alice_with_key):
    group = api.group_chat(-100555, title="Traders")
    in_group = api.conversation(api.user(ALICE, first_name="Alice"), group)
    confirm = await ask(in_group, "/delkey")
    stranger = api.conversation(api.user(STRANGER, first_name="Eve"), group)
    answer = await stranger.answer(await stranger.press(confirm, "Delete key"))
    assert str(STRANGER) in answer.text
    assert "Key:" in (await ask(alice_with_key, "/keyinfo")).text  # still there


async def test_plain_text_gets_a_hint(alice):
    assert "/help" in (await ask(alice, "hello there")).text
    assert "/help" in (await ask(alice, "/frobnicate")).text


async def test_rate_limit_answers_politely_once(api, settings_factory):
    from chatbot.app import running_bot

    async with running_bot(settings_factory(CHATBOT_COMMAND_LIMIT="3"), poll_timeout=1):
        alice = api.conversation(api.user(ALICE, first_name="Alice"))
        for _ in range(3):
            await ask(alice, "/help")
        reply = await ask(alice, "/help")
        assert "faster than the bot can serve" in reply.text


# --- market commands ----------------------------------------------------------------------------


async def test_price_of_several_symbols_without_a_key(alice, exchange):
    exchange.set_price("BTCUSDT", Decimal("65432.1"))
    reply = await ask(alice, "/price btc ETH/USDT bnb-usdt")
    text = reply.text
    assert text.index("BTCUSDT") < text.index("ETHUSDT") < text.index("BNBUSDT")
    assert "65,432.1 USDT" in text
    assert "24h high" in text and "24h volume" in text
    assert ("▲" in text) or ("▼" in text)
    assert "e-" not in text and "E+" not in text


async def test_unknown_symbol_suggests_real_ones(alice):
    reply = await ask(alice, "/price BTCUSDX")
    assert "Unknown symbol BTCUSDX" in reply.text and "BTCUSDT" in reply.text


async def test_too_many_symbols_and_bad_input(alice):
    assert "At most 10" in (await ask(alice, "/price " + " ".join(["BTC"] * 11))).text
    assert "Type it like BTCUSDT" in (await ask(alice, "/price <b>")).text
    assert "/price BTCUSDT" in (await ask(alice, "/price")).text


async def test_trades_shows_the_last_ten(alice):
    reply = await ask(alice, "/trades ETHUSDT")
    assert "ETHUSDT last 10 trades" in reply.text
    assert reply.text.count(" × ") == 10


async def test_a_slow_call_shows_typing(alice, api, exchange):
    exchange.faults.hang_next("/api/v3/ticker/24hr", seconds=1.5, execute=True)
    await ask(alice, "/price BTC")
    assert any(c["action"] == "typing" for c in api.calls_to("sendChatAction"))


async def test_a_quick_reply_spends_no_send_on_typing(alice, api):
    """A chat action counts against the bot's 30 Telegram sends a second: a reply that comes
    at once needs none."""
    for _ in range(3):
        assert "BTCUSDT" in (await ask(alice, "/price BTC")).text
    assert api.calls_to("sendChatAction") == []


async def test_exchange_outage_gets_a_clear_reply(alice, exchange):
    exchange.faults.fail_next("/api/v3/ticker/24hr", count=1, status=503)
    reply = await ask(alice, "/price BTC")
    assert "not answering" in reply.text


async def test_unexpected_error_gets_a_reference(alice, running_bot, caplog):
    async def broken(names):
        raise RuntimeError("bug")

    runtime(running_bot).services.market.quotes = broken
    reply = await ask(alice, "/price BTC")
    assert "Something went wrong" in reply.text and "reference" in reply.text
    ref = reply.text.rsplit(" ", 1)[-1].rstrip(")")
    assert any(ref in r.getMessage() and r.exc_info for r in caplog.records)


# --- keys ---------------------------------------------------------------------------------------


async def test_setkey_verifies_stores_and_deletes_the_message(alice_with_key, api):
    [setkey_message] = [m for m in alice_with_key.messages if m.text.startswith("/setkey")]
    assert setkey_message.deleted
    info = (await ask(alice_with_key, "/keyinfo")).text
    assert f"{ALICE_KEY[:4]}…{ALICE_KEY[-4:]}" in info and "HMAC" in info
    assert "Withdrawals: disabled" in info and "Added:" in info


async def test_setkey_in_a_group_is_refused_and_deleted(api, running_bot, exchange):
    exchange.add_account(ALICE_KEY, secret=ALICE_SECRET)
    group = api.conversation(api.user(ALICE, first_name="Alice"), api.group_chat(-100777))
    sent = await group.send(f"/setkey {ALICE_KEY} {ALICE_SECRET}")
    reply = await group.reply()
    assert "private chat" in reply.text and "deleted your message" in reply.text
    assert group.current(sent).deleted
    alice = api.conversation(api.user(ALICE, first_name="Alice"))
    assert "no Binance API key" in (await ask(alice, "/balance")).text


async def test_wrong_secret_is_refused_and_nothing_stored(alice, exchange):
    exchange.add_account(ALICE_KEY, secret=ALICE_SECRET)
    reply = await ask(alice, f"/setkey {ALICE_KEY} {'x' * 64}")
    assert "refused the signature" in reply.text and "Nothing was stored" in reply.text
    assert "no Binance API key" in (await ask(alice, "/balance")).text


async def test_unknown_key_is_refused(alice):
    reply = await ask(alice, f"/setkey {'K' * 64} {'S' * 64}")
    assert "does not accept this API key" in reply.text


async def test_key_that_can_withdraw_is_refused(alice, exchange):
    exchange.add_account(ALICE_KEY, secret=ALICE_SECRET, can_withdraw=True)
    reply = await ask(alice, f"/setkey {ALICE_KEY} {ALICE_SECRET}")
    assert "withdrawals enabled" in reply.text and "not stored" in reply.text
    assert "no Binance API key" in (await ask(alice, "/balance")).text


def _pem(private_key) -> str:
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


async def test_setkey_conversation_with_an_ed25519_pem_file(alice, exchange):
    pem = _pem(ed25519.Ed25519PrivateKey.generate())
    exchange.add_account("E" * 64, public_key_pem=public_key_pem(pem))
    assert "API key" in (await ask(alice, "/setkey")).text
    key_message = await alice.send("E" * 64)
    assert "secret" in (await alice.reply()).text
    file_message = await alice.send_document("binance.pem", pem.encode())
    reply = await alice.reply()
    assert "stored" in reply.text and "ED25519" in reply.text
    assert alice.current(key_message).deleted and alice.current(file_message).deleted


async def test_setkey_with_an_rsa_pem_as_text(alice, exchange):
    pem = _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    exchange.add_account("R" * 64, public_key_pem=public_key_pem(pem))
    await ask(alice, "/setkey " + "R" * 64)
    reply = await ask(alice, pem)
    assert "stored" in reply.text and "RSA" in reply.text


async def test_setkey_conversation_can_be_cancelled(alice):
    await ask(alice, "/setkey")
    assert "Cancelled" in (await ask(alice, "/cancel")).text


async def test_delkey_asks_then_deletes(alice_with_key):
    confirm = await ask(alice_with_key, "/delkey")
    await alice_with_key.press(confirm, "Delete key")
    edited = await alice_with_key.edit(confirm)
    assert "deleted" in edited.text and not edited.buttons
    assert "no Binance API key" in (await ask(alice_with_key, "/balance")).text


# --- account commands ---------------------------------------------------------------------------


async def test_balance_values_assets_and_folds_dust(alice_with_key, exchange):
    exchange.set_price("BTCUSDT", Decimal("60000"))
    text = (await ask(alice_with_key, "/balance")).text
    assert text.index("BTC") < text.index("USDT 1,000")  # sorted by value: 3,000 before 1,000
    assert "≈ 3,000 USDT" in text or "≈ 3,000.0" in text
    assert "dust (XRP)" in text
    assert "Total ≈ 4,000" in text


async def test_balance_without_a_key_says_how_to_add_one(alice):
    assert "/setkey API_KEY SECRET" in (await ask(alice, "/balance")).text


async def test_history_and_orders_show_the_users_own(alice_with_key, exchange, running_bot):
    client = runtime(running_bot).services.keys
    creds = await client.credentials(ALICE)
    from chatbot.exchange.client import OrderRequest

    exchange_client = runtime(running_bot).services.account.client
    await exchange_client.place_order(
        creds, OrderRequest("BTCUSDT", "BUY", "MARKET", quantity=Decimal("0.001"))
    )
    notice = await alice_with_key.reply()  # placed elsewhere (not from the chat): told live
    assert "Filled" in notice.text and "BTCUSDT" in notice.text
    below = (exchange.price("BTCUSDT") * Decimal("0.8")).quantize(Decimal("0.01"))
    await exchange_client.place_order(
        creds,
        OrderRequest(
            "BTCUSDT", "BUY", "LIMIT", quantity=Decimal("0.001"), price=below, time_in_force="GTC"
        ),
    )
    history = (await ask(alice_with_key, "/history BTCUSDT")).text
    assert "last 1 fills on BTCUSDT" in history and "BUY 0.001" in history
    orders = (await ask(alice_with_key, "/orders")).text
    assert "Open orders</b> (1)" in orders or "Open orders (1)" in orders
    assert "0/0.001" in orders and "BTCUSDT" in orders
    assert "no open orders on ETHUSDT" in (await ask(alice_with_key, "/orders ETH")).text


# --- durability and secret hygiene ---------------------------------------------------------


async def test_keys_survive_a_restart(api, exchange, settings, alice_with_key, running_bot):
    from chatbot.app import running_bot as run

    await running_bot.updater.stop()
    await running_bot.stop()
    async with run(settings, poll_timeout=1):
        again = api.conversation(api.user(ALICE, first_name="Alice"))
        assert "Balances" in (await ask(again, "/balance")).text


async def test_rotate_key_reencrypts_and_the_bot_still_reads_keys(
    api, exchange, settings_factory, alice_with_key, running_bot
):
    from chatbot.app import running_bot as run
    from chatbot.config import decode_master_key
    from chatbot.storage.vault import rotate_database
    from tests.e2e.conftest import MASTER_KEY

    await running_bot.updater.stop()
    await running_bot.stop()
    new_key = "bmV3LW1hc3Rlci1rZXktZm9yLXJvdGF0aW9uLXRlc3Q="
    rotated = await rotate_database(
        settings_factory().database_url,
        decode_master_key(new_key),
        [decode_master_key(MASTER_KEY)],
    )
    assert rotated == 1
    async with run(settings_factory(CHATBOT_MASTER_KEY=new_key), poll_timeout=1):
        again = api.conversation(api.user(ALICE, first_name="Alice"))
        assert "Balances" in (await ask(again, "/balance")).text


async def test_secrets_never_leak(alice, exchange, api, settings, bot_log, running_bot):
    exchange.add_account(ALICE_KEY, secret=ALICE_SECRET, balances={"USDT": Decimal(10)})
    await ask(alice, f"/setkey {ALICE_KEY} {ALICE_SECRET}")
    await ask(alice, f"/setkey {ALICE_KEY} {'y' * 64}")  # a refused one too
    for command in ("/balance", "/keyinfo", "/orders"):
        await ask(alice, command)
    # The work a stored key starts in the background has been done, logged and written: the
    # user-data stream logged on with it, then her open orders were read and their sync noted.
    await following(running_bot)
    await until_async(lambda: users_synced(settings.db_path))
    raw = await everything_stored(settings)
    assert ALICE_SECRET.encode() not in raw and ALICE_KEY.encode() not in raw
    logged = bot_log.getvalue()
    assert f"key registered user_id={ALICE}" in logged  # the log did record the event
    assert f"command /setkey user_id={ALICE} allowed" in logged  # by name, never arguments
    for secret in (ALICE_SECRET, ALICE_KEY, api.token):
        assert secret not in logged
    bot_texts = "\n".join(m.text for m in alice.messages if m.from_bot)
    assert ALICE_SECRET not in bot_texts and ALICE_KEY not in bot_texts


@pytest.mark.parametrize("command", ["/history", "/trades"])
async def test_one_symbol_commands_need_a_symbol(alice, command):
    assert f"{command} BTCUSDT" in (await ask(alice, command)).text

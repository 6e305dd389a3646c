"""Secrets never stay in a chat, a log line or a readable file: the real bot between the Bot API
emulator and the exchange simulator, on each engine (a SQLite file, a PostgreSQL database)."""

from __future__ import annotations

import asyncio
import os
import stat
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

import chatbot
from chatbot.storage.database import open_database
from tests.conftest import SQLITE_ONLY
from tests.e2e.conftest import ALICE, ALICE_KEY, ALICE_SECRET, STRANGER, ask

SETKEY = f"/setkey {ALICE_KEY} {ALICE_SECRET}"


async def deleted(conv, message) -> bool:
    return await conv.wait_for(lambda: conv.current(message).deleted)


async def rate_limit(conv) -> None:
    """Send /help until the bot says the user is over the limit."""
    for _ in range(100):
        if "faster than the bot can serve" in (await ask(conv, "/help")).text:
            return
    raise AssertionError("the rate limit never answered")


# --- deletion comes before every other check -----------------------------------------------


async def test_a_strangers_setkey_is_deleted_in_a_private_chat(api, running_bot):
    stranger = api.conversation(api.user(STRANGER, first_name="Eve"))
    sent = await stranger.send(SETKEY)
    assert "this bot is private" in (await stranger.reply()).text
    assert await deleted(stranger, sent)


async def test_a_strangers_setkey_is_deleted_in_a_group(api, running_bot):
    group = api.group_chat(-100321, title="Traders")
    stranger = api.conversation(api.user(STRANGER, first_name="Eve"), group)
    sent = await stranger.send(f"/setkey@binance_test_bot {ALICE_KEY} {ALICE_SECRET}")
    assert await deleted(stranger, sent)


async def test_a_pem_pasted_in_a_group_is_deleted(api, running_bot):
    pem = (
        ed25519.Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    group = api.conversation(api.user(ALICE, first_name="Alice"), api.group_chat(-100322))
    sent = await group.send("here is my key\n" + pem)
    assert await deleted(group, sent)


async def test_a_rate_limited_users_setkey_is_deleted(alice):
    await rate_limit(alice)
    sent = await alice.send(SETKEY)
    assert await deleted(alice, sent)


async def test_a_rate_limited_users_step_by_step_answer_is_deleted(alice):
    assert "API key" in (await ask(alice, "/setkey")).text
    await rate_limit(alice)
    sent = await alice.send("my-api-key-which-is-not-key-shaped")  # caught as an answer
    assert await deleted(alice, sent)


async def test_a_secret_pasted_without_setkey_is_deleted(alice):
    sent = await alice.send(f"{ALICE_KEY}\n{ALICE_SECRET}")
    await alice.reply()
    assert alice.current(sent).deleted


async def test_ordinary_text_is_not_deleted(alice):
    sent = await alice.send("what is the price of bitcoin")
    await alice.reply()
    assert not alice.current(sent).deleted


async def test_a_failed_deletion_in_a_private_chat_is_reported(alice, api, exchange):
    exchange.add_account(ALICE_KEY, secret=ALICE_SECRET)
    api.fail_next(
        "deleteMessage", error_code=400, description="Bad Request: message can't be deleted"
    )
    sent = await alice.send(SETKEY)
    warning = await alice.reply()
    assert "could not delete your message" in warning.text
    assert "delete it on Binance" in warning.text
    assert not alice.current(sent).deleted


async def test_a_failed_deletion_is_reported_to_a_stranger_too(api, running_bot):
    stranger = api.conversation(api.user(STRANGER, first_name="Eve"))
    api.fail_next(
        "deleteMessage", error_code=400, description="Bad Request: message can't be deleted"
    )
    await stranger.send(SETKEY)
    texts = [(await stranger.reply()).text, (await stranger.reply()).text]
    assert any("could not delete your message" in text for text in texts)


# --- nothing users type reaches the log, at any level -------------------------------------


async def test_debug_logging_holds_no_user_text_secret_or_sql_parameter(
    bot_log, alice_with_key, settings
):
    pem_holder = "quixotic-walrus-api-key"  # not secret-shaped: only the conversation knows
    await ask(alice_with_key, "/alert BTC > 99999 zebramarmalade")
    await ask(alice_with_key, "where is the lighthouse")
    await ask(alice_with_key, "/setkey")
    await ask(alice_with_key, pem_holder)
    await ask(alice_with_key, "/cancel")
    [row] = await sql(settings, "SELECT key_id, ciphertext FROM credentials")
    key_id, ciphertext = row["key_id"], row["ciphertext"]
    logged = bot_log.getvalue()
    assert f"command /alert user_id={ALICE} allowed" in logged  # DEBUG was on and logging
    for text in ("zebramarmalade", "lighthouse", pem_holder, ALICE_KEY, ALICE_SECRET, key_id):
        assert text not in logged
    assert repr(bytes(ciphertext))[2:24] not in logged
    assert "[REDACTED]" not in logged  # no secret even reached a line to be masked


# --- the database file and its folder are the owner's alone --------------------------------


@contextmanager
def umask(mask: int):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


@SQLITE_ONLY  # the modes of SQLite's own files
@pytest.mark.parametrize("mask", [0o022, 0o000])
async def test_database_file_and_folder_are_owner_only(
    mask, api, exchange, settings_factory, tmp_path
):
    from chatbot.app import running_bot

    exchange.add_account(ALICE_KEY, secret=ALICE_SECRET)
    folder = tmp_path / "data" / "bot"
    settings = settings_factory(CHATBOT_DB=str(folder / "chatbot.sqlite3"))
    with umask(mask):
        async with running_bot(settings, poll_timeout=1):
            alice = api.conversation(api.user(ALICE, first_name="Alice"))
            assert "stored" in (await ask(alice, SETKEY)).text
            files = sorted(folder.iterdir())
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in files}
    assert {"chatbot.sqlite3", "chatbot.sqlite3-wal", "chatbot.sqlite3-shm"} <= set(modes)
    assert set(modes.values()) == {0o600}, {k: oct(v) for k, v in modes.items()}
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


# --- the associated data covers the key type and the permissions ---------------------------


async def stop(app) -> None:
    """Stop the fixture's bot, so the test can edit the file and start it again."""
    await app.updater.stop()
    await app.stop()


async def sql(settings, statement: str, params=()) -> list:
    """Run one statement on the bot's database, whichever engine, as an intruder would."""
    db = await open_database(settings.database_url)
    try:
        if statement.startswith("SELECT"):
            return await db.fetch_all(statement, params)
        await db.execute(statement, params)
        return []
    finally:
        await db.close()


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("permissions", '{"trade": true, "withdraw": true, "ip_restricted": true}'),
        ("key_type", "ed25519"),
        ("sealing", 1),
    ],
)
async def test_an_edited_key_row_does_not_decrypt(
    column, value, api, settings, alice_with_key, running_bot
):
    from chatbot.app import running_bot as run

    await stop(running_bot)
    await sql(settings, f"UPDATE credentials SET {column} = ?", (value,))
    async with run(settings, poll_timeout=1):
        alice = api.conversation(api.user(ALICE, first_name="Alice"))
        info = (await ask(alice, "/keyinfo")).text
        assert "Key:" not in info and "ENABLED" not in info, info
        assert "can no longer be read" in info, info
        balance = (await ask(alice, "/balance")).text
        assert "can no longer be read" in balance and "/setkey" in balance, balance


async def test_a_key_sealed_before_the_migration_still_works_and_is_resealed(
    api, settings, alice_with_key, running_bot
):
    import json

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from chatbot.app import running_bot as run
    from chatbot.config import decode_master_key
    from tests.e2e.conftest import MASTER_KEY

    await stop(running_bot)
    [row] = await sql(settings, "SELECT key_id FROM credentials")
    key_id = row["key_id"]
    nonce = os.urandom(12)
    plaintext = json.dumps({"api_key": ALICE_KEY, "secret": ALICE_SECRET}).encode()
    old_data = f"binance-chatbot/credentials/v1|user={ALICE}|key={key_id}".encode()
    sealed = nonce + AESGCM(decode_master_key(MASTER_KEY)).encrypt(nonce, plaintext, old_data)
    await sql(settings, "UPDATE credentials SET ciphertext = ?, sealing = 1", (sealed,))
    async with run(settings, poll_timeout=1):
        alice = api.conversation(api.user(ALICE, first_name="Alice"))
        assert "Balances" in (await ask(alice, "/balance")).text
    assert [r["sealing"] for r in await sql(settings, "SELECT sealing FROM credentials")] == [2]


# --- `chatbot rotate-key` refuses a database with nothing to rotate ------------------------

NEW_MASTER_KEY = "bmV3LW1hc3Rlci1rZXktZm9yLXJvdGF0aW9uLXRlc3Q="
CHECKOUT = str(Path(chatbot.__file__).resolve().parents[1])  # the code under test, not a copy


async def rotate_key(database, *args: str, cwd: Path) -> tuple[int, str, str]:
    """`python -m chatbot rotate-key ARGS` as an operator runs it, after a master key change;
    (exit status, stdout, stderr)."""
    from tests.e2e.conftest import MASTER_KEY

    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": CHECKOUT,
        "CHATBOT_MASTER_KEY": NEW_MASTER_KEY,
        "CHATBOT_OLD_MASTER_KEYS": MASTER_KEY,
        "CHATBOT_DB": str(database),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chatbot", "rotate-key", *args,
        env=env, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_rotate_key_refuses_a_database_that_does_not_exist(tmp_path):
    missing = tmp_path / "typo" / "chatbot.sqlite3"
    (tmp_path / "typo").mkdir()
    status, out, err = await rotate_key(missing, cwd=tmp_path)
    assert status == 2 and "re-encrypted" not in out
    assert err.count("\n") == 1 and "no database at" in err and "CHATBOT_DB" in err
    assert not missing.exists()
    status, out, _ = await rotate_key(missing, "--allow-empty", cwd=tmp_path)
    assert status == 0 and "re-encrypted 0" in out and not missing.exists()


async def test_rotate_key_refuses_a_database_without_keys_then_rotates_the_real_one(
    api, settings, settings_factory, alice_with_key, running_bot, tmp_path
):
    from chatbot.app import running_bot as run

    await stop(running_bot)
    keyless = tmp_path / "other" / "chatbot.sqlite3"
    await (await open_database(keyless)).close()
    status, out, err = await rotate_key(keyless, cwd=tmp_path)
    assert status == 2 and "holds no stored keys" in err and "--allow-empty" in err
    assert (await rotate_key(keyless, "--allow-empty", cwd=tmp_path))[0] == 0
    status, out, err = await rotate_key(settings.db_path, cwd=tmp_path)
    assert status == 0 and "re-encrypted 1 stored key(s)" in out, err
    async with run(settings_factory(CHATBOT_MASTER_KEY=NEW_MASTER_KEY), poll_timeout=1):
        alice = api.conversation(api.user(ALICE, first_name="Alice"))
        assert "Balances" in (await ask(alice, "/balance")).text

"""The database (each engine) and the credential vault: migrations, encryption at rest,
rotation. The tests that write a SQLite file by hand (an old schema, a loose file mode) are
SQLite's alone; PostgreSQL's own start-up is in test_postgres.py."""

import asyncio
import os
import sqlite3

import pytest
from pydantic import SecretStr

from chatbot.key_types import KeyType
from chatbot.storage import sqlite as db_module
from chatbot.storage.database import SchemaTooNew, open_database
from chatbot.storage.sqlite import SqliteDatabase as Database
from chatbot.storage.vault import CredentialVault, VaultError

API_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


async def store(vault, user_id=1):
    await vault.store(user_id, KeyType.HMAC, SecretStr(API_KEY), SecretStr(SECRET), {"trade": True})


async def test_second_open_is_a_no_op(database_target):
    first = await open_database(database_target)
    version = await first.schema_version()
    await first.close()
    second = await open_database(database_target)
    assert await second.schema_version() == version == len(db_module.MIGRATIONS)
    await second.close()


async def test_newer_schema_stops_start_up(tmp_path):
    path = tmp_path / "bot.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version={len(db_module.MIGRATIONS) + 1}")
    with pytest.raises(SchemaTooNew, match="newer than this version"):
        await Database.open(path)


async def test_store_and_load_round_trip(database):
    vault = CredentialVault(database, os.urandom(32))
    await store(vault)
    creds = await vault.load(1)
    assert creds.api_key.get_secret_value() == API_KEY
    assert creds.secret.get_secret_value() == SECRET
    assert creds.masked_key == "vmPU…Eh8A"
    assert API_KEY not in repr(creds) and SECRET not in repr(creds)
    assert await vault.load(2) is None


async def test_secret_never_reaches_the_file_in_plain_text(database, tmp_path):
    vault = CredentialVault(database, os.urandom(32))
    await store(vault)
    if database.engine == "sqlite":  # every byte of the file and its journal
        await database.close()
        raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    else:  # every column of the row as the server holds it, the ciphertext's own bytes too
        row = await database.fetch_one("SELECT c::text AS raw, ciphertext FROM credentials c")
        raw = row["raw"].encode() + bytes(row["ciphertext"])
    assert API_KEY.encode() not in raw and SECRET.encode() not in raw
    assert API_KEY[:16].encode() not in raw


async def test_nonce_is_fresh_for_each_encryption(database):
    vault = CredentialVault(database, os.urandom(32))
    await store(vault, 1)
    first = (await database.fetch_one("SELECT ciphertext FROM credentials"))["ciphertext"]
    await store(vault, 1)
    second = (await database.fetch_one("SELECT ciphertext FROM credentials"))["ciphertext"]
    assert first[:12] != second[:12] and first != second


async def test_row_copied_to_another_user_does_not_decrypt(database):
    vault = CredentialVault(database, os.urandom(32))
    await store(vault, 1)
    await database.execute(
        "INSERT INTO credentials SELECT 2, key_type, key_id, ciphertext, permissions, "
        "created_at, updated_at, sealing FROM credentials WHERE user_id = 1"
    )
    with pytest.raises(VaultError) as excinfo:
        await vault.load(2)
    assert SECRET not in str(excinfo.value)


async def test_wrong_master_key_is_refused(database):
    await store(CredentialVault(database, os.urandom(32)))
    with pytest.raises(VaultError, match="CHATBOT_OLD_MASTER_KEYS"):
        await CredentialVault(database, os.urandom(32)).load(1)


async def test_rotation_reseals_every_row_under_the_new_key(database):
    old, new = os.urandom(32), os.urandom(32)
    vault = CredentialVault(database, old)
    for user in (1, 2, 3):
        await store(vault, user)
    rotating = CredentialVault(database, new, [old])
    assert (await rotating.load(2)).secret.get_secret_value() == SECRET
    assert await rotating.rotate() == 3
    assert await rotating.rotate() == 0
    only_new = CredentialVault(database, new)
    assert (await only_new.load(3)).api_key.get_secret_value() == API_KEY


async def test_delete(database):
    vault = CredentialVault(database, os.urandom(32))
    await store(vault)
    assert await vault.delete(1)
    assert not await vault.delete(1)
    assert await vault.load(1) is None


def order_state(status: str, executed: str):
    from decimal import Decimal

    from chatbot.storage.tracked_orders import OrderState

    return OrderState("BTCUSDT", 7, "t1", "BUY", "LIMIT", Decimal("1"), status, Decimal(executed))


async def test_each_change_of_an_order_is_news_once(database):
    import asyncio
    from decimal import Decimal

    from chatbot.storage.tracked_orders import TrackedOrderRepository

    orders = TrackedOrderRepository(database)
    assert await orders.advance(1, order_state("NEW", "0")) is None  # nothing to tell yet
    partial = order_state("PARTIALLY_FILLED", "0.4")
    told = await asyncio.gather(*(orders.advance(1, partial) for _ in range(20)))
    assert [t.executed for t in told if t is not None] == [Decimal(0)]  # one teller wins
    assert await orders.advance(1, order_state("NEW", "0")) is None  # a late, older event
    before = await orders.advance(1, order_state("CANCELED", "0.4"))
    assert before is not None and before.executed == Decimal("0.4") and not before.final
    assert await orders.advance(1, order_state("CANCELED", "0.4")) is None
    assert await orders.open_orders(1) == []


async def test_an_open_order_is_kept_as_binance_lists_it_and_an_older_answer_rolls_nothing_back(
    database,
):
    import dataclasses
    from decimal import Decimal

    from chatbot.storage.tracked_orders import TrackedOrderRepository

    orders = TrackedOrderRepository(database)
    placed = dataclasses.replace(
        order_state("NEW", "0"), price=Decimal("55000"), time_in_force="GTC", created_ms=1_000
    )
    await orders.advance(1, placed)
    partly = dataclasses.replace(placed, status="PARTIALLY_FILLED", executed=Decimal("0.4"))
    await orders.advance(1, dataclasses.replace(partly, quote=Decimal("22000"), created_ms=2_000))
    await orders.advance(1, placed)  # a re-read sent before the fill, answered after it
    [known] = await orders.open_orders(1)
    assert (known.status, known.executed, known.quote) == (
        "PARTIALLY_FILLED",
        Decimal("0.4"),
        22000,
    )
    assert (known.price, known.time_in_force, known.created_ms) == (55000, "GTC", 1_000)
    assert (known.side, known.order_type, known.quantity) == ("BUY", "LIMIT", Decimal("1"))


async def test_open_orders_are_listed_oldest_first_even_after_an_update(database):
    import dataclasses
    from decimal import Decimal

    from chatbot.storage.tracked_orders import TrackedOrderRepository

    orders = TrackedOrderRepository(database)
    first, second, third = (
        dataclasses.replace(order_state("NEW", "0"), order_id=n, created_ms=(40 - n) * 100)
        for n in (30, 20, 10)  # Binance's ids are per symbol: the time says which came first
    )
    unknown_age = dataclasses.replace(order_state("NEW", "0"), order_id=40)  # from before 6
    for order in (third, unknown_age, second, first):
        await orders.advance(1, order)
    await orders.advance(1, dataclasses.replace(first, executed=Decimal("0.5")))  # a new version
    listed = [o.order_id for o in await orders.open_orders(1)]
    assert listed == [40, 30, 20, 10]


async def test_an_order_a_full_read_no_longer_lists_is_open_no_longer_but_still_told(database):
    import dataclasses
    import time

    from chatbot.storage.tracked_orders import TrackedOrderRepository

    orders = TrackedOrderRepository(database)
    gone, kept = order_state("NEW", "0"), dataclasses.replace(order_state("NEW", "0"), order_id=8)
    await orders.advance(1, gone)
    await orders.advance(1, kept)
    read_at = time.time()
    placed_since = dataclasses.replace(order_state("NEW", "0"), order_id=9)
    await orders.advance(1, placed_since)  # its event came after the read began
    assert await orders.close_unlisted(1, {8}, read_at) == 1
    assert sorted(o.order_id for o in await orders.open_orders(1)) == [8, 9]
    told = await orders.advance(1, order_state("FILLED", "1"))  # its fill, told late
    assert told is not None and not told.final


async def test_a_readable_file_left_by_an_earlier_version_is_tightened(tmp_path):
    path = tmp_path / "bot.sqlite3"
    with sqlite3.connect(path):
        pass
    os.chmod(path, 0o644)
    db = await Database.open(path)
    await db.close()
    assert os.stat(path).st_mode & 0o777 == 0o600


def seal_as_before_migration_5(master: bytes, user_id: int, kid: str) -> bytes:
    """A ciphertext as the bot wrote it when the associated data was the user and key id."""
    import json

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(12)
    plaintext = json.dumps({"api_key": API_KEY, "secret": SECRET}).encode()
    data = f"binance-chatbot/credentials/v1|user={user_id}|key={kid}".encode()
    return nonce + AESGCM(master).encrypt(nonce, plaintext, data)


async def test_rows_from_before_migration_5_are_read_and_resealed(tmp_path):
    from chatbot.storage.vault import key_id

    path, master = tmp_path / "bot.sqlite3", os.urandom(32)
    with sqlite3.connect(path) as conn:  # a file as version 4 of the schema left it
        for script in db_module.MIGRATIONS[:4]:
            conn.executescript(script)
        conn.execute("PRAGMA user_version=4")
        for user_id in (1, 2):
            blob = seal_as_before_migration_5(master, user_id, key_id(master))
            conn.execute(
                "INSERT INTO credentials VALUES (?, 'hmac', ?, ?, '{\"trade\": true}', 0, 0)",
                (user_id, key_id(master), blob if user_id == 1 else b"\0" * 40),
            )
    db = await Database.open(path)
    try:
        vault = CredentialVault(db, master)
        assert (await vault.load(1)).secret.get_secret_value() == SECRET
        assert await vault.upgrade() == 1  # user 2's damaged row is left, the rest goes on
        rows = await db.fetch_all("SELECT user_id, sealing FROM credentials ORDER BY user_id")
        assert [tuple(r) for r in rows] == [(1, 2), (2, 1)]
        await db.execute("UPDATE credentials SET permissions = '{\"trade\": false}'")
        with pytest.raises(VaultError):
            await vault.load(1)
    finally:
        await db.close()


@pytest.mark.parametrize(
    ("column", "value"), [("key_type", "rsa"), ("permissions", "{}"), ("sealing", 1)]
)
async def test_an_edited_row_does_not_decrypt(database, column, value):
    vault = CredentialVault(database, os.urandom(32))
    await store(vault)
    await database.execute(f"UPDATE credentials SET {column} = ?", (value,))
    with pytest.raises(VaultError):
        await vault.load(1)


async def test_rotation_also_reseals_rows_from_before_migration_5(database):
    from chatbot.storage.vault import key_id

    master = os.urandom(32)
    blob = seal_as_before_migration_5(master, 1, key_id(master))
    await database.execute(
        "INSERT INTO credentials (user_id, key_type, key_id, ciphertext, permissions, "
        "created_at, updated_at) VALUES (1, 'hmac', ?, ?, '{}', 0, 0)",
        (key_id(master), blob),
    )
    vault = CredentialVault(database, master)
    assert await vault.rotate() == 1
    assert (await vault.load(1)).api_key.get_secret_value() == API_KEY


async def test_active_alerts_come_a_page_at_a_time_every_one_once(database):
    """Start-up reads the book in pages (all rows at once kept Python's arenas held); every
    active alert comes exactly once, in id order, and deleted ones not at all."""
    from decimal import Decimal

    from chatbot.storage.alerts import AlertDirection, AlertRepository

    repo = AlertRepository(database)
    ids = []
    for n in range(7):
        alert = await repo.create(
            user_id=n % 3 + 1,
            chat_id=n % 3 + 1,
            symbol="BTCUSDT",
            direction=AlertDirection.ABOVE,
            threshold=Decimal(70_000 + n),
            condition=f"≥ {70_000 + n}",
            note=None,
            repeat=False,
            cooldown=900.0,
            limit=100,
        )
        ids.append(alert.id)
    await repo.delete(2, [ids[1]])
    pages = [[a.id for a in page] async for page in repo.active_pages(size=3)]
    assert [len(page) for page in pages] == [3, 3]
    assert [i for page in pages for i in page] == [i for i in ids if i != ids[1]]


async def test_an_alert_deleted_between_the_tick_and_the_record_queues_no_message(database):
    """The book saw the crossing, but the user deleted the alert before `fire` wrote it: the
    conditional update changes nothing, so no outbox row is written and nothing is told."""
    from decimal import Decimal

    from chatbot.storage.alerts import AlertDirection, AlertRepository

    repo = AlertRepository(database)
    kept, deleted = [
        await repo.create(
            user_id=1,
            chat_id=1,
            symbol="BTCUSDT",
            direction=AlertDirection.ABOVE,
            threshold=Decimal(threshold),
            condition=f"≥ {threshold}",
            note=None,
            repeat=False,
            cooldown=900.0,
            limit=100,
        )
        for threshold in (70_000, 70_001)
    ]
    await repo.delete(1, [deleted.id])

    fired = await repo.fire([kept.id, deleted.id], Decimal(70_002), 1.0)

    assert [a.id for a in fired] == [kept.id]
    assert [item.alert_id for item in await repo.outbox.pending()] == [kept.id]


async def test_an_alert_two_replicas_see_cross_at_once_fires_once(database, database_target):
    """Two processes on one database (two pools on PostgreSQL, two connections to the file on
    SQLite) fire the same one-shot alert at the same moment: the conditional update lets one
    of them through, so one message is queued."""
    from decimal import Decimal

    from chatbot.storage.alerts import AlertDirection, AlertRepository

    other = await open_database(database_target)
    try:
        here, there = AlertRepository(database), AlertRepository(other)
        alerts = [
            await here.create(
                user_id=1, chat_id=1, symbol="BTCUSDT", direction=AlertDirection.ABOVE,
                threshold=Decimal(70_000 + n), condition="≥ 70000", note=None, repeat=False,
                cooldown=900.0, limit=100,
            )
            for n in range(20)
        ]  # fmt: skip
        rounds = [
            repo.fire([alert.id], Decimal(80_000), 1.0)
            for alert in alerts
            for repo in (here, there)
        ]
        fired = [a.id for batch in await asyncio.gather(*rounds) for a in batch]
        assert sorted(fired) == sorted(a.id for a in alerts)
        queued = [item.alert_id for item in await here.outbox.pending(limit=100)]
        assert sorted(queued) == sorted(fired)
    finally:
        await other.close()


async def test_a_users_alert_limit_holds_when_twenty_creations_arrive_at_once(database):
    """The count and the insert share a transaction that takes the user's lock first, so of
    twenty concurrent creations under a limit of five exactly five are made."""
    from decimal import Decimal

    from chatbot.storage.alerts import AlertDirection, AlertLimitReached, AlertRepository

    repo = AlertRepository(database)

    async def create(n: int) -> bool:
        try:
            await repo.create(
                user_id=1, chat_id=1, symbol="BTCUSDT", direction=AlertDirection.ABOVE,
                threshold=Decimal(70_000 + n), condition="≥ 70000", note=None, repeat=False,
                cooldown=900.0, limit=5,
            )  # fmt: skip
        except AlertLimitReached:
            return False
        return True

    made = await asyncio.gather(*(create(n) for n in range(20)))
    assert made.count(True) == 5 and await repo.count_active(1) == 5

"""Migrations 11 on: the user's trading record. The fills /pnl reads, the order lists the bot
follows, and the exit tickets' legs (see migrations.py for how steps are numbered and applied).
New steps are appended here."""

from __future__ import annotations

from chatbot.storage.schema_step import Migration

TRADING_SCHEMA: tuple[Migration, ...] = (
    # 11: the user's own fills read from myTrades (per symbol, keyed by Binance's trade id),
    # how far each symbol was read, deposits and withdrawals (live balance updates and the
    # capital history) and until when that history was read, and the USDT rates of closed
    # candles (see storage/trade_history.py).
    # Portable as written: BIGINT is an 8-byte integer on both engines; amounts are text.
    Migration(
        """
        CREATE TABLE pnl_trades (
            user_id          BIGINT  NOT NULL,
            symbol           TEXT    NOT NULL,
            trade_id         BIGINT  NOT NULL,
            order_id         BIGINT  NOT NULL,
            price            TEXT    NOT NULL,
            qty              TEXT    NOT NULL,
            quote_qty        TEXT    NOT NULL,
            commission       TEXT    NOT NULL,
            commission_asset TEXT    NOT NULL,
            time_ms          BIGINT  NOT NULL,
            is_buyer         INTEGER NOT NULL,
            PRIMARY KEY (user_id, symbol, trade_id)
        );
        CREATE INDEX pnl_trades_by_time ON pnl_trades (user_id, time_ms);
        CREATE TABLE pnl_sync (
            user_id   BIGINT NOT NULL,
            symbol    TEXT   NOT NULL,
            last_id   BIGINT NOT NULL,
            synced_ms BIGINT NOT NULL,
            PRIMARY KEY (user_id, symbol)
        );
        CREATE TABLE pnl_transfers (
            user_id BIGINT NOT NULL,
            source  TEXT   NOT NULL,
            ref     TEXT   NOT NULL,
            asset   TEXT   NOT NULL,
            amount  TEXT   NOT NULL,
            time_ms BIGINT NOT NULL,
            PRIMARY KEY (user_id, source, ref)
        );
        CREATE TABLE pnl_marks (
            user_id      BIGINT PRIMARY KEY,
            transfers_to BIGINT NOT NULL
        );
        CREATE TABLE pnl_rates (
            symbol    TEXT   NOT NULL,
            period    TEXT   NOT NULL,
            open_time BIGINT NOT NULL,
            close     TEXT   NOT NULL,
            PRIMARY KEY (symbol, period, open_time)
        );
        """
    ),
    # 12: the order lists (OCO, OTOCO) the bot follows for each user, and
    # whether the user was told how the list ended (storage/order_lists.py `claim_told`: told
    # once across replicas); `order_ids` are the legs' ids, space-separated, working order first.
    # A tracked order keeps its list, trigger and trailing delta (for /orders from the record).
    Migration(
        """
        CREATE TABLE order_lists (
            user_id       INTEGER NOT NULL,
            symbol        TEXT    NOT NULL,
            order_list_id INTEGER NOT NULL,
            contingency   TEXT    NOT NULL,
            status        TEXT    NOT NULL,
            order_ids     TEXT    NOT NULL,
            told          INTEGER NOT NULL DEFAULT 0,
            updated_at    REAL    NOT NULL,
            PRIMARY KEY (user_id, symbol, order_list_id)
        );
        ALTER TABLE tracked_orders ADD COLUMN order_list_id INTEGER;
        ALTER TABLE tracked_orders ADD COLUMN stop_price TEXT;
        ALTER TABLE tracked_orders ADD COLUMN trailing_delta INTEGER;
        """,
        {
            "postgresql": """
            CREATE TABLE order_lists (
                user_id       BIGINT           NOT NULL,
                symbol        TEXT             NOT NULL,
                order_list_id BIGINT           NOT NULL,
                contingency   TEXT             NOT NULL,
                status        TEXT             NOT NULL,
                order_ids     TEXT             NOT NULL,
                told          INTEGER          NOT NULL DEFAULT 0,
                updated_at    DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (user_id, symbol, order_list_id)
            );
            ALTER TABLE tracked_orders ADD COLUMN order_list_id BIGINT;
            ALTER TABLE tracked_orders ADD COLUMN stop_price TEXT;
            ALTER TABLE tracked_orders ADD COLUMN trailing_delta INTEGER;
            """
        },
    ),
    # 13: exit tickets (storage/tickets.py): an OCO's, an OTOCO's or a single stop's legs as
    # JSON text, and the order list Binance placed for it
    Migration(
        """
        ALTER TABLE tickets ADD COLUMN legs TEXT;
        ALTER TABLE tickets ADD COLUMN list_id INTEGER;
        """,
        {
            "postgresql": """
            ALTER TABLE tickets ADD COLUMN legs TEXT;
            ALTER TABLE tickets ADD COLUMN list_id BIGINT;
            """
        },
    ),
    # 14: alerts of every kind (services/alert_kinds.py): `kind` and the condition's JSON
    # `params` (NULL for a price level written before: its direction and threshold say it all),
    # and `expires_at` (`until`/`for`); the expiry sweep reads the active ones by it
    Migration(
        """
        ALTER TABLE alerts ADD COLUMN kind TEXT NOT NULL DEFAULT 'price';
        ALTER TABLE alerts ADD COLUMN params TEXT;
        ALTER TABLE alerts ADD COLUMN expires_at REAL;
        CREATE INDEX alerts_by_expiry ON alerts (expires_at) WHERE expires_at IS NOT NULL;
        """,
        {
            "postgresql": """
            ALTER TABLE alerts ADD COLUMN kind TEXT NOT NULL DEFAULT 'price';
            ALTER TABLE alerts ADD COLUMN params TEXT;
            ALTER TABLE alerts ADD COLUMN expires_at DOUBLE PRECISION;
            CREATE INDEX alerts_by_expiry ON alerts (expires_at) WHERE expires_at IS NOT NULL;
            """
        },
    ),
    # 15: what each user chose for the messages the bot sends on its own
    # (storage/preferences.py): a mode per kind (on, silent, off), the time zone (an IANA name),
    # quiet hours (minutes of the local day, both NULL: none) and the digest's schedule
    # (`digest_every`: daily, weekly or NULL; `digest_weekday` 0 = Monday; `digest_minute` of
    # the local day), the next digest's instant (the one a replica claims by moving it on) and
    # the last digest's instant and the total balance it showed (the change is against it).
    Migration(
        """
        CREATE TABLE user_settings (
            user_id          INTEGER PRIMARY KEY,
            alerts           TEXT    NOT NULL DEFAULT 'on',
            fills            TEXT    NOT NULL DEFAULT 'on',
            orders           TEXT    NOT NULL DEFAULT 'on',
            digests          TEXT    NOT NULL DEFAULT 'on',
            system           TEXT    NOT NULL DEFAULT 'on',
            time_zone        TEXT    NOT NULL DEFAULT 'UTC',
            quiet_start      INTEGER,
            quiet_end        INTEGER,
            digest_every     TEXT,
            digest_weekday   INTEGER,
            digest_minute    INTEGER,
            digest_next      REAL,
            digest_last      REAL,
            digest_last_usdt TEXT
        );
        CREATE INDEX user_settings_by_digest ON user_settings (digest_next)
        """,
        {
            "postgresql": """
            CREATE TABLE user_settings (
                user_id          BIGINT PRIMARY KEY,
                alerts           TEXT    NOT NULL DEFAULT 'on',
                fills            TEXT    NOT NULL DEFAULT 'on',
                orders           TEXT    NOT NULL DEFAULT 'on',
                digests          TEXT    NOT NULL DEFAULT 'on',
                system           TEXT    NOT NULL DEFAULT 'on',
                time_zone        TEXT    NOT NULL DEFAULT 'UTC',
                quiet_start      INTEGER,
                quiet_end        INTEGER,
                digest_every     TEXT,
                digest_weekday   INTEGER,
                digest_minute    INTEGER,
                digest_next      DOUBLE PRECISION,
                digest_last      DOUBLE PRECISION,
                digest_last_usdt TEXT
            );
            CREATE INDEX user_settings_by_digest ON user_settings (digest_next)
            """
        },
    ),
)

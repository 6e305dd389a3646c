"""The schema's numbered migrations, shared by every engine.

Migration N takes a database from schema version N - 1 to N; each engine records the version
its own way (SQLite: `PRAGMA user_version`; PostgreSQL: a `schema_version` table) and applies
the missing steps in order (SQLite: one transaction each; PostgreSQL: all in one). A
migration's `sql` is the text every engine runs unless `per_engine` gives that engine its own:
only where the engines differ (column types, identity columns), never to change what the
schema means. Statements are separated by semicolons; no migration holds a
semicolon inside a string.

`sql` is SQLite's text. Migrations 1-4, 6 and 7 give PostgreSQL its own (see the list of engine
differences in `chatbot/storage/database.py`): every INTEGER -> BIGINT (SQLite's is 8 bytes),
REAL -> DOUBLE PRECISION, BLOB -> BYTEA, AUTOINCREMENT -> an identity column; 5 is portable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Migration:
    """One step of the schema: `sql` for every engine, or the engine's own text."""

    sql: str
    per_engine: Mapping[str, str] = field(default_factory=dict)

    def text(self, engine: str) -> str:
        """The script `engine` runs for this step."""
        return self.per_engine.get(engine, self.sql)

    def statements(self, engine: str) -> list[str]:
        """The script split into statements, for engines that run one statement at a time."""
        return [s.strip() for s in self.text(engine).split(";") if s.strip()]


MIGRATIONS: tuple[Migration, ...] = (
    # 1: per-user Binance credentials, encrypted (see vault.py)
    Migration(
        """
        CREATE TABLE credentials (
            user_id     INTEGER PRIMARY KEY,
            key_type    TEXT    NOT NULL,
            key_id      TEXT    NOT NULL,
            ciphertext  BLOB    NOT NULL,
            permissions TEXT    NOT NULL,
            created_at  INTEGER NOT NULL,
            updated_at  INTEGER NOT NULL
        );
        """,
        {
            "postgresql": """
            CREATE TABLE credentials (
                user_id     BIGINT  PRIMARY KEY,
                key_type    TEXT    NOT NULL,
                key_id      TEXT    NOT NULL,
                ciphertext  BYTEA   NOT NULL,
                permissions TEXT    NOT NULL,
                created_at  BIGINT  NOT NULL,
                updated_at  BIGINT  NOT NULL
            );
            """
        },
    ),
    # 2: order tickets: a preview awaiting Confirm, and what became of it (see services/orders)
    Migration(
        """
        CREATE TABLE tickets (
            id             TEXT    PRIMARY KEY,
            user_id        INTEGER NOT NULL,
            chat_id        INTEGER NOT NULL,
            message_id     INTEGER,
            kind           TEXT    NOT NULL,
            symbol         TEXT    NOT NULL,
            side           TEXT,
            order_type     TEXT,
            quantity       TEXT,
            quote_quantity TEXT,
            price          TEXT,
            preview_price  TEXT,
            state          TEXT    NOT NULL,
            created_at     REAL    NOT NULL,
            updated_at     REAL    NOT NULL,
            order_id       INTEGER,
            detail         TEXT
        );
        CREATE INDEX tickets_by_state ON tickets (state);
        """,
        {
            "postgresql": """
            CREATE TABLE tickets (
                id             TEXT    PRIMARY KEY,
                user_id        BIGINT  NOT NULL,
                chat_id        BIGINT  NOT NULL,
                message_id     BIGINT,
                kind           TEXT    NOT NULL,
                symbol         TEXT    NOT NULL,
                side           TEXT,
                order_type     TEXT,
                quantity       TEXT,
                quote_quantity TEXT,
                price          TEXT,
                preview_price  TEXT,
                state          TEXT    NOT NULL,
                created_at     DOUBLE PRECISION NOT NULL,
                updated_at     DOUBLE PRECISION NOT NULL,
                order_id       BIGINT,
                detail         TEXT
            );
            CREATE INDEX tickets_by_state ON tickets (state);
            """
        },
    ),
    # 3: price alerts, and the outbox of messages they fire (see services/alerts, outbox)
    Migration(
        """
        CREATE TABLE alerts (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            user_id     INTEGER NOT NULL,
            chat_id     INTEGER NOT NULL,
            symbol      TEXT    NOT NULL,
            direction   TEXT    NOT NULL,
            threshold   TEXT    NOT NULL,
            condition   TEXT    NOT NULL,
            note        TEXT,
            repeat      INTEGER NOT NULL,
            cooldown    REAL    NOT NULL,
            state       TEXT    NOT NULL,
            created_at  REAL    NOT NULL,
            fired_at    REAL,
            fired_price TEXT,
            fire_count  INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX alerts_by_user ON alerts (user_id, state);
        CREATE INDEX alerts_by_state ON alerts (state);
        CREATE TABLE outbox (
            id         INTEGER PRIMARY KEY AUTOINCREMENT,
            chat_id    INTEGER NOT NULL,
            user_id    INTEGER NOT NULL,
            alert_id   INTEGER,
            payload    TEXT    NOT NULL,
            state      TEXT    NOT NULL,
            created_at REAL    NOT NULL,
            sent_at    REAL,
            attempts   INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX outbox_pending ON outbox (state, id);
        """,
        {
            "postgresql": """
            CREATE TABLE alerts (
                id          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                user_id     BIGINT  NOT NULL,
                chat_id     BIGINT  NOT NULL,
                symbol      TEXT    NOT NULL,
                direction   TEXT    NOT NULL,
                threshold   TEXT    NOT NULL,
                condition   TEXT    NOT NULL,
                note        TEXT,
                repeat      BIGINT  NOT NULL,
                cooldown    DOUBLE PRECISION NOT NULL,
                state       TEXT    NOT NULL,
                created_at  DOUBLE PRECISION NOT NULL,
                fired_at    DOUBLE PRECISION,
                fired_price TEXT,
                fire_count  BIGINT  NOT NULL DEFAULT 0
            );
            CREATE INDEX alerts_by_user ON alerts (user_id, state);
            CREATE INDEX alerts_by_state ON alerts (state);
            CREATE TABLE outbox (
                id         BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                chat_id    BIGINT  NOT NULL,
                user_id    BIGINT  NOT NULL,
                alert_id   BIGINT,
                payload    TEXT    NOT NULL,
                state      TEXT    NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                sent_at    DOUBLE PRECISION,
                attempts   BIGINT  NOT NULL DEFAULT 0
            );
            CREATE INDEX outbox_pending ON outbox (state, id);
            """
        },
    ),
    # 4: every order followed for a user and how much of it the user was told (see
    # services/order_tracker), and when each user's orders were last known in full
    Migration(
        """
        CREATE TABLE tracked_orders (
            user_id     INTEGER NOT NULL,
            symbol      TEXT    NOT NULL,
            order_id    INTEGER NOT NULL,
            client_id   TEXT    NOT NULL,
            ticket_id   TEXT,
            side        TEXT    NOT NULL,
            order_type  TEXT    NOT NULL,
            quantity    TEXT    NOT NULL,
            status      TEXT    NOT NULL,
            is_open     INTEGER NOT NULL,
            executed    TEXT    NOT NULL,
            told_qty    TEXT    NOT NULL,
            told_final  INTEGER NOT NULL,
            updated_at  REAL    NOT NULL,
            PRIMARY KEY (user_id, symbol, order_id)
        );
        CREATE INDEX tracked_open ON tracked_orders (user_id, is_open);
        CREATE TABLE order_sync (
            user_id   INTEGER PRIMARY KEY,
            synced_ms INTEGER NOT NULL
        );
        CREATE INDEX tickets_by_user ON tickets (user_id, state);
        """,
        {
            "postgresql": """
            CREATE TABLE tracked_orders (
                user_id     BIGINT  NOT NULL,
                symbol      TEXT    NOT NULL,
                order_id    BIGINT  NOT NULL,
                client_id   TEXT    NOT NULL,
                ticket_id   TEXT,
                side        TEXT    NOT NULL,
                order_type  TEXT    NOT NULL,
                quantity    TEXT    NOT NULL,
                status      TEXT    NOT NULL,
                is_open     BIGINT  NOT NULL,
                executed    TEXT    NOT NULL,
                told_qty    TEXT    NOT NULL,
                told_final  BIGINT  NOT NULL,
                updated_at  DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (user_id, symbol, order_id)
            );
            CREATE INDEX tracked_open ON tracked_orders (user_id, is_open);
            CREATE TABLE order_sync (
                user_id   BIGINT  PRIMARY KEY,
                synced_ms BIGINT  NOT NULL
            );
            CREATE INDEX tickets_by_user ON tickets (user_id, state);
            """
        },
    ),
    # 5: which associated data sealed each credentials row: 1 = user and master key id, 2 = also
    # the key type and the stored permissions (see vault.py; rows are re-sealed at start)
    Migration(
        """
        ALTER TABLE credentials ADD COLUMN sealing INTEGER NOT NULL DEFAULT 1;
        """
    ),
    # 6: what /orders shows of a followed order, so its open orders can be answered from here
    # (services/open_orders.py): limit price, time in force, creation time, quote filled
    Migration(
        """
        ALTER TABLE tracked_orders ADD COLUMN price TEXT;
        ALTER TABLE tracked_orders ADD COLUMN time_in_force TEXT;
        ALTER TABLE tracked_orders ADD COLUMN created_ms INTEGER;
        ALTER TABLE tracked_orders ADD COLUMN quote TEXT;
        """,
        {
            "postgresql": """
            ALTER TABLE tracked_orders ADD COLUMN price TEXT;
            ALTER TABLE tracked_orders ADD COLUMN time_in_force TEXT;
            ALTER TABLE tracked_orders ADD COLUMN created_ms BIGINT;
            ALTER TABLE tracked_orders ADD COLUMN quote TEXT;
            """
        },
    ),
    # 7: outbox claims, so several senders (one per replica) share one outbox: which sender
    # holds a chat's messages, and until when no sender may send to that chat (a claim's
    # expiry, or the chat's pacing after a send; see outbox.py)
    Migration(
        """
        ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
        ALTER TABLE outbox ADD COLUMN claimed_until REAL;
        CREATE INDEX outbox_by_chat ON outbox (chat_id, claimed_until);
        """,
        {
            "postgresql": """
            ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
            ALTER TABLE outbox ADD COLUMN claimed_until DOUBLE PRECISION;
            CREATE INDEX outbox_by_chat ON outbox (chat_id, claimed_until);
            """
        },
    ),
    # 8: what a conversation needs between two messages, so the next one may reach another
    # replica: the /setkey step (storage/conversations.py; the pending API key sealed) and the
    # per-user rate limits' hits and "already warned" times (storage/rate_limits.py)
    Migration(
        """
        CREATE TABLE setkey_steps (
            user_id    INTEGER PRIMARY KEY,
            step       TEXT    NOT NULL,
            key_id     TEXT,
            sealed     BLOB,
            expires_at REAL    NOT NULL
        );
        CREATE TABLE rate_hits (
            user_id INTEGER NOT NULL,
            kind    TEXT    NOT NULL,
            at      REAL    NOT NULL
        );
        CREATE INDEX rate_hits_by_user ON rate_hits (user_id, kind, at);
        CREATE TABLE rate_warnings (
            user_id   INTEGER NOT NULL,
            kind      TEXT    NOT NULL,
            warned_at REAL    NOT NULL,
            PRIMARY KEY (user_id, kind)
        );
        """,
        {
            "postgresql": """
            CREATE TABLE setkey_steps (
                user_id    BIGINT  PRIMARY KEY,
                step       TEXT    NOT NULL,
                key_id     TEXT,
                sealed     BYTEA,
                expires_at DOUBLE PRECISION NOT NULL
            );
            CREATE TABLE rate_hits (
                user_id BIGINT  NOT NULL,
                kind    TEXT    NOT NULL,
                at      DOUBLE PRECISION NOT NULL
            );
            CREATE INDEX rate_hits_by_user ON rate_hits (user_id, kind, at);
            CREATE TABLE rate_warnings (
                user_id   BIGINT  NOT NULL,
                kind      TEXT    NOT NULL,
                warned_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (user_id, kind)
            );
            """
        },
    ),
    # 9: replicas and the leases that share out work done once (see storage/leases.py):
    # each replica's last heartbeat, and each shard's owner until when (time.time() seconds)
    Migration(
        """
        CREATE TABLE replicas (
            id           TEXT PRIMARY KEY,
            heartbeat_at REAL NOT NULL,
            started_at   REAL NOT NULL
        );
        CREATE TABLE leases (
            shard      TEXT PRIMARY KEY,
            owner      TEXT,
            expires_at REAL NOT NULL DEFAULT 0
        );
        CREATE INDEX leases_by_owner ON leases (owner);
        """,
        {
            "postgresql": """
            CREATE TABLE replicas (
                id           TEXT PRIMARY KEY,
                heartbeat_at DOUBLE PRECISION NOT NULL,
                started_at   DOUBLE PRECISION NOT NULL
            );
            CREATE TABLE leases (
                shard      TEXT PRIMARY KEY,
                owner      TEXT,
                expires_at DOUBLE PRECISION NOT NULL DEFAULT 0
            );
            CREATE INDEX leases_by_owner ON leases (owner);
            """
        },
    ),
    # 10: when each chat was last told "live prices are back", so that after an outage every
    # replica saw, each chat hears it once (storage/alerts.py `claim_prices_back`)
    Migration(
        """
        CREATE TABLE prices_back_told (
            chat_id INTEGER PRIMARY KEY,
            told_at REAL    NOT NULL
        );
        """,
        {
            "postgresql": """
            CREATE TABLE prices_back_told (
                chat_id BIGINT PRIMARY KEY,
                told_at DOUBLE PRECISION NOT NULL
            );
            """
        },
    ),
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
)

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

from chatbot.storage.schema_bot import BOT_SCHEMA
from chatbot.storage.schema_step import Migration
from chatbot.storage.schema_trading import TRADING_SCHEMA

__all__ = ["MIGRATIONS", "Migration"]

# Migration N is MIGRATIONS[N - 1]: the bot's own state (1-10), then the trading record (11-).
MIGRATIONS: tuple[Migration, ...] = (*BOT_SCHEMA, *TRADING_SCHEMA)

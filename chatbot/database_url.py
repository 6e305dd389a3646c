"""CHATBOT_DB read as a typed value: a SQLite file path, or a PostgreSQL URL.

A value was once used as a path whatever it held, so `postgresql://...` quietly became a folder
named `postgresql:`. Parsing it here, once, lets the settings refuse what no backend reads and
lets the storage layer pick its engine from `kind` instead of looking at the string again.
A password in a URL is kept out of `repr` and `redacted`, since both end up in logs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import SplitResult, urlsplit


class DatabaseKind(StrEnum):
    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


POSTGRESQL_SCHEMES = ("postgresql", "postgres")
ACCEPTED = "a SQLite file path such as ./data/chatbot.sqlite3, or a postgresql:// URL"

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


class DatabaseUrlError(ValueError):
    """CHATBOT_DB holds neither a file path nor a supported URL; the message never holds it."""


@dataclass(frozen=True)
class DatabaseUrl:
    """Where the data lives: `target` is the SQLite path or the PostgreSQL DSN (with its
    password, if any: pass it to the driver, never to a log line; use `redacted` there)."""

    kind: DatabaseKind
    target: str = field(repr=False)

    @classmethod
    def parse(cls, value: str) -> DatabaseUrl:
        """Read CHATBOT_DB; raises DatabaseUrlError for an unknown scheme or a malformed URL."""
        text = value.strip()
        match = _SCHEME.match(text)
        if match is None:
            if not text:
                raise DatabaseUrlError("empty")
            return cls(DatabaseKind.SQLITE, text)
        if match.group(1).lower() not in POSTGRESQL_SCHEMES:
            raise DatabaseUrlError(f"{match.group(1)}:// is not a supported database")
        parts = _split(text)
        if not parts.path.strip("/"):
            raise DatabaseUrlError("the URL names no database")
        return cls(DatabaseKind.POSTGRESQL, text)

    @property
    def password(self) -> str | None:
        """The URL's password, for the log filter that keeps it out of every line."""
        return _split(self.target).password if self.kind is DatabaseKind.POSTGRESQL else None

    @property
    def redacted(self) -> str:
        """The path, or the URL with its password replaced by ***: safe to log."""
        if self.kind is DatabaseKind.SQLITE:
            return self.target
        parts = _split(self.target)
        if parts.password is None:
            return self.target
        user = parts.username or ""
        host = parts.netloc.rpartition("@")[2]
        return parts._replace(netloc=f"{user}:***@{host}").geturl()

    def __repr__(self) -> str:
        return f"DatabaseUrl({self.kind.value}, {self.redacted!r})"


def _split(text: str) -> SplitResult:
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        raise DatabaseUrlError("not a valid URL") from None
    return parts

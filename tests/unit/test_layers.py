"""The layer rule: handlers -> services -> exchange/storage, and only `chatbot/app.py` (the
composition root) reaches back up into `handlers`. Read from the source, so that a new module
breaking the rule fails here instead of in a circular import at start-up."""

from __future__ import annotations

import ast
from dataclasses import fields
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMPOSITION_ROOT = ROOT / "chatbot" / "app.py"


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, at any depth (imports inside functions count too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def modules_importing(package: str, target: str, *, skip: Path | None = None) -> list[str]:
    return [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / package).rglob("*.py"))
        if path != skip
        for name in sorted(imported_modules(path))
        if name == target or name.startswith(f"{target}.")
    ]


def test_only_the_composition_root_imports_handlers() -> None:
    assert not modules_importing("chatbot", "handlers", skip=COMPOSITION_ROOT)


def test_services_know_nothing_of_telegram() -> None:
    assert not modules_importing("chatbot/services", "telegram")


def test_the_walk_sees_the_composition_root_import_handlers() -> None:
    """The check above would pass vacuously if the walk saw no imports at all."""
    assert any(name.startswith("handlers") for name in imported_modules(COMPOSITION_ROOT))


def test_handlers_read_services_through_the_typed_context() -> None:
    """`context.services` (handlers/context.py), not string keys of `bot_data` in each handler."""
    typed_context = ROOT / "handlers" / "context.py"
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in sorted((ROOT / "handlers").rglob("*.py"))
        if path != typed_context
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Attribute) and node.attr == "bot_data"
    ]
    assert not found, f"bot_data read outside handlers/context.py: {found}"


def test_the_streams_do_not_import_the_rest_client() -> None:
    """Credentials come from exchange/credentials.py: a stream needs no REST transport."""
    packages = ("ws", "market_stream", "user_stream")
    found = [
        line
        for package in packages
        for line in modules_importing(f"chatbot/exchange/{package}", "chatbot.exchange.client")
    ]
    assert not found
    assert any(  # the walk sees the streams' imports at all
        "chatbot.exchange.credentials" in imported_modules(path)
        for path in (ROOT / "chatbot/exchange/user_stream").rglob("*.py")
    )


def test_storage_does_not_import_the_exchange() -> None:
    """Storage and the exchange are side by side under the services: the vault names a key type
    through `chatbot/key_types.py`, not through the signing code."""
    assert not modules_importing("chatbot/storage", "chatbot.exchange")


def test_order_services_return_kinds_not_sentences() -> None:
    """A press's result and an order's outcome carry a kind and the data its words need; the
    words are handlers/order_texts.py's. The one text is `reason`: an error's message meant
    for the user (Binance's refusal, a key to set again)."""
    from chatbot.services.order_outcomes import Outcome, PressResult

    for record in (PressResult, Outcome):
        texts = {f.name for f in fields(record) if "str" in str(f.type).split(" | ")}
        assert texts <= {"reason"}, f"{record.__name__} carries text: {texts}"


DICT = {"get", "setdefault", "pop", "popitem", "update", "items", "keys", "values", "clear"}


def is_bot_data(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "bot_data"


def bot_data_used_as_a_dict(path: Path) -> list[int]:
    """Lines of `path` that index `bot_data` or call a dict method on it."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if (isinstance(node, ast.Subscript) and is_bot_data(node.value))
        or (isinstance(node, ast.Attribute) and is_bot_data(node.value) and node.attr in DICT)
    ]


def test_the_bot_keeps_no_state_under_string_keys_of_bot_data() -> None:
    """Its state is one typed `Runtime` (chatbot/runtime.py), not `bot_data["..."]`."""
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for package in ("chatbot", "handlers")
        for path in sorted((ROOT / package).rglob("*.py"))
        for line in bot_data_used_as_a_dict(path)
    ]
    assert not found, f"bot_data used as a dict: {found}"


def test_only_the_sqlite_implementation_imports_the_sqlite_drivers() -> None:
    """Repositories and services speak to `chatbot/storage/database.py`'s interface, so a
    second engine needs no change to them (the SQLite driver's errors leave sqlite.py as
    StorageError)."""
    sqlite_engine = ROOT / "chatbot" / "storage" / "sqlite.py"
    found = [
        found
        for package in ("chatbot", "handlers")
        for driver in ("sqlite3", "aiosqlite")
        for found in modules_importing(package, driver, skip=sqlite_engine)
    ]
    assert not found, f"imports of a SQLite driver outside chatbot/storage/sqlite.py: {found}"
    assert {"sqlite3", "aiosqlite"} <= imported_modules(sqlite_engine)

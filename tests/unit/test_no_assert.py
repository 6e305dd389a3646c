"""`assert` vanishes under `python -O`: production code checks with `present()` or an `if`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from chatbot.errors import InvariantError, present

ROOT = Path(__file__).resolve().parents[2]


def test_no_assert_statement_in_production_code() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for package in ("chatbot", "handlers")
        for path in sorted((ROOT / package).rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Assert)
    ]
    assert not found, f"assert in production code: {found}"


def test_present_returns_the_value_and_refuses_none() -> None:
    assert present(0, "zero") == 0
    with pytest.raises(InvariantError, match="the ticket is missing"):
        present(None, "the ticket")

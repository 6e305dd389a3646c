"""The one command list (handlers/commands.py) and what it feeds."""

from __future__ import annotations

from telegram.constants import MessageLimit
from telegram.ext import Application, CommandHandler

from handlers.commands import COMMANDS, HELP, menu, metric_names, register


def test_every_sectioned_command_is_shown_in_help() -> None:
    missing = [c.name for c in COMMANDS if c.section is not None and f"/{c.name}" not in HELP]
    assert not missing


def test_help_is_one_message() -> None:
    assert len(HELP) <= MessageLimit.MAX_TEXT_LENGTH


def test_menu_lists_each_menu_command_once_in_list_order() -> None:
    assert [b.command for b in menu()] == [c.name for c in COMMANDS if c.menu is not None]


def test_metrics_count_by_each_command_and_plain_text() -> None:
    assert metric_names() == {f"/{c.name}" for c in COMMANDS} | {"text"}


def test_register_adds_one_handler_per_command_with_a_callback() -> None:
    app = Application.builder().token("123:TEST").build()
    register(app)
    registered = [
        name
        for handler in app.handlers[0]
        if isinstance(handler, CommandHandler)
        for name in handler.commands
    ]
    assert sorted(registered) == sorted(c.name for c in COMMANDS if c.callback is not None)
    assert "setkey" not in registered  # its conversation registers it

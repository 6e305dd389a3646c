"""The `chatbot` command line: `chatbot run | sandbox | keygen | rotate-key`.

`python -m chatbot ...` does the same. Configuration errors end the program with one line on
stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from chatbot.config import ConfigError, LogFormat, Settings, load_settings
from chatbot.logs import configure_logging

EXIT_CONFIG = 2
EXIT_UNAVAILABLE = 3


def cmd_keygen(_: argparse.Namespace) -> int:
    """Print a fresh master key for CHATBOT_MASTER_KEY."""
    print(base64.urlsafe_b64encode(os.urandom(32)).decode())
    return 0


def cmd_run(_: argparse.Namespace) -> int:
    """Run the bot until SIGINT or SIGTERM."""
    from chatbot.memory import fix_malloc_thresholds
    from chatbot.serve import AnotherInstance, serve
    from chatbot.storage.database import SchemaTooNew, StorageError

    settings = _settings()
    settings.require("TELEGRAM_BOT_TOKEN", "CHATBOT_MASTER_KEY")
    fix_malloc_thresholds(settings.malloc_threshold)
    _logging(settings)
    try:
        asyncio.run(serve(settings))
    except SchemaTooNew as exc:
        print(f"chatbot: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except AnotherInstance as exc:
        print(f"chatbot: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except StorageError as exc:
        print(_unreachable(settings, exc), file=sys.stderr)
        return EXIT_UNAVAILABLE
    return 0


def cmd_sandbox(args: argparse.Namespace) -> int:
    """The whole bot offline: simulated exchange, Bot API emulator, a terminal chat."""
    from chatbot.sandbox.console import run

    configure_logging("WARNING")
    if args.telegram:
        from chatbot.sandbox.console import run_telegram

        settings = _settings()
        settings.require("TELEGRAM_BOT_TOKEN")
        return asyncio.run(run_telegram(settings))
    if args.script is None:
        return asyncio.run(run())
    lines = Path(args.script).read_text(encoding="utf-8").splitlines()
    return asyncio.run(run(lines))


def cmd_rotate_key(args: argparse.Namespace) -> int:
    """Re-seal every stored key under CHATBOT_MASTER_KEY (old keys in CHATBOT_OLD_MASTER_KEYS).
    Refuses a missing database or one without keys unless --allow-empty."""
    from chatbot.storage.database import StorageError
    from chatbot.storage.vault import NothingToRotate, VaultError, rotate_database

    settings = _settings()
    settings.require("CHATBOT_MASTER_KEY")
    try:
        count = asyncio.run(
            rotate_database(
                settings.database_url,
                settings.master_key_bytes,
                settings.old_master_key_bytes,
                allow_empty=args.allow_empty,
            )
        )
    except NothingToRotate as exc:
        print(f"chatbot: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except VaultError as exc:
        print(f"chatbot: {exc}; nothing was changed for that key", file=sys.stderr)
        return 1
    except StorageError as exc:
        print(_unreachable(settings, exc), file=sys.stderr)
        return EXIT_UNAVAILABLE
    print(f"re-encrypted {count} stored key(s) under the current master key")
    return 0


def _unreachable(settings: Settings, exc: Exception) -> str:
    """One line for a database that failed: its redacted URL and the engine's reason, with
    the password cut out in case a driver ever echoes it."""
    line = f"chatbot: the database {settings.database_url.redacted} failed: {exc}"
    password = settings.database_url.password
    return line.replace(password, "***") if password else line


def _settings() -> Settings:
    return load_settings()


def _logging(settings: Settings) -> None:
    from chatbot.web import webhook_secret

    secrets = [k.get_secret_value() for k in settings.old_master_keys]
    for secret in (settings.telegram_bot_token, settings.master_key):
        if secret is not None:
            secrets.append(secret.get_secret_value())
    if settings.master_key is not None:  # the webhook's token lasts as long as the master key
        secrets.append(webhook_secret(settings.master_key_bytes))
    if settings.database_url.password:  # a postgresql:// URL may carry one
        secrets.append(settings.database_url.password)
    configure_logging(settings.log_level, settings.log_format is LogFormat.JSON, secrets)


COMMANDS: dict[str, tuple[Callable[[argparse.Namespace], int], str]] = {
    "run": (cmd_run, "run the Telegram bot (needs TELEGRAM_BOT_TOKEN and CHATBOT_MASTER_KEY)"),
    "sandbox": (cmd_sandbox, "try the bot offline: simulated exchange and a terminal chat"),
    "keygen": (cmd_keygen, "print a new master key for CHATBOT_MASTER_KEY"),
    "rotate-key": (cmd_rotate_key, "re-encrypt every stored credential under the current key"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chatbot", description="A Telegram bot to trade on Binance from a phone."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        if name == "sandbox":
            command.add_argument(
                "--telegram",
                action="store_true",
                help="your real bot (TELEGRAM_BOT_TOKEN) trading on the simulator",
            )
            command.add_argument(
                "--script",
                metavar="FILE",
                help="run the chat lines in FILE and print the transcript",
            )
        if name == "rotate-key":
            command.add_argument(
                "--allow-empty",
                action="store_true",
                help="succeed even when CHATBOT_DB does not exist or holds no key",
            )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler, _ = COMMANDS[args.command]
    try:
        return handler(args)
    except ConfigError as exc:
        print(f"chatbot: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

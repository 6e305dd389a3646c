"""What every handler shares: the services, replies, the access guard and the error handler."""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import secrets
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal

from telegram import (
    CallbackQuery,
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ChatAction, MessageLimit, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import ApplicationHandlerStop

from chatbot.errors import UserError, UserFacingError
from chatbot.exchange.grid import format_decimal
from chatbot.services.access import Verdict
from chatbot.telegram_pacing import SendPriority
from handlers.context import BotContext

log = logging.getLogger(__name__)

TYPING_AFTER = 1.0  # seconds a call may take before the chat shows "typing…"

Buttons = Sequence[Sequence[tuple[str, str]]]  # rows of (label, callback_data)


def user_id(update: Update) -> int:
    user = update.effective_user
    if user is None:  # channel posts and the like carry no user; the guard drops them
        raise ApplicationHandlerStop
    return user.id


def chat_of(update: Update) -> Chat:
    """The chat an update came from; updates without one stop here, as the guard's do."""
    if update.effective_chat is None:
        raise ApplicationHandlerStop
    return update.effective_chat


def message_of(update: Update) -> Message:
    """The message a command or answer came in."""
    if update.effective_message is None:
        raise ApplicationHandlerStop
    return update.effective_message


def press_of(update: Update) -> CallbackQuery:
    """The button press a callback handler was called for."""
    if update.callback_query is None:
        raise ApplicationHandlerStop
    return update.callback_query


def pressed_message(query: CallbackQuery) -> Message:
    """The message under which a button was pressed. Telegram leaves it out when it is too
    old (an `InaccessibleMessage`); the user is told to send the command again."""
    if not isinstance(query.message, Message):
        raise UserError("This message is too old for its buttons: send the command again.")
    return query.message


def esc(text: object) -> str:
    """Escape any dynamic value for HTML parse mode."""
    return html.escape(str(text), quote=False)


def num(value: Decimal, places: int | None = None) -> str:
    """A number for people: thousands separated, no exponent, no trailing zeros."""
    return format_decimal(value, places)


def keyboard(buttons: Buttons | None) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(label, callback_data=data) for label, data in row]
            for row in buttons
        ]
    )


def split_message(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """Split at line boundaries into parts of at most `limit` characters (a line longer than
    that is cut hard). Telegram refuses longer messages outright."""
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current or not parts:
        parts.append(current)
    return parts


async def reply(update: Update, text: str, buttons: Buttons | None = None) -> Message:
    """Send HTML text to the chat the update came from; long text goes out in several parts,
    the buttons on the last one. Returns the last message sent."""
    chat = chat_of(update)
    *first, last = split_message(text)  # never empty: at least one part
    for part in first:
        await chat.send_message(part, parse_mode=ParseMode.HTML, disable_web_page_preview=True)
    return await chat.send_message(
        last,
        parse_mode=ParseMode.HTML,
        reply_markup=keyboard(buttons),
        disable_web_page_preview=True,
    )


async def edit(
    message: Message,
    text: str,
    buttons: Buttons | None = None,
    *,
    priority: SendPriority = SendPriority.REPLY,
) -> None:
    """Edit a bot message in place; editing to the same content is not an error here.
    `priority`: its place among queued sends (URGENT for an order's result)."""
    try:
        await message.get_bot().edit_message_text(
            text[: MessageLimit.MAX_TEXT_LENGTH],
            chat_id=message.chat_id,
            message_id=message.message_id,
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard(buttons),
            disable_web_page_preview=True,
            rate_limit_args=priority,
        )
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            raise


@contextlib.asynccontextmanager
async def typing(
    update: Update, action: str = ChatAction.TYPING, after: float | None = None
) -> AsyncIterator[None]:
    """Show "typing…" in the chat while a slow call runs (Telegram shows it for about 5 s).

    Only once the call has taken `TYPING_AFTER`: most replies come in milliseconds, and a chat
    action for each would spend one of the bot's 30 Telegram sends a second (PTB's rate
    limiter counts it) on nothing a user could see, doubling the sends per command. `after`
    overrides the wait (0 for a picture, which always takes a moment)."""
    chat = update.effective_chat

    async def keep_typing() -> None:
        await asyncio.sleep(TYPING_AFTER if after is None else after)
        while chat is not None:
            with contextlib.suppress(TelegramError):  # BULK: dropped if the reply goes first
                await chat.get_bot().send_chat_action(
                    chat.id, action, rate_limit_args=SendPriority.BULK
                )
            await asyncio.sleep(4.5)

    task = asyncio.create_task(keep_typing())
    try:
        yield
    finally:
        task.cancel()


async def delete_quietly(message: Message | None) -> bool:
    """Delete a message if the bot may; True when it is gone."""
    if message is None:
        return False
    try:
        return bool(await message.delete())
    except TelegramError:
        return False


async def guard(update: Update, context: BotContext, *, command_names: frozenset[str]) -> None:
    """Runs before every handler (group -1): the allow-list, then the per-user rate limits
    (one for messages, a more generous one for button presses). Updates are counted by
    `command_names` (handlers/commands.py); app.py binds them."""
    user = update.effective_user
    if user is None:
        raise ApplicationHandlerStop
    pressed = update.callback_query is not None
    decision = await context.services.access.check(user.id, button=pressed)
    _count(update, context, decision.verdict, command_names)
    if decision.verdict is Verdict.ALLOWED:
        return
    if decision.verdict is Verdict.DENIED:
        if decision.warn:  # once per window: later messages of a stranger get silence
            log.info("refused user_id=%s", user.id)
            await _refuse(
                update,
                f"Sorry, this bot is private. Your Telegram user id is {user.id}: ask the "
                "bot's operator to add it to CHATBOT_ALLOWED_USERS.",
            )
    elif update.callback_query is not None:
        # A press must be answered anyway (or the button spins): say why it did nothing.
        text = f"Too many taps: please wait {decision.retry_in:.0f} s and try again."
        await update.callback_query.answer(text, show_alert=decision.warn)
    elif decision.warn:
        await _refuse(
            update,
            f"You are sending commands faster than the bot can serve them. Please wait "
            f"{decision.retry_in:.0f} s and try again.",
        )
    raise ApplicationHandlerStop


async def _refuse(update: Update, text: str) -> None:
    if update.callback_query is not None:
        await update.callback_query.answer(text[:200], show_alert=True)
    elif update.effective_chat is not None:
        await update.effective_chat.send_message(text)


async def on_error(update: object, context: BotContext) -> None:
    """The one place errors become replies: a user's mistake is shown as it is; anything else
    is a bug, logged with a reference id the user can quote."""
    error = context.error
    if isinstance(error, UserFacingError):
        text = error.user_message
    else:
        ref = secrets.token_hex(4)
        log.error("unhandled error ref=%s", ref, exc_info=error)
        text = f"Something went wrong; please try again. (reference {ref})"
    if isinstance(update, Update):
        await _send_error(update, text)


async def _send_error(update: Update, text: str) -> None:
    """As the press's answer; in the chat when there is no press, or when it was answered
    already (the handler failed after answering) or is too old to answer."""
    with contextlib.suppress(TelegramError):
        if update.callback_query is not None:
            with contextlib.suppress(BadRequest):
                await update.callback_query.answer(text[:200], show_alert=True)
                return
        if update.effective_chat is not None:
            await update.effective_chat.send_message(text)


def _count(
    update: Update, context: BotContext, verdict: Verdict, command_names: frozenset[str]
) -> None:
    """Metrics and the log line by a known name only, never raw input: arguments may hold
    secrets (/setkey), and a label per made-up command or callback data would let anyone grow
    the metrics without bound. A stranger's update counts as "stranger", whatever it holds."""
    metrics = context.metrics
    if metrics is None:  # the bot is still starting
        return
    name = "stranger" if verdict is Verdict.DENIED else metric_name(update, command_names)
    metrics.commands.labels(command=name, outcome=verdict.value).inc()
    user = update.effective_user
    log.info("command %s user_id=%s %s", name, user.id if user else None, verdict.value)


def metric_name(update: Update, command_names: frozenset[str]) -> str:
    """The update's name for metrics: one of `command_names` (the commands and "text"),
    "button:<known prefix>", or "other" / "button:other" for anything else."""
    if update.callback_query is not None:
        prefix = (update.callback_query.data or "").split(":", 1)[0]
        return "button:" + (prefix if prefix in KNOWN_BUTTONS else "other")
    text = update.effective_message.text if update.effective_message else None
    name = text.split()[0].split("@")[0] if text and text.startswith("/") else "text"
    return name if name in command_names else "other"


KNOWN_BUTTONS = {"t", "a", "chart", "delkey", "set"}  # the callback data prefixes handlers register


async def stale_button(update: Update, _: object) -> None:
    """A button no handler's pattern takes (an older version's, or forged data)."""
    if update.callback_query is not None:
        await update.callback_query.answer("This button is no longer active.")

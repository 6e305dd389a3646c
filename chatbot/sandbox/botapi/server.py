"""`BotApiEmulator`: serving the Bot API on 127.0.0.1, and the control surface tests use.

The wire itself (routes, tokens, faults) is in `endpoints.py`; what users do is driven through
`Conversation`; this class starts and stops the server and exposes what the bot did.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable

from aiohttp import web

from .conversation import DEFAULT_TIMEOUT, Conversation
from .endpoints import TOKEN, Endpoints
from .faults import FloodControl
from .models import ApiCall, CallbackAnswer, ChatEvent, ChatMessage, JsonDict, TgChat, TgUser
from .updates import WebhookConfig, WebhookSender
from .world import BotWorld

ChatRef = TgChat | int


def chat_id_of(chat: ChatRef) -> int:
    return chat.id if isinstance(chat, TgChat) else chat


class BotApiEmulator:
    """A Telegram Bot API server for one bot, in-process; see the package docstring."""

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",
        bot_username: str = "binance_test_bot",
        *,
        bot_name: str = "Binance Test Bot",
        callback_answer_timeout: float = 15.0,
        webhook_retry_delay: float = 0.2,
        webhook_timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        match = TOKEN.match(token)
        if match is None:
            raise ValueError(f"a bot token looks like '123456:ABC-def_1', not {token!r}")
        self.token = token
        bot = TgUser(int(match.group(1)), bot_name, username=bot_username, is_bot=True)
        self.world = BotWorld(bot, clock=clock, callback_answer_timeout=callback_answer_timeout)
        self._sender = WebhookSender(
            self.world.updates, self.world.signal, webhook_retry_delay, webhook_timeout
        )
        self._endpoints = Endpoints(self.world, token, self._sender)
        self._runner: web.AppRunner | None = None
        self._address: tuple[str, int] | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    def build_app(self) -> web.Application:
        """The aiohttp application (for mounting elsewhere; `start` serves it itself)."""
        return self._endpoints.build_app()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Serve on `host:port` (0: the OS picks a port; read `url` afterwards)."""
        if self._runner is not None:
            raise RuntimeError("the emulator is already running")
        # handler_cancellation: a long poll whose client hung up must stop waiting, or it
        # would linger as the "other" poller of the bot's next getUpdates.
        runner = web.AppRunner(
            self.build_app(), handler_cancellation=True, shutdown_timeout=0.25, access_log=None
        )
        await runner.setup()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            await web.SockSite(runner, sock).start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self._runner, self._address = runner, (host, sock.getsockname()[1])

    async def stop(self) -> None:
        """Stop serving: webhook deliveries end, open long polls are cut."""
        await self._sender.stop()
        self._endpoints.cancel_background()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> BotApiEmulator:
        if self._runner is None:
            await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """The server root (what TELEGRAM_API_URL names), e.g. http://127.0.0.1:41234."""
        if self._address is None:
            raise RuntimeError("start() the emulator first")
        host, port = self._address
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        """PTB's `base_url`: `{url}/bot` (PTB appends the token and the method)."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """PTB's `base_file_url`: `{url}/file/bot`."""
        return f"{self.url}/file/bot"

    # --- people and chats ---------------------------------------------------------------------

    @property
    def bot(self) -> TgUser:
        """The bot's own User (id from the token)."""
        return self.world.bot

    def user(
        self,
        user_id: int,
        first_name: str = "User",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
    ) -> TgUser:
        """A Telegram user who can talk to the bot."""
        user = TgUser(user_id, first_name, last_name, username, language_code)
        self.world.users[user_id] = user
        return user

    def private_chat(self, user: TgUser) -> TgChat:
        """The user's private chat with the bot (its id is the user's id)."""
        chat = TgChat(user.id, "private", user=user)
        self.world.add_chat(chat)
        return chat

    def group_chat(self, chat_id: int, title: str = "Group") -> TgChat:
        """A group the bot is in: a supergroup when the id starts with -100, else a group."""
        if chat_id >= 0:
            raise ValueError(f"group chat ids are negative, not {chat_id}")
        kind = "supergroup" if str(chat_id).startswith("-100") else "group"
        chat = TgChat(chat_id, kind, title=title)
        self.world.add_chat(chat)
        return chat

    def conversation(self, user: TgUser, chat: TgChat | None = None) -> Conversation:
        """`user` in `chat` (default: their private chat), as a test drives it."""
        chat = chat or self.private_chat(user)
        self.world.users.setdefault(user.id, user)
        return Conversation(self.world, user, self.world.add_chat(chat))

    def transcript(self, chat: ChatRef) -> list[ChatMessage]:
        """Every message in the chat, in order, each in its latest version."""
        return self.world.chat_log(chat_id_of(chat)).transcript()

    def block(self, chat: ChatRef) -> None:
        """The user blocks the bot (or kicks it from the group): sends get 403 Forbidden."""
        self.world.chat_log(chat_id_of(chat)).blocked = True

    def unblock(self, chat: ChatRef) -> None:
        self.world.chat_log(chat_id_of(chat)).blocked = False

    def inject(self, kind: str, payload: JsonDict) -> int:
        """Queue a raw update (`{"update_id": n, kind: payload}`); its update_id."""
        return self.world.updates.put(kind, payload)

    # --- faults -------------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        count: int = 1,
        error_code: int = 500,
        *,
        retry_after: int | None = None,
        description: str | None = None,
        chat: ChatRef | None = None,
        delay: float = 0.0,
    ) -> None:
        """Answer the next `count` calls of `method` (to `chat`, if given) with an error.

        429 always carries `retry_after` (default 1) and Telegram's "Too Many Requests: retry
        after N"; other codes get Telegram's usual description unless one is given.
        """
        self.world.faults.fail_next(
            method,
            count=count,
            error_code=error_code,
            retry_after=retry_after,
            description=description,
            chat_id=None if chat is None else chat_id_of(chat),
            delay=delay,
        )

    def delay_next(
        self, method: str, seconds: float, count: int = 1, *, chat: ChatRef | None = None
    ) -> None:
        """Hold the next `count` calls of `method` for `seconds`, then carry them out."""
        chat_id = None if chat is None else chat_id_of(chat)
        self.world.faults.delay_next(method, seconds=seconds, count=count, chat_id=chat_id)

    def enable_flood_control(
        self,
        *,
        per_chat: float = 1.0,
        chat_burst: int = 3,
        per_group_minute: int = 20,
        overall: float = 30.0,
    ) -> None:
        """Enforce Telegram's sending limits on sendMessage/sendPhoto/sendDocument (429)."""
        self.world.flood = FloodControl(
            per_chat=per_chat,
            chat_burst=chat_burst,
            per_group_minute=per_group_minute,
            overall=overall,
        )

    def disable_flood_control(self) -> None:
        self.world.flood = None

    @property
    def flood_refusals(self) -> int:
        """Sends refused with 429 by the flood limits since they were enabled."""
        return 0 if self.world.flood is None else self.world.flood.refused

    def listen(self, callback: Callable[[TgChat, ChatEvent], None]) -> None:
        """Call `callback(chat, event)` on every change in any chat, as it happens (no await:
        it must be quick). For drivers following many chats at once without a waiter each."""
        self.world.listeners.append(lambda log, event: callback(log.chat, event))

    # --- what the bot did ---------------------------------------------------------------------

    @property
    def calls(self) -> list[ApiCall]:
        """Every call received with a valid token, in order (getUpdates included)."""
        return self.world.calls

    def calls_to(self, method: str) -> list[JsonDict]:
        """The parameters of every call to `method`, in order."""
        return [call.params for call in self.world.calls if call.method == method]

    async def wait_for_call(
        self,
        method: str,
        predicate: Callable[[JsonDict], bool] | None = None,
        timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109 (an explicit bound per wait)
        *,
        since: int = 0,
    ) -> ApiCall:
        """The first call to `method` (matching `predicate`) at index >= `since` in `calls`."""

        def find() -> ApiCall | None:
            for call in self.world.calls[since:]:
                if call.method == method and (predicate is None or predicate(call.params)):
                    return call
            return None

        return await self.world.signal.wait_for(find, timeout, f"a {method} call")

    @property
    def answered_callbacks(self) -> dict[str, CallbackAnswer]:
        """answerCallbackQuery answers by callback query id."""
        return self.world.answered_callbacks

    def commands(
        self, scope: JsonDict | None = None, language_code: str = ""
    ) -> list[tuple[str, str]]:
        """The command menu set with setMyCommands, as (command, description) pairs."""
        key = (json.dumps(scope or {"type": "default"}, sort_keys=True), language_code)
        return [(c["command"], c["description"]) for c in self.world.commands.get(key, [])]

    @property
    def webhook(self) -> WebhookConfig | None:
        """The webhook set with setWebhook (None while polling)."""
        return self.world.updates.webhook

    @property
    def pending_updates(self) -> int:
        """Updates not yet confirmed by the bot."""
        return self.world.updates.pending_count

    def file_bytes(self, file_id: str) -> bytes:
        """The bytes behind a file_id (a photo size or a document)."""
        return self.world.files.get(file_id).data

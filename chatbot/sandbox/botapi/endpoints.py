"""The HTTP side of the emulator: routes, token checks, method dispatch, injected faults.

Wire: `POST|GET {url}/bot<token>/<method>` (query string, form, JSON or multipart), answering
`{"ok": true, "result": ...}` or Telegram's error shape with the matching HTTP status; files
at `{url}/file/bot<token>/<file_path>`. Method names are case-insensitive, as on Telegram.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from .errors import ApiError, not_found, unauthorized
from .faults import Fault
from .messaging import Messaging
from .models import ApiCall, JsonDict
from .params import MAX_UPLOAD_BYTES, Params, read_params
from .setup import BotSetup
from .updates import WebhookSender
from .world import BotWorld

logger = logging.getLogger(__name__)
TOKEN = re.compile(r"^(\d{1,20}):[A-Za-z0-9_-]{1,64}$")
Method = Callable[[Params], Awaitable[Any]]


def method_table(messaging: Messaging, setup: BotSetup) -> dict[str, tuple[str, Method]]:
    """Emulated methods by lower-cased name: (canonical name, implementation)."""
    table: dict[str, Method] = {
        "getMe": setup.get_me,
        "logOut": setup.accept,
        "close": setup.accept,
        "setMyDescription": setup.accept,
        "setMyShortDescription": setup.accept,
        "setMyName": setup.accept,
        "setChatMenuButton": setup.accept,
        "setMyDefaultAdministratorRights": setup.accept,
        "getUpdates": setup.get_updates,
        "setWebhook": setup.set_webhook,
        "deleteWebhook": setup.delete_webhook,
        "getWebhookInfo": setup.get_webhook_info,
        "setMyCommands": setup.set_my_commands,
        "getMyCommands": setup.get_my_commands,
        "deleteMyCommands": setup.delete_my_commands,
        "getFile": setup.get_file,
        "getChat": setup.get_chat,
        "sendMessage": messaging.send_message,
        "sendPhoto": messaging.send_photo,
        "sendDocument": messaging.send_document,
        "editMessageText": messaging.edit_message_text,
        "editMessageCaption": messaging.edit_message_caption,
        "editMessageReplyMarkup": messaging.edit_message_reply_markup,
        "deleteMessage": messaging.delete_message,
        "deleteMessages": messaging.delete_messages,
        "sendChatAction": messaging.send_chat_action,
        "answerCallbackQuery": messaging.answer_callback_query,
    }
    return {name.lower(): (name, method) for name, method in table.items()}


class Endpoints:
    """The aiohttp handlers for one bot token."""

    def __init__(self, world: BotWorld, token: str, sender: WebhookSender) -> None:
        self.world = world
        self.token = token
        self.methods = method_table(Messaging(world), BotSetup(world, sender))
        self._background: set[asyncio.Task[Any]] = set()

    def build_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_UPLOAD_BYTES + 1024 * 1024)
        app.add_routes(
            [
                web.route("*", "/bot{token}/{method}", self.handle_method),
                web.get("/file/bot{token}/{path:.+}", self.handle_file),
            ]
        )
        return app

    def cancel_background(self) -> None:
        for task in list(self._background):
            task.cancel()

    async def handle_method(self, request: web.Request) -> web.Response:
        try:
            self.check_token(request.match_info["token"])
            name = request.match_info["method"]
            entry = self.methods.get(name.lower())
            params = Params(await read_params(request))
            self.world.record(ApiCall(entry[0] if entry else name, params.values))
            if entry is None:
                logger.warning("unknown or unemulated Bot API method %r: 404 Not Found", name)
                raise not_found()
            result = await self.call(entry[0], entry[1], params)
        except ApiError as error:
            return json_response(error.to_json(), status=error.error_code)
        except Exception:
            # An emulator bug must not look like a network problem to the bot under test.
            logger.exception("Bot API emulator failed on %s", request.path)
            body = {"ok": False, "error_code": 500, "description": "Internal Server Error"}
            return json_response(body, status=500)
        return json_response({"ok": True, "result": result})

    async def handle_file(self, request: web.Request) -> web.Response:
        try:
            self.check_token(request.match_info["token"])
            stored = self.world.files.at_path(request.match_info["path"])
            if stored is None:
                raise not_found()
        except ApiError as error:
            return json_response(error.to_json(), status=error.error_code)
        return web.Response(body=stored.data, content_type="application/octet-stream")

    def check_token(self, token: str) -> None:
        """404 for a malformed token, 401 for another bot's, as Telegram answers."""
        if not TOKEN.match(token):
            raise not_found()
        if token != self.token:
            raise unauthorized()

    async def call(self, name: str, method: Method, params: Params) -> Any:
        """Run a method, or the fault a test queued for it."""
        try:
            chat_id = int(params.values.get("chat_id"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            chat_id = None
        fault = self.world.faults.take(name, chat_id)
        if fault is None:
            return await method(params)
        if not fault.delay:
            raise fault.error or AssertionError("a fault without error or delay")
        # A delayed call completes even if the client gives up waiting (the request handler
        # is cancelled then): the bot cannot know whether its message went out.
        task = asyncio.create_task(delayed(fault, method, params))
        self._background.add(task)
        task.add_done_callback(self._forget)
        return await asyncio.shield(task)

    def _forget(self, task: asyncio.Task[Any]) -> None:
        """Drop a finished background call, consuming its outcome (nobody may await it)."""
        self._background.discard(task)
        if not task.cancelled():
            task.exception()


async def delayed(fault: Fault, method: Method, params: Params) -> Any:
    await asyncio.sleep(fault.delay)
    if fault.error is not None:
        raise fault.error
    return await method(params)


def json_response(body: JsonDict, status: int = 200) -> web.Response:
    """UTF-8 JSON, not ASCII-escaped, as Telegram sends it."""
    dumps = functools.partial(json.dumps, ensure_ascii=False)
    return web.json_response(body, status=status, dumps=dumps)

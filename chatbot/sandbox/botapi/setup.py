"""Methods about the bot itself: identity, updates, webhook, command menu, files, chats."""

from __future__ import annotations

import json
import re
from typing import Any

from .errors import bad_request
from .models import JsonDict
from .params import Params
from .updates import WebhookConfig, WebhookSender, poll_limit
from .world import BotWorld

COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")
SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
MAX_COMMANDS = 100


class BotSetup:
    """getMe, getUpdates, webhooks, the command menu, getFile and getChat."""

    def __init__(self, world: BotWorld, webhook_sender: WebhookSender) -> None:
        self.world = world
        self.sender = webhook_sender

    async def get_me(self, params: Params) -> JsonDict:
        return {
            **self.world.bot.to_json(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def accept(self, params: Params) -> bool:
        """Settings the emulator records (in `calls`) but does not model: they just succeed."""
        return True

    async def get_updates(self, params: Params) -> list[JsonDict]:
        allowed = params.opt_array("allowed_updates", "allowed updates")
        return await self.world.updates.get_updates(
            params.opt_int("offset"),
            poll_limit(params.opt_int("limit")),
            params.opt_float("timeout") or 0.0,
            allowed,
        )

    async def set_webhook(self, params: Params) -> bool:
        url = params.opt_str("url") or ""
        if not url:
            return await self.delete_webhook(params)
        if not url.startswith(("http://", "https://")):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.opt_str("secret_token")
        if secret is not None and not SECRET_TOKEN.match(secret):
            raise bad_request("secret token contains unallowed characters")
        queue = self.world.updates
        if params.flag("drop_pending_updates"):
            queue.drop_pending()
        queue.set_allowed(params.opt_array("allowed_updates", "allowed updates"))
        queue.terminate_poll("terminated by setWebhook request")
        queue.webhook = WebhookConfig(
            url=url,
            secret_token=secret,
            max_connections=params.opt_int("max_connections") or 40,
            allowed_updates=sorted(queue.allowed_updates),
        )
        self.sender.start()
        self.world.signal.notify()
        return True

    async def delete_webhook(self, params: Params) -> bool:
        queue = self.world.updates
        queue.webhook = None
        await self.sender.stop()
        if params.flag("drop_pending_updates"):
            queue.drop_pending()
        self.world.signal.notify()
        return True

    async def get_webhook_info(self, params: Params) -> JsonDict:
        queue = self.world.updates
        info: JsonDict = {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": queue.pending_count,
        }
        webhook = queue.webhook
        if webhook is None:
            return info
        info.update(url=webhook.url, max_connections=webhook.max_connections)
        info["allowed_updates"] = webhook.allowed_updates
        if webhook.last_error_date is not None:
            info["last_error_date"] = webhook.last_error_date
            info["last_error_message"] = webhook.last_error_message
        return info

    async def set_my_commands(self, params: Params) -> bool:
        commands = params.opt_array("commands", "bot commands") or []
        if len(commands) > MAX_COMMANDS:
            raise bad_request("too many commands specified")
        checked = [check_command(command) for command in commands]
        self.world.commands[scope_key(params)] = checked
        self.world.signal.notify()
        return True

    async def get_my_commands(self, params: Params) -> list[JsonDict]:
        return list(self.world.commands.get(scope_key(params), []))

    async def delete_my_commands(self, params: Params) -> bool:
        self.world.commands.pop(scope_key(params), None)
        return True

    async def get_file(self, params: Params) -> JsonDict:
        stored = self.world.files.get(params.get_str("file_id", missing="file_id is empty"))
        if len(stored.data) > self.world.files.MAX_DOWNLOAD:
            raise bad_request("file is too big")
        return stored.to_json()

    async def get_chat(self, params: Params) -> JsonDict:
        log = self.world.chat_log(params.values.get("chat_id"))
        gifts = ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription")
        return {
            **log.chat.to_json(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                **dict.fromkeys(gifts, True),
                "gifts_from_channels": True,
            },
        }


def scope_key(params: Params) -> tuple[str, str]:
    """Commands are stored per (scope, language_code), as Telegram stores them."""
    scope = params.opt_object("scope", "bot command scope") or {"type": "default"}
    return json.dumps(scope, sort_keys=True), params.opt_str("language_code") or ""


def check_command(command: Any) -> JsonDict:
    if not isinstance(command, dict):
        raise bad_request("can't parse BotCommand JSON object")
    name, description = command.get("command"), command.get("description")
    if not isinstance(name, str) or not COMMAND.match(name):
        raise bad_request("BOT_COMMAND_INVALID")
    if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
        raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
    return {"command": name, "description": description}

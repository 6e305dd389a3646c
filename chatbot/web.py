"""The bot's own HTTP server on CHATBOT_HTTP_HOST:CHATBOT_HTTP_PORT: `/healthz`, `/metrics`
(Prometheus text), and Telegram's webhook in webhook mode.

It listens on the loopback address unless told otherwise: `/metrics` and `/healthz` are for the
operator, not the internet. `/healthz` only reads state checked in the background (see
health_monitor.py), so hitting it costs neither Binance weight nor the database's write lock.

Telegram signs each webhook call with the secret token given to `setWebhook`; a call without
it is refused, so nobody who guesses the URL can inject updates. The token is derived from the
master key (an HMAC of a fixed label), not drawn at random: every replica of one bot behind one
load balancer then holds the same token, so any replica accepts any update, and the
`setWebhook` each replica makes at start sets what the others already expect. Nobody without the
master key can compute it; it is never stored or logged, and changes when the master key does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Update
from telegram.ext import Application

from chatbot.metrics import Metrics
from chatbot.runtime import runtime

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# What the webhook token is an HMAC of; changing it changes every deployment's token.
SECRET_LABEL = b"chatbot/telegram-webhook-secret/v1"


def webhook_secret(master_key: bytes) -> str:
    """The webhook's secret token: HMAC-SHA256(master key, a fixed label) in urlsafe base64
    without padding (43 characters of A-Z a-z 0-9 _ -, as Telegram allows: 1 to 256). The same
    on every replica of one bot, and unguessable without the master key."""
    digest = hmac.new(master_key, SECRET_LABEL, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def webhook_path(webhook_url: str) -> str:
    """The path Telegram will call, taken from the public URL (a proxy may sit in between)."""
    return urlsplit(webhook_url).path or "/"


def webhook_routes(app: Application, path: str, secret: str) -> list[web.RouteDef]:
    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            return web.Response(status=403, text="forbidden")
        try:
            update = Update.de_json(await request.json(), app.bot)
        except ValueError:
            return web.Response(status=400, text="not an update")
        await app.update_queue.put(update)
        return web.Response(text="ok")

    return [web.post(path, receive)]


Health = Callable[[], tuple[bool, dict[str, Any]]]


def ops_routes(health: Health, metrics: Metrics) -> list[web.RouteDef]:
    async def healthz(_: web.Request) -> web.Response:
        healthy, checks = health()
        return web.json_response(checks, status=200 if healthy else 503)

    async def scrape(_: web.Request) -> web.Response:
        return web.Response(body=metrics.render(), content_type="text/plain", charset="utf-8")

    return [web.get("/healthz", healthz), web.get("/metrics", scrape)]


async def start_http(
    app: Application,
    host: str,
    port: int,
    health: Health,
    metrics: Metrics,
    webhook_url: str | None,
) -> web.AppRunner:
    """Serve /healthz and /metrics on `host`:`port`, and the webhook when `webhook_url` is set
    (then tell Telegram to call it, with the secret token every replica of this bot shares)."""
    web_app = web.Application()
    web_app.add_routes(ops_routes(health, metrics))
    secret = webhook_secret(runtime(app).settings.master_key_bytes)
    if webhook_url:
        web_app.add_routes(webhook_routes(app, webhook_path(webhook_url), secret))
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host=host, port=port).start()
    if webhook_url:
        await app.bot.set_webhook(
            webhook_url, secret_token=secret, allowed_updates=Update.ALL_TYPES
        )
    log.info("HTTP on %s:%s (healthz, metrics%s)", host, port, ", webhook" if webhook_url else "")
    return runner

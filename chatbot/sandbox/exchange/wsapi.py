"""The WebSocket API (`/ws-api/v3`): session methods and the user-data stream.

Requests `{"id", "method", "params"}` get `{"id", "status", "result", "rateLimits"}` or
`{"id", "status", "error": {"code", "msg"}, "rateLimits"}`. Methods: `ping`, `time`,
`session.logon` / `session.status` / `session.logout` (logon needs an Ed25519 key: -4056
otherwise), `userDataStream.subscribe` (after logon), `userDataStream.subscribe.signature`
(any key type, signed over the sorted parameters, see signatures.py),
`userDataStream.unsubscribe` (one `subscriptionId`, or all) and `session.subscriptions`. A
`v3/` prefix on a method is accepted. A parameter the method does not read is -1104, checked
before the method runs (`READS`). JSON numbers with a fraction are kept as written (parsed as
Decimal), so `1.10` is signed and read as `1.10`, not `1.1`.

User-data events reach every subscription of the account, wrapped as
`{"subscriptionId": N, "event": {...}}`; unsubscribing sends `eventStreamTerminated`. One
subscription per account per connection (-2035); unknown subscription ids get -2036; a session
hands out `limits.subscription_ids` ids (0, 1, ...: 65,535) over its life, then -2042. Methods
this simulator does not implement answer -1000 "Unknown method."
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from aiohttp import web

from .accounts import Account
from .auth import Authenticator
from .limits import RateLimits
from .params import Params, unread_parameters
from .sockets import Channel, ChannelRegistry, SocketSettings, open_channel, pump
from .wire import ApiError, Clock, dumps

_WEIGHTS = {"ping": 1, "time": 1}
_SIGNED = ("apiKey", "timestamp", "recvWindow", "signature")
READS: dict[str, tuple[str, ...]] = {
    "ping": (),
    "time": (),
    "session.logon": _SIGNED,
    "session.status": (),
    "session.logout": (),
    "userDataStream.subscribe": (),
    "userDataStream.subscribe.signature": _SIGNED,
    "userDataStream.unsubscribe": ("subscriptionId",),
    "session.subscriptions": (),
}


class Session:
    """One WebSocket API connection: who logged on, and its user-data subscriptions."""

    def __init__(self, channel: Channel, ip: str, connected_since: int) -> None:
        self.channel = channel
        self.ip = ip
        self.connected_since = connected_since
        self.account: Account | None = None
        self.authorized_since: int | None = None
        self.subscriptions: dict[int, str] = {}
        self.next_subscription_id = 0
        self.after_reply: list[str] = []  # events that must follow the current reply


class UserDataHub:
    """Routes an account's user-data events to its WebSocket API subscriptions."""

    def __init__(self) -> None:
        self._subscribers: dict[str, dict[tuple[Session, int], None]] = {}

    def publish(self, api_key: str, event: dict[str, Any]) -> None:
        for session, subscription_id in self._subscribers.get(api_key, {}):
            session.channel.send(dumps({"subscriptionId": subscription_id, "event": event}))

    def add(self, api_key: str, session: Session, subscription_id: int) -> None:
        self._subscribers.setdefault(api_key, {})[(session, subscription_id)] = None

    def remove(self, api_key: str, session: Session, subscription_id: int) -> None:
        self._subscribers.get(api_key, {}).pop((session, subscription_id), None)

    def count(self, api_key: str) -> int:
        """The account's active subscriptions, on every connection."""
        return len(self._subscribers.get(api_key, {}))


class WsApi:
    """Serves `/ws-api/v3` connections."""

    def __init__(
        self,
        auth: Authenticator,
        hub: UserDataHub,
        limits: RateLimits,
        clock: Clock,
        registry: ChannelRegistry,
        settings: SocketSettings,
    ) -> None:
        self._auth = auth
        self._hub = hub
        self._limits = limits
        self._clock = clock
        self._registry = registry
        self.settings = settings
        self._methods: dict[str, Callable[[Session, dict[str, Any]], Any]] = {
            "ping": lambda session, params: {},
            "time": lambda session, params: {"serverTime": self._clock.now_ms()},
            "session.logon": self._logon,
            "session.status": lambda session, params: self._status(session),
            "session.logout": self._logout,
            "userDataStream.subscribe": self._subscribe_session,
            "userDataStream.subscribe.signature": self._subscribe_signature,
            "userDataStream.unsubscribe": self._unsubscribe,
            "session.subscriptions": self._subscriptions,
        }

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ip = request.remote or "unknown"
        try:
            self._limits.spend(ip, 2, self._clock.now_ms())  # a connection costs 2
        except ApiError as error:
            return error.response()
        channel = await open_channel(request, self.settings, self._registry)
        session = Session(channel, ip, self._clock.now_ms())

        async def on_text(text: str) -> bool:
            channel.send(self._answer(session, text))
            for event in session.after_reply:
                channel.send(event)
            session.after_reply.clear()
            return True

        try:
            await pump(channel, on_text)
        finally:
            for subscription_id, api_key in session.subscriptions.items():
                self._hub.remove(api_key, session, subscription_id)
            self._registry.discard(channel)
            await channel.stop()
        return channel.ws

    def _answer(self, session: Session, text: str) -> str:
        request_id: Any = None
        status, body = 200, {}
        try:
            message = _parse(text)
            request_id = message.get("id")
            if isinstance(request_id, Decimal):  # echoed back as the number it was
                request_id = float(request_id)
            method = str(message.get("method", "")).removeprefix("v3/")
            self._limits.spend(session.ip, _WEIGHTS.get(method, 2), self._clock.now_ms())
            handler = self._methods.get(method)
            if handler is None:
                raise ApiError(-1000, "Unknown method.")
            params = message.get("params") or {}
            unread = unread_parameters(params, READS[method])
            if unread is not None:
                raise unread
            body = {"result": handler(session, params)}
        except ApiError as error:
            status, body = error.status, {"error": error.payload()}
        limits = self._limits.ws_rate_limits(session.ip, self._clock.now_ms())
        return dumps({"id": request_id, "status": status, **body, "rateLimits": limits})

    # -- session ----------------------------------------------------------------------------

    def _status(self, session: Session) -> dict[str, Any]:
        return {
            "apiKey": session.account.api_key if session.account else None,
            "authorizedSince": session.authorized_since,
            "connectedSince": session.connected_since,
            "returnRateLimits": True,
            "serverTime": self._clock.now_ms(),
            "userDataStream": bool(session.subscriptions),
        }

    def _logon(self, session: Session, params: dict[str, Any]) -> dict[str, Any]:
        account = self._auth.websocket(params)
        if account.key_type != "ed25519":
            kind = "HMAC_SHA256" if account.key_type == "hmac" else "RSA"
            raise ApiError(-4056, f"{kind} API key is not supported.")
        session.account = account
        session.authorized_since = self._clock.now_ms()
        return self._status(session)

    def _logout(self, session: Session, params: dict[str, Any]) -> dict[str, Any]:
        session.account = None
        session.authorized_since = None
        return self._status(session)

    # -- user data stream -------------------------------------------------------------------

    def _subscribe_session(self, session: Session, params: dict[str, Any]) -> dict[str, int]:
        if session.account is None:
            raise ApiError(-1002, "You are not authorized to execute this request.", 401)
        return self._subscribe(session, session.account)

    def _subscribe_signature(self, session: Session, params: dict[str, Any]) -> dict[str, int]:
        return self._subscribe(session, self._auth.websocket(params))

    def _subscribe(self, session: Session, account: Account) -> dict[str, int]:
        if account.api_key in session.subscriptions.values():
            raise ApiError(-2035, "User Data Stream subscription already active.")
        if session.next_subscription_id >= self._limits.subscription_ids:
            self._limits.refused_subscription_ids += 1
            raise ApiError(-2042, "Maximum subscription ID reached for this connection.")
        subscription_id = session.next_subscription_id
        session.next_subscription_id += 1
        session.subscriptions[subscription_id] = account.api_key
        self._hub.add(account.api_key, session, subscription_id)
        return {"subscriptionId": subscription_id}

    def _unsubscribe(self, session: Session, params: dict[str, Any]) -> dict[str, Any]:
        wanted = Params.from_json(params).integer("subscriptionId")
        if wanted is not None and wanted not in session.subscriptions:
            raise ApiError(-2036, "User Data Stream subscription not active.")
        ending = [wanted] if wanted is not None else list(session.subscriptions)
        for subscription_id in ending:
            api_key = session.subscriptions.pop(subscription_id)
            self._hub.remove(api_key, session, subscription_id)
            event = {"e": "eventStreamTerminated", "E": self._clock.now_ms()}
            session.after_reply.append(dumps({"subscriptionId": subscription_id, "event": event}))
        return {}

    def _subscriptions(self, session: Session, params: dict[str, Any]) -> list[dict[str, int]]:
        return [{"subscriptionId": sid} for sid in session.subscriptions]


def _parse(text: str) -> dict[str, Any]:
    try:
        message = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError:
        raise ApiError(-1135, "Invalid JSON Request") from None
    if not isinstance(message, dict):
        raise ApiError(-1135, "Invalid JSON Request")
    if not isinstance(message.get("params", {}), dict):
        raise ApiError(-1135, "Invalid 'params' in JSON request; expected an object.")
    return message

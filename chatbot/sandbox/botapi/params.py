"""Reading a call's parameters the way the Bot API accepts them.

Telegram takes a query string, `application/x-www-form-urlencoded`, `application/json` or
`multipart/form-data`. In the form encodings every value is a string: PTB sends strings raw
and JSON-encodes everything else (`42`, `true`, `reply_markup={...}`), so a form value is
JSON-decoded unless the field is free text (a `text` of "42" must stay a string).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import BodyPartReader, web

from .errors import ApiError, bad_request

# Fields whose form value is always a string, never JSON.
RAW_TEXT_FIELDS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "inline_message_id",
        "url",
        "secret_token",
        "ip_address",
        "action",
        "file_id",
        "photo",
        "document",
        "language_code",
        "title",
        "description",
        "emoji",
        "business_connection_id",
        "message_effect_id",
    }
)
INTEGER = re.compile(r"^-?\d+$")
MAX_UPLOAD_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class UploadedFile:
    """One multipart file part, kept whole: the emulator stores what the bot uploaded."""

    filename: str | None
    content_type: str | None
    data: bytes


def decode_form_value(name: str, value: str) -> Any:
    """A form value as the JSON value PTB encoded, or the raw string for free-text fields."""
    if name in RAW_TEXT_FIELDS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


async def read_params(request: web.Request) -> dict[str, Any]:
    """Every parameter of a call, from its query string and whatever body it has."""
    values: dict[str, Any] = {k: decode_form_value(k, v) for k, v in request.query.items()}
    if not request.body_exists:
        return values
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError as exc:
            raise bad_request("can't parse JSON object") from exc
        if not isinstance(body, dict):
            raise bad_request("can't parse JSON object")
        values.update(body)
    elif request.content_type == "multipart/form-data":
        values.update(await _read_multipart(request))
    else:
        form = await request.post()
        values.update({k: decode_form_value(k, str(v)) for k, v in form.items()})
    return values


async def _read_multipart(request: web.Request) -> dict[str, Any]:
    values: dict[str, Any] = {}
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or part.name is None:
            continue
        data = await part.read()
        if part.filename is None:
            values[part.name] = decode_form_value(part.name, data.decode("utf-8", "replace"))
        else:
            content_type = part.headers.get("Content-Type")
            values[part.name] = UploadedFile(part.filename, content_type, bytes(data))
    return values


class Params:
    """Typed access to one call's parameters, failing with Telegram's 400 wording."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = dict(values)

    def has(self, name: str) -> bool:
        """Whether the call carries `name` at all (None counts as absent)."""
        return self.values.get(name) is not None

    def get_int(self, name: str, *, missing: str | None = None) -> int:
        """A required integer; `missing` overrides the "is empty" description."""
        value = self.opt_int(name)
        if value is None:
            raise bad_request(missing or f"{name} is empty")
        return value

    def opt_int(self, name: str) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            raise bad_request(f'field "{name}" must be a valid Number')
        if isinstance(value, int):
            return value
        if isinstance(value, str) and INTEGER.match(value):
            return int(value)
        raise bad_request(f'field "{name}" must be a valid Number')

    def opt_float(self, name: str) -> float | None:
        value = self.values.get(name)
        if value is None or value == "":
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad_request(f'field "{name}" must be a valid Number') from None

    def get_str(self, name: str, *, missing: str | None = None) -> str:
        value = self.opt_str(name)
        if not value:
            raise bad_request(missing or f"{name} is empty")
        return value

    def opt_str(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None:
            return None
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        raise bad_request(f'field "{name}" must be a String')

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.values.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        return str(value).lower() in ("true", "1")

    def opt_object(self, name: str, what: str) -> dict[str, Any] | None:
        """A JSON object field; `what` names it in the error ("reply keyboard markup")."""
        value = self._json(name, what)
        if value is not None and not isinstance(value, dict):
            raise bad_request(f"can't parse {what} JSON object")
        return value

    def opt_array(self, name: str, what: str) -> list[Any] | None:
        value = self._json(name, what)
        if value is not None and not isinstance(value, list):
            raise bad_request(f"can't parse {what} JSON object")
        return value

    def _json(self, name: str, what: str) -> Any:
        value = self.values.get(name)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError as exc:
                raise bad_request(f"can't parse {what} JSON object") from exc
        return value

    def input_file(self, name: str) -> UploadedFile | str:
        """An upload (a part named `name`, or `attach://<part>`) or a file_id/URL string."""
        value = self.values.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            value = self.values.get(value.removeprefix("attach://"))
        if isinstance(value, UploadedFile):
            if len(value.data) > MAX_UPLOAD_BYTES:
                raise ApiError(413, "Request Entity Too Large")
            return value
        if isinstance(value, str) and value:
            return value
        raise bad_request(f"there is no {name} in the request")

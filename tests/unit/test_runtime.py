"""The bot's own state (chatbot/runtime.py): one typed object as the Application's `bot_data`,
clear about a part read before the step that builds it."""

from __future__ import annotations

import pytest
from telegram.ext import Application

from chatbot.app import build_application
from chatbot.config import Settings
from chatbot.runtime import NotReady, Runtime, runtime

MASTER_KEY = "Y2hhdGJvdC10ZXN0LW1hc3Rlci1rZXktMzItYnl0ZXM="  # 32 bytes, test only


def test_the_built_application_carries_its_settings_and_pacer_in_its_runtime() -> None:
    settings = Settings(
        _env_file=None, TELEGRAM_BOT_TOKEN="123456:TEST-TOKEN", CHATBOT_MASTER_KEY=MASTER_KEY
    )
    app = build_application(settings)
    state = runtime(app)
    assert state is app.bot_data and state.settings is settings
    assert state.pacer is app.bot.rate_limiter
    assert state.metrics is None  # what handlers see before the services are opened
    assert not state.conflict.is_set()


def test_a_part_read_before_it_is_built_says_which_step_builds_it() -> None:
    state = Runtime()
    with pytest.raises(NotReady, match=r"services \(open_resources\)"):
        _ = state.services
    with pytest.raises(NotReady, match=r"settings \(build_application\)"):
        _ = state.settings


def test_an_application_not_built_by_the_bot_has_no_runtime() -> None:
    app = Application.builder().token("123456:TEST-TOKEN").build()
    with pytest.raises(TypeError, match="build_application"):
        runtime(app)

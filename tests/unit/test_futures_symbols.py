"""The perpetual-futures symbol grammar: the spellings users type, turned into Binance's
futures symbol, and a clear refusal for anything else."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.parsing import (
    CommandError,
    names_perpetual,
    normalize_futures_symbol,
    normalize_symbol,
)


@pytest.mark.parametrize(
    ("text", "symbol"),
    [
        ("BTCUSDT.P", "BTCUSDT"),
        ("btcusdt.p", "BTCUSDT"),
        ("BTC.P", "BTCUSDT"),
        ("btc.p", "BTCUSDT"),
        ("BTC-PERP", "BTCUSDT"),
        ("BTC_PERP", "BTCUSDT"),
        ("BTCPERP", "BTCUSDT"),
        ("BTC-USDT-PERP", "BTCUSDT"),
        ("BTCUSDT-PERP", "BTCUSDT"),
        ("ETHUSDC.P", "ETHUSDC"),
        ("1000SHIB.P", "1000SHIBUSDT"),
        ("PERP.P", "PERPUSDT"),
        (" sol.p ", "SOLUSDT"),
    ],
)
def test_perpetual_spellings(text, symbol):
    assert names_perpetual(text)
    assert normalize_futures_symbol(text) == symbol
    assert normalize_futures_symbol(text, suffix_required=True) == symbol


@pytest.mark.parametrize(
    ("text", "symbol"),
    [("BTC", "BTCUSDT"), ("btcusdt", "BTCUSDT"), ("ETH/USDT", "ETHUSDT"), ("PERP", "PERPUSDT")],
)
def test_a_futures_only_command_needs_no_suffix(text, symbol):
    assert normalize_futures_symbol(text, "/fprice BTC") == symbol


@pytest.mark.parametrize("text", ["BTCUSDT", "BTC", "PERP", "PERPUSDT", "ETH-USDT"])
def test_without_the_suffix_a_text_names_spot(text):
    assert not names_perpetual(text)
    with pytest.raises(CommandError, match=r"Add \.P to the name, like BTCUSDT\.P"):
        normalize_futures_symbol(text, "/price BTCUSDT.P", suffix_required=True)


NOT_PERPETUALS = ["BTC\n.P", ".P", "-PERP", "B.P", "BTC..P", "BTC$.P", "USDT.P", "€.P", ""]


@pytest.mark.parametrize("text", NOT_PERPETUALS)
def test_a_text_that_is_no_perpetual_is_refused_with_an_example(text):
    with pytest.raises(CommandError) as raised:
        normalize_futures_symbol(text, "/fprice BTC")
    message = str(raised.value)
    assert "is not a perpetual futures symbol" in message
    assert "BTCUSDT.P" in message and message.endswith("/fprice BTC")


def test_spot_symbols_refuse_the_perpetual_suffix_as_before():
    with pytest.raises(CommandError, match="is not a symbol"):
        normalize_symbol("BTCUSDT.P")
    assert normalize_symbol("btc-usdt") == "BTCUSDT"


@given(st.text(max_size=40))
def test_any_text_either_names_a_perpetual_or_says_what_to_type(text):
    try:
        symbol = normalize_futures_symbol(text)
    except CommandError as error:
        assert "BTCUSDT.P" in str(error)
    else:
        assert re.fullmatch(r"[A-Z0-9]{2,20}(USDT|USDC)", symbol)
        assert symbol.endswith(("USDT", "USDC"))

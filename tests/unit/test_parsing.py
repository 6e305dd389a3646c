"""The command grammar: symbols and amounts, and the replies for bad input."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.parsing import (
    CommandError,
    normalize_symbol,
    parse_amount,
    parse_one_symbol,
    parse_symbols,
)


@pytest.mark.parametrize("text", ["BTCUSDT", "btcusdt", "BTC/USDT", "btc-usdt", "BTC_USDT"])
def test_symbol_spellings(text):
    assert normalize_symbol(text) == "BTCUSDT"


def test_bare_asset_is_kept_for_the_market_service_to_resolve():
    assert normalize_symbol("btc") == "BTC"


@pytest.mark.parametrize("text", ["", "B", "BTC USDT", "<b>", "BTC$", "X" * 30])
def test_bad_symbol_names_an_example(text):
    with pytest.raises(CommandError) as excinfo:
        normalize_symbol(text)
    assert "/price BTCUSDT" in excinfo.value.user_message


def test_symbols_are_deduplicated_in_order():
    assert parse_symbols(["eth", "BTC", "ETH"]) == ["ETH", "BTC"]


def test_no_symbol_and_too_many_symbols():
    with pytest.raises(CommandError, match="Which symbol"):
        parse_symbols([])
    with pytest.raises(CommandError, match="At most 10 symbols"):
        parse_symbols([f"S{i}X" for i in range(11)])


def test_one_symbol_commands():
    assert parse_one_symbol(["btc/usdt"], "/trades") == "BTCUSDT"
    with pytest.raises(CommandError, match="/trades BTCUSDT"):
        parse_one_symbol([], "/trades")


@pytest.mark.parametrize(
    ("text", "value"), [("0.001", "0.001"), ("65000", "65000"), (".5", "0.5"), ("1.10", "1.10")]
)
def test_amounts(text, value):
    assert parse_amount(text, "quantity", "/buy BTC 0.01") == Decimal(value)


@pytest.mark.parametrize("text", ["1e3", "-1", "0", "1,000", "abc", "1.2.3", "NaN", "inf", ""])
def test_bad_amounts_are_refused_with_an_example(text):
    with pytest.raises(CommandError) as excinfo:
        parse_amount(text, "quantity", "/buy BTC 0.01")
    assert "/buy BTC 0.01" in excinfo.value.user_message


def test_long_input_is_not_echoed_whole():
    secret_like = "A" * 64
    with pytest.raises(CommandError) as excinfo:
        normalize_symbol(secret_like)
    assert secret_like not in excinfo.value.user_message


@given(st.text(max_size=40))
def test_any_text_either_parses_or_says_what_to_type(text):
    try:
        name = normalize_symbol(text)
    except CommandError as exc:
        assert "BTCUSDT" in exc.user_message
    else:
        assert (name.isalnum() and name.isupper()) or name.isdigit()


@pytest.mark.parametrize(
    ("args", "spec"),
    [
        ("BTCUSDT > 70000", ("BTCUSDT", ">", "70000", None, False)),
        ("btc <65000.5 buy the dip", ("BTC", "<", "65000.5", "buy the dip", False)),
        ("ETH +5%", ("ETH", "%", "5", None, False)),
        ("ETH -2.5% repeat", ("ETH", "%", "-2.5", None, True)),
        ("BTC > 70000 take profit repeat", ("BTC", ">", "70000", "take profit", True)),
    ],
)
def test_alert_grammar(args, spec):
    from handlers.alert_parsing import parse_alert

    parsed = parse_alert(args.split())
    level = parsed.condition
    assert (parsed.symbol, level.operator, level.value, parsed.note, parsed.repeat) == (
        spec[0],
        spec[1],
        Decimal(spec[2]),
        spec[3],
        spec[4],
    )


@pytest.mark.parametrize("args", ["", "BTC", "BTC = 5", "BTC >", "BTC 0%", "BTC > -5", "BTC 5"])
def test_bad_alerts_show_an_example(args):
    from handlers.alert_parsing import parse_alert

    with pytest.raises(CommandError) as excinfo:
        parse_alert(args.split())
    assert "/alert" in excinfo.value.user_message


def test_order_grammar():
    from handlers.parsing import parse_order

    intent = parse_order("BUY", ["btc/usdt", "0.001", "@65000"])
    assert (intent.symbol, intent.amount, intent.price) == ("BTCUSDT", Decimal("0.001"), 65000)
    assert parse_order("SELL", ["ETH", "$50"]).in_quote
    assert parse_order("BUY", ["BTCUSDT", "100", "USDT"]).unit == "USDT"
    with pytest.raises(CommandError, match="/sell BTCUSDT"):
        parse_order("SELL", ["BTC", "1", "@"])


# --- digits, ids and button data ----------------------------------------------------------------


@pytest.mark.parametrize("text", ["１２", "²", "①", "١٢", "0.0０1", "½", "Ⅻ"])
def test_digits_other_than_0_to_9_are_refused_everywhere(text):
    from handlers.alert_parsing import parse_alert
    from handlers.parsing import parse_cancel, parse_order, parse_unalert

    for parse in (
        lambda: parse_amount(text, "quantity", "/buy BTC 0.01"),
        lambda: parse_order("BUY", ["BTC", text]),
        lambda: parse_order("BUY", ["BTC", "1", "@", text]),
        lambda: parse_alert(["BTC", ">", text]),
        lambda: parse_alert(["BTC", f"+{text}%"]),
        lambda: parse_cancel([text]),
        lambda: parse_unalert([text]),
    ):
        with pytest.raises(CommandError, match="has digits I cannot read"):
            parse()


def test_ids_are_ascii_digits_within_64_bits():
    from handlers.parsing import MAX_ID, parse_cancel, parse_unalert

    assert parse_cancel([str(MAX_ID)]) == (MAX_ID, None)
    assert parse_unalert(["#12", "13"]) == [12, 13]
    for text in (str(MAX_ID + 1), "9" * 23, "-1", "1.0", "#", "BTCUSDT"):
        with pytest.raises(CommandError, match="is not an order id"):
            parse_cancel([text])
        with pytest.raises(CommandError, match="is not an alert id"):
            parse_unalert([text])


def test_moves_are_signed_and_no_larger_than_any_price_can_make():
    from handlers.alert_parsing import parse_alert
    from handlers.parsing import MAX_MOVE

    assert parse_alert(["BTC", "-99.9999999%"]).condition.value == Decimal("-99.9999999")
    assert parse_alert(["BTC", f"+{MAX_MOVE}%"]).condition.value == MAX_MOVE
    for text, message in [
        (f"+{MAX_MOVE + 1}%", "more than any price on Binance can move"),
        ("5%", "is not a move"),
        ("+0%", "A move of 0% is no alert"),
    ]:
        with pytest.raises(CommandError, match=message):
            parse_alert(["BTC", text])


@given(st.text(max_size=70))
def test_button_patterns_take_only_what_the_bot_sends(data):
    import re

    from handlers.parsing import (
        ALERT_BUTTON,
        CHART_BUTTON,
        DELKEY_BUTTON,
        LARGEST_BUTTON,
        TICKET_BUTTON,
        button_fields,
    )

    for pattern in (ALERT_BUTTON, CHART_BUTTON, DELKEY_BUTTON, LARGEST_BUTTON, TICKET_BUTTON):
        match = re.match(pattern, data)
        if match is None:
            continue
        fields = button_fields(match)
        assert all(field.isascii() and "\n" not in field for field in fields)
        if pattern == ALERT_BUTTON:
            assert int(fields[-1]) < 2**63  # an id SQLite can look up


def test_button_patterns_match_the_bot_s_own_buttons():
    import re

    from handlers.parsing import ALERT_BUTTON, DELKEY_BUTTON, TICKET_BUTTON

    assert re.match(TICKET_BUTTON, "t:c:tAbC0123456789xyzQ")
    assert re.match(ALERT_BUTTON, "a:again:42")
    assert re.match(DELKEY_BUTTON, "delkey:yes:1001")
    for forged in ("delkey:yes", "delkey:yes:1001\n", "a:again:" + "9" * 23, "t:c:a b"):
        assert not any(re.match(p, forged) for p in (TICKET_BUTTON, ALERT_BUTTON, DELKEY_BUTTON))

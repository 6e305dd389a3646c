"""Binance error codes map to exceptions a caller can match on, with messages fit for a user;
every error a user may see derives from one base."""

from pathlib import Path

import pytest

from chatbot.errors import UserError, UserFacingError
from chatbot.exchange.errors import (
    AuthError,
    CancelRejected,
    DuplicateOrder,
    ExchangeUnavailable,
    FilterFailure,
    InsufficientBalance,
    InvalidApiKeyFormat,
    InvalidInterval,
    InvalidRequest,
    InvalidSignature,
    InvalidSymbol,
    OrderNotFound,
    OrderRejected,
    RateLimited,
    TimestampError,
    error_from_payload,
)
from chatbot.exchange.rule_checks import OrderRuleViolation
from chatbot.exchange.signing import KeyFormatError
from chatbot.storage.vault import VaultError
from handlers.parsing import CommandError


@pytest.mark.parametrize(
    ("code", "msg", "expected"),
    [
        (-1000, "An unknown error occurred while processing the request.", ExchangeUnavailable),
        (-1001, "Internal error; unable to process your request.", ExchangeUnavailable),
        (-1003, "Too much request weight used; current limit is 6000", RateLimited),
        (-1007, "Timeout waiting for response from backend server.", ExchangeUnavailable),
        (-1008, "Server is currently overloaded with other requests.", ExchangeUnavailable),
        (-1015, "Too many new orders; current limit is 50 orders per TEN_SECONDS.", RateLimited),
        (-1021, "Timestamp for this request is outside of the recvWindow.", TimestampError),
        (-1022, "Signature for this request is not valid.", InvalidSignature),
        (-1102, "Mandatory parameter 'symbol' was not sent.", InvalidRequest),
        (-1111, "Parameter 'quantity' has too much precision.", InvalidRequest),
        (-1120, "Invalid interval.", InvalidInterval),
        (-1121, "Invalid symbol.", InvalidSymbol),
        (-2010, "Account has insufficient balance for requested action.", InsufficientBalance),
        (-2010, "Duplicate order sent.", DuplicateOrder),
        (-2010, "Market is closed.", OrderRejected),
        (-2011, "Unknown order sent.", CancelRejected),
        (-2013, "Order does not exist.", OrderNotFound),
        (-2014, "API-key format invalid.", InvalidApiKeyFormat),
        (-2015, "Invalid API-key, IP, or permissions for action.", AuthError),
    ],
)
def test_codes_map_to_typed_errors(code, msg, expected):
    error = error_from_payload(code, msg, status=400)
    assert type(error) is expected
    assert error.code == code
    assert error.user_message and error.user_message[0].isupper()


def test_filter_failure_names_the_filter():
    error = error_from_payload(-1013, "Filter failure: NOTIONAL")
    assert isinstance(error, FilterFailure)
    assert error.filter_name == "NOTIONAL"
    assert "order value" in error.user_message


def test_signature_error_is_an_auth_error():
    assert isinstance(error_from_payload(-1022, ""), AuthError)


def test_rate_limit_carries_retry_after():
    error = error_from_payload(-1003, "Too much request weight used", retry_after=7)
    assert isinstance(error, RateLimited)
    assert error.retry_after == 7


def test_unlisted_code_keeps_binance_text():
    error = error_from_payload(-1106, "Parameter 'price' sent when not required.")
    assert type(error) is InvalidRequest
    assert "price" in error.user_message


def test_only_codes_that_mean_refused_prove_an_order_was_not_placed():
    from chatbot.exchange.errors import refused_order_code

    for code in (-2010, -1013, -1111, -1100, -1102, -1121, -1021, -1022, -2015, -1003):
        assert refused_order_code(code), code
    for code in (None, -1000, -1001, -1006, -1007, -1008, -9999, "−2010", True):
        assert not refused_order_code(code), code


@pytest.mark.parametrize(
    "error",
    [
        UserError("No such alert of yours."),
        CommandError("Type it like BTCUSDT: /price BTCUSDT"),
        InvalidSymbol(),
        OrderRuleViolation("LOT_SIZE", "The quantity is below the minimum of 0.001 BTCUSDT."),
        KeyFormatError("this PEM key is not an RSA private key"),
        VaultError("the stored key of user 1001 does not decrypt"),
    ],
    ids=type,
)
def test_every_error_a_user_may_see_shares_one_base_with_a_sentence_for_the_chat(error):
    """The error handler (handlers/common.py) replies with `user_message` for any of them."""
    assert isinstance(error, UserFacingError)
    assert error.user_message[0].isupper()  # a sentence, not a clause


def test_a_vault_error_tells_the_user_to_set_the_key_again_not_the_operator_detail():
    error = VaultError("the stored key of user 1001 was sealed with a master key that is not "
                       "configured (set it in CHATBOT_OLD_MASTER_KEYS)")  # fmt: skip
    assert "CHATBOT_OLD_MASTER_KEYS" in str(error)  # the log and `chatbot rotate-key` say why
    assert "CHATBOT_OLD_MASTER_KEYS" not in error.user_message and "1001" not in error.user_message
    assert "/setkey" in error.user_message


def test_the_error_handler_matches_the_base_not_each_root():
    source = (Path(__file__).resolve().parents[2] / "handlers" / "common.py").read_text()
    assert "hasattr(error" not in source and "isinstance(error, UserFacingError)" in source

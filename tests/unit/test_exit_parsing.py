"""The exit grammar: tp/sl/trail after a /buy, /protect, /sl and /tp; each refusal's words."""

from __future__ import annotations

from decimal import Decimal as D
from itertools import permutations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatbot.services.order_intent import (
    ExitLevel,
    ExitRole,
    ExitSpec,
    OrderIntent,
    ProtectIntent,
    ProtectKind,
)
from chatbot.side import Side
from handlers.exit_parsing import parse_order_with_exits, parse_protect, parse_single_exit
from handlers.parsing import CommandError

TP, SL = ExitRole.TAKE_PROFIT, ExitRole.STOP_LOSS
BUY_EXAMPLE = "/buy BTC 0.01 @ 66000 tp 70000 sl 64000"
PROTECT_FORMS = "/protect ETH sl 2500 tp 3600 or /protect ETH sl -5%"
SL_EXAMPLE = "/sl BTC 64000, /sl BTC -5%, /sl BTC 0.01 @ 64000 or /sl BTC trail 2%"


def buy(args: list[str] | str) -> OrderIntent:
    return parse_order_with_exits(Side.BUY, args.split() if isinstance(args, str) else args)


def protect(symbol: str, exits: ExitSpec, quantity: D | None = None) -> ProtectIntent:
    return ProtectIntent(ProtectKind.PROTECT, symbol, exits, quantity)


def at(price: str) -> ExitLevel:
    return ExitLevel(price=D(price))


def pct(percent: str) -> ExitLevel:
    return ExitLevel(percent=D(percent))


TRAILING_TP = ExitSpec(at("70000"), at("64000"), 200, TP)


@pytest.mark.parametrize(
    ("text", "price", "exits"),
    [
        ("BTC 0.01 @ 66000 tp 70000 sl 64000", D(66000), ExitSpec(at("70000"), at("64000"))),
        ("BTC 0.01 tp +5% sl -3%", None, ExitSpec(pct("5"), pct("-3"))),
        ("BTC 0.01 @ 66000 sl 64000 trail 1.5%", D(66000), ExitSpec(None, at("64000"), 150, SL)),
        ("BTC 0.01 tp 5% sl 3%", None, ExitSpec(pct("5"), pct("-3"))),
        ("BTC 0.01 tp 70000 sl 64000 trail tp 2%", None, TRAILING_TP),
        ("BTC 0.01 sl -3% trail sl 0.25%", None, ExitSpec(None, pct("-3"), 25, SL)),
        ("BTC 0.01 trail 2%", None, ExitSpec(None, None, 200, SL)),
        ("BTC 0.01 TP 70000", None, ExitSpec(at("70000"))),
    ],
)  # fmt: skip
def test_a_buy_carries_its_exits(text: str, price: D | None, exits: ExitSpec) -> None:
    intent = buy(text)
    assert (intent.symbol, intent.amount, intent.price, intent.exits) == (
        "BTC", D("0.01"), price, exits
    )  # fmt: skip


def test_a_quote_amount_entry_takes_exits_too() -> None:
    intent = buy("ETH $100 tp 5% sl 3%")
    assert intent.in_quote and intent.amount == D(100)
    assert intent.exits == ExitSpec(pct("5"), pct("-3"))


def test_the_clauses_come_in_any_order() -> None:
    clauses = ["tp 70000", "sl 64000", "trail 1.5%"]
    specs = {buy("BTC 0.01 " + " ".join(order)).exits for order in permutations(clauses)}
    assert specs == {ExitSpec(at("70000"), at("64000"), 150, SL)}


def test_an_order_without_exits_reads_as_before() -> None:
    assert buy("BTCUSDT 0.001 @ 65000") == OrderIntent(Side.BUY, "BTCUSDT", D("0.001"),
                                                       price=D(65000))  # fmt: skip
    assert parse_order_with_exits(Side.SELL, ["BTC", "100", "USDT"]).exits is None


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("ETH sl 2500 tp 3600", protect("ETH", ExitSpec(at("3600"), at("2500")))),
        ("ETH sl -5%", protect("ETH", ExitSpec(None, pct("-5")))),
        ("ETH 0.5 sl 2500 tp 3600", protect("ETH", ExitSpec(at("3600"), at("2500")), D("0.5"))),
        ("ETH sl -5% trail 2%", protect("ETH", ExitSpec(None, pct("-5"), 200, SL))),
        ("eth/usdt tp +10%", protect("ETHUSDT", ExitSpec(pct("10")))),
    ],
)  # fmt: skip
def test_protect(text: str, intent: ProtectIntent) -> None:
    assert parse_protect(text.split()) == intent


@pytest.mark.parametrize(
    ("kind", "text", "exits", "quantity"),
    [
        (ProtectKind.STOP_LOSS, "BTC 64000", ExitSpec(None, at("64000")), None),
        (ProtectKind.STOP_LOSS, "BTC -5%", ExitSpec(None, pct("-5")), None),
        (ProtectKind.STOP_LOSS, "BTC 0.01 @ 64000", ExitSpec(None, at("64000")), D("0.01")),
        (ProtectKind.STOP_LOSS, "BTC 0.01@-5%", ExitSpec(None, pct("-5")), D("0.01")),
        (ProtectKind.STOP_LOSS, "BTC trail 2%", ExitSpec(None, None, 200, SL), None),
        (ProtectKind.STOP_LOSS, "BTC 0.01 @ trail 2%", ExitSpec(None, None, 200, SL), D("0.01")),
        (ProtectKind.STOP_LOSS, "BTC 64000 trail 2%", ExitSpec(None, at("64000"), 200, SL), None),
        (ProtectKind.TAKE_PROFIT, "BTC 70000", ExitSpec(at("70000")), None),
        (ProtectKind.TAKE_PROFIT, "BTC +8%", ExitSpec(pct("8")), None),
        (ProtectKind.TAKE_PROFIT, "BTC 0.01 at 70000", ExitSpec(at("70000")), D("0.01")),
        (ProtectKind.TAKE_PROFIT, "BTC 70000 trail 2%", ExitSpec(at("70000"), None, 200, TP), None),
    ],
)  # fmt: skip
def test_one_exit_alone(kind: ProtectKind, text: str, exits: ExitSpec, quantity: D | None) -> None:
    assert parse_single_exit(kind, text.split()) == ProtectIntent(kind, "BTC", exits, quantity)


def refusal(parse, text: str) -> str:
    with pytest.raises(CommandError) as caught:
        parse(text.split())
    return str(caught.value)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("BTC 0.01 tp 70000 tp 71000", f"“tp” is given twice; type each exit once: {BUY_EXAMPLE}"),
        ("BTC 0.01 trail 1% trail 2%", f"“trail” is given twice; one leg trails: {BUY_EXAMPLE}"),
        (
            "BTC 0.01 @ 66000 tp 65000",
            (
                "The take-profit (65,000) must be above your limit price (66,000), or it sells "
                "at a loss. For example tp +5%"
            ),
        ),
        (
            "BTC 0.01 @ 66000 sl 66000",
            (
                "The stop-loss (66,000) must be below your limit price (66,000), or it sells as "
                "soon as you buy. For example sl -3%"
            ),
        ),
        (
            "BTC 0.01 tp 64000 sl 64000",
            (
                f"The take-profit (64,000) must be above the stop-loss (64,000): it sells when "
                f"the price rises. For example {BUY_EXAMPLE}"
            ),
        ),
        ("BTC 0.01 sl 0%", "A stop-loss of 0% is at the price itself. Type sl 64000 or sl -3%"),
        ("BTC 0.01 tp 0%", "A take-profit of 0% is at the price itself. Type tp 70000 or tp +5%"),
        ("BTC 0.01 sl -100%", "A stop-loss of -100% is below zero. Type sl 64000 or sl -3%"),
        ("BTC 0.01 sl 150%", "A stop-loss of -150% is below zero. Type sl 64000 or sl -3%"),
        ("BTC 0.01 sl +3%", "A stop-loss is below the price: type sl 64000 or sl -3%, not +3%."),
        ("BTC 0.01 tp -3%", "A take-profit is above the price: type tp 70000 or tp +5%, not -3%."),
        (
            "BTC 0.01 trail 1.505%",
            (
                "Binance trails in whole basis points (steps of 0.01%); 1.505% is not one. Type "
                "for example trail 1.5%"
            ),
        ),
        ("BTC 0.01 trail 0%", "A trailing distance is between 0.01% and 99.99%: trail 1.5%"),
        ("BTC 0.01 trail 100%", "A trailing distance is between 0.01% and 99.99%: trail 1.5%"),
        ("BTC 0.01 trail -1%", "Type the trailing distance without a sign, like trail 1.5%"),
        ("BTC 0.01 trail 1", "“1” is not a percentage. Type trail 1.5%"),
        ("BTC 0.01 tp", f"“tp” needs a price or a percentage after it, for example {BUY_EXAMPLE}"),
        (
            "BTC 0.01 tp sl 64000",
            (
                f"“tp” needs a price or a percentage after it, for example {BUY_EXAMPLE}"
            ),
        ),
        (
            "BTC 0.01 trail",
            (
                f"“trail” needs a percentage such as 1.5% after it, for example {BUY_EXAMPLE}"
            ),
        ),
        (
            "BTC 0.01 tp 70000 stop 64000",
            (
                f"“stop” is not an exit: type tp PRICE, sl PRICE or trail PCT, for example "
                f"{BUY_EXAMPLE}"
            ),
        ),
        (
            "BTC 0.01 tp 70,000",
            (
                "“70,000” is not a valid take-profit price. Use a dot for decimals and no "
                "thousands separators. Example: tp 70000 or tp +5%"
            ),
        ),
        ("BTC 0.01 tp 5%%", "“5%%” is not a percentage. Type tp 70000 or tp +5%"),
        (
            "BTC 0.01 sl 64000 trail tp 2%",
            (
                "A trailing take-profit starts to trail at its level: type it like tp 70000 "
                "trail tp 2%"
            ),
        ),
        (
            "BTC 0.01 tp ５%",
            (
                "“５%” has digits I cannot read: type numbers with the digits 0-9 (switch off "
                "full-width input). Example: tp 70000 or tp +5%"
            ),
        ),
    ],
)  # fmt: skip
def test_buy_refusals(text: str, words: str) -> None:
    assert refusal(buy, text) == words


def test_the_limit_price_comes_before_the_exits() -> None:
    assert refusal(buy, "BTC 0.01 tp 70000 @ 66000") == (
        f"Put the limit price before the exits, like {BUY_EXAMPLE}"
    )


@settings(max_examples=200)
@given(
    st.decimals("0.01", "1000000", places=2),
    st.decimals("0.01", "1000000", places=2),
    st.permutations(["tp", "sl"]),
)
def test_any_two_typed_prices_read_back_exactly(a: D, b: D, order: list[str]) -> None:
    low, high = sorted((a, b))
    typed = {"tp": high, "sl": low}
    text = "BTC 0.01 " + " ".join(f"{word} {typed[word]}" for word in order)
    if low == high:
        assert refusal(buy, text).startswith("The take-profit")
        return
    assert buy(text).exits == ExitSpec(at(str(high)), at(str(low)))


def test_exits_on_a_sell_are_refused() -> None:
    sell = lambda args: parse_order_with_exits(Side.SELL, args)  # noqa: E731
    assert refusal(sell, "BTC 0.01 tp 70000") == (
        "tp/sl follow a /buy; to protect coins you hold type /protect ETH sl 2500 tp 3600"
    )


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("ETH", f"Type the coin first, like {PROTECT_FORMS}"),
        ("sl 2500", f"Type the coin first, like {PROTECT_FORMS}"),
        ("ETH 0.5", "Which exits? Type it like /protect ETH sl 2500 tp 3600"),
        (
            "ETH 0,5 sl 2500",
            (
                "“0,5” is not a valid quantity. Use a dot for decimals and no thousands "
                "separators. Example: /protect ETH 0.5 sl 2500 tp 3600"
            ),
        ),
        (
            "ETH sl 2500 tp 2400",
            (
                "The take-profit (2,400) must be above the stop-loss (2,500): it sells when the "
                "price rises. For example /protect ETH sl 2500 tp 3600"
            ),
        ),
    ],
)  # fmt: skip
def test_protect_refusals(text: str, words: str) -> None:
    assert refusal(parse_protect, text) == words


@pytest.mark.parametrize(
    ("kind", "text", "words"),
    [
        (ProtectKind.STOP_LOSS, "BTC", f"Type it like {SL_EXAMPLE}"),
        (ProtectKind.STOP_LOSS, "BTC 64000 63000", f"Type it like {SL_EXAMPLE}"),
        (ProtectKind.STOP_LOSS, "BTC 64000 trail", f"Type it like {SL_EXAMPLE}"),
        (
            ProtectKind.STOP_LOSS, "BTC 64000 0.01 @ 3",
            (
                f"Type the quantity before @, like {SL_EXAMPLE}"
            ),
        ),
        (
            ProtectKind.STOP_LOSS, "BTC +5%",
            (
                "A stop-loss is below the price: type /sl BTC 64000 or /sl BTC -3%, not +5%."
            ),
        ),
        (
            ProtectKind.TAKE_PROFIT, "BTC -8%",
            (
                "A take-profit is above the price: type /tp BTC 70000 or /tp BTC +5%, not -8%."
            ),
        ),
        (
            ProtectKind.TAKE_PROFIT, "BTC trail 2%",
            (
                "A trailing take-profit starts to trail at its level: type it like /tp BTC 70000 "
                "trail 2%"
            ),
        ),
    ],
)  # fmt: skip
def test_single_exit_refusals(kind: ProtectKind, text: str, words: str) -> None:
    assert refusal(lambda args: parse_single_exit(kind, args), text) == words


def test_an_exit_spec_needs_one_exit_and_a_level_one_value() -> None:
    with pytest.raises(ValueError):
        ExitSpec()
    with pytest.raises(ValueError):
        ExitLevel(price=D(1), percent=D(1))
    with pytest.raises(ValueError):
        ExitSpec(stop_loss=at("1"), trail_bps=10)
    with pytest.raises(ValueError):
        ExitSpec(stop_loss=at("1"), trail_bps=10, trail_leg=TP)
    with pytest.raises(ValueError):
        parse_single_exit(ProtectKind.PROTECT, ["BTC", "64000"])

"""The futures commands end to end: the real bot between the simulator's USDⓈ-M side and the
Bot API emulator, on each database. Perpetuals are named with `.P` (/price, /trades, /chart)
or without it where a command serves only futures (/fprice, /funding)."""

from __future__ import annotations

import asyncio
import itertools
import re
from decimal import Decimal

from chatbot.sandbox.exchange import ExchangeSimulator
from tests.e2e.conftest import ask
from tests.e2e.test_charts import png_size
from tests.e2e.test_inputs import forge

FUTURES_DATA = ("/fapi/v1/ticker/24hr", "/fapi/v1/premiumIndex", "/fapi/v1/openInterest")


def steady(exchange: ExchangeSimulator, name: str, price: str) -> None:
    """Futures last and mark price equal to the spot price `price` (no basis)."""
    exchange.futures.set_basis(name, Decimal("0"))
    exchange.set_price(name, Decimal(price))


def futures_weight(exchange: ExchangeSimulator, path: str) -> int:
    return exchange.futures_limits.spent[("GET", path)]


async def test_price_of_a_perpetual_shows_mark_funding_and_open_interest(alice, exchange):
    steady(exchange, "BTCUSDT", "70000")
    exchange.futures.set_funding_rate("BTCUSDT", Decimal("0.0001"))
    exchange.futures.set_open_interest("BTCUSDT", Decimal("1234.567"))
    text = (await ask(alice, "/price BTCUSDT.P")).text
    assert text.startswith("BTCUSDT.P  70,000 USDT")
    assert "Mark 70,000 · index 70,000" in text
    assert "24h high" in text and "24h volume" in text
    assert re.search(r"Funding \+0\.0100% · next in (\d+h )?\d+m", text), text
    assert "Open interest 1,234.567 BTC (≈ 86,419,690 USDT)" in text


async def test_suffix_spellings_name_the_same_perpetual(alice, exchange):
    for spelling in ("btc.p", "BTC-PERP", "btcusdt.p"):
        assert (await ask(alice, f"/price {spelling}")).text.startswith("BTCUSDT.P  ")


async def test_spot_and_perpetuals_mixed_keep_the_order_typed(alice, exchange):
    text = (await ask(alice, "/price ETH.P btc SOLUSDT.P eth")).text
    titles = re.findall(r"^(\S+)  ", text, flags=re.MULTILINE)
    assert titles == ["ETHUSDT.P", "BTCUSDT", "SOLUSDT.P", "ETHUSDT"]
    assert text.count("Open interest") == 2


async def test_fprice_reads_names_as_perpetuals(alice, exchange):
    steady(exchange, "ETHUSDT", "3100")
    reply = await ask(alice, "/fprice eth SOL")
    titles = re.findall(r"^(\S+)  ", reply.text, flags=re.MULTILINE)
    assert titles == ["ETHUSDT.P", "SOLUSDT.P"]
    assert "Mark 3,100" in reply.text
    assert "/fprice BTC" in (await ask(alice, "/fprice")).text


async def test_chart_button_of_a_perpetual_sends_its_futures_chart(alice, exchange):
    quote = await ask(alice, "/price BTC.P ETH")
    assert [b.text for b in quote.buttons[0]] == ["📈 Chart BTCUSDT.P", "📈 Chart ETHUSDT"]
    await alice.press(quote, "Chart BTCUSDT.P")
    picture = await alice.reply(timeout=20)
    assert picture.photo is not None and picture.text.startswith("BTCUSDT.P 1h · last ")


async def test_chart_of_a_perpetual_reads_futures_klines(alice, exchange):
    before = futures_weight(exchange, "/fapi/v1/klines")
    picture = await ask(alice, "/chart eth.p 4h")
    assert picture.photo is not None and png_size(picture.photo) == (1200, 800)
    assert picture.text.startswith("ETHUSDT.P 4h · last ")
    assert futures_weight(exchange, "/fapi/v1/klines") > before


async def test_trades_of_a_perpetual(alice, exchange):
    steady(exchange, "BTCUSDT", "71000")
    exchange.set_price("BTCUSDT", Decimal("71000.3"), qty=Decimal("0.5"))
    text = (await ask(alice, "/trades BTCUSDT.P")).text
    assert text.startswith("BTCUSDT.P last ")
    assert re.search(r"\d\d:\d\d:\d\d (BUY |SELL) +71,000\.3 × ", text), text
    assert futures_weight(exchange, "/fapi/v1/trades") > 0


async def test_funding_of_a_contract_shows_now_next_and_the_last_five(alice, exchange):
    exchange.futures.set_funding_rate("ETHUSDT", Decimal("-0.00025"))
    text = (await ask(alice, "/funding eth")).text
    assert text.startswith("ETHUSDT.P funding\n")
    assert re.search(r"Now -0\.0250% · next settlement \S+ (00|08|16):00 UTC \(in ", text), text
    assert "Last 5 settled (UTC):" in text
    assert len(re.findall(r"^\d\d-\d\d (00|08|16):00 +[+-]?\d\.\d{4}%$", text, re.M)) == 5


async def test_funding_settlement_enters_the_history(alice, exchange):
    exchange.futures.set_funding_rate("SOLUSDT", Decimal("0.00077"))
    exchange.advance(8 * 3600)
    text = (await ask(alice, "/funding SOL.P")).text
    assert re.search(r"^\d\d-\d\d (00|08|16):00 +\+0\.0770%$", text, re.M), text


async def test_funding_without_symbols_lists_the_extremes(alice, exchange):
    exchange.futures.set_funding_rate("DOGEUSDT", Decimal("0.003"))
    exchange.futures.set_funding_rate("XRPUSDT", Decimal("-0.002"))
    text = (await ask(alice, "/funding")).text
    highest, lowest = text.split("Lowest:")
    assert re.search(r"^DOGEUSDT\.P +\+0\.3000%$", highest.split("Highest:")[1].strip(), re.M)
    assert re.search(r"XRPUSDT\.P +-0\.2000%", lowest.split("\n", 2)[2])
    assert "/funding BTC" in text


async def test_unknown_perpetual_is_refused_before_any_weight(alice, exchange):
    spent = [futures_weight(exchange, path) for path in FUTURES_DATA]
    text = (await ask(alice, "/price FOOUSDT.P")).text
    assert text.startswith("Binance lists no perpetual futures contract FOOUSDT.P.")
    assert "Did you mean" in (await ask(alice, "/fprice BTCUSDX")).text
    assert "no perpetual futures contract" in (await ask(alice, "/funding NOPE")).text
    assert "no perpetual futures contract" in (await ask(alice, "/trades NOPE.P")).text
    assert "no perpetual futures contract" in (await ask(alice, "/chart NOPE.P")).text
    assert [futures_weight(exchange, path) for path in FUTURES_DATA] == spent


async def test_an_unknown_perpetual_among_spot_symbols_costs_no_spot_weight_either(alice, exchange):
    spot_tickers = exchange.limits.spent[("GET", "/api/v3/ticker/24hr")]
    text = (await ask(alice, "/price DOT FOOUSDT.P")).text
    assert text.startswith("Binance lists no perpetual futures contract FOOUSDT.P.")
    assert "Unknown symbol FOOX" in (await ask(alice, "/price FOOX BTC.P")).text
    assert exchange.limits.spent[("GET", "/api/v3/ticker/24hr")] == spot_tickers


async def test_a_forged_chart_button_for_an_unknown_perpetual_is_refused(alice, api):
    quote = await ask(alice, "/price BTC.P")
    await alice.answer(forge(api, alice, quote, "chart:NOPEUSDT.P"))
    assert "no perpetual futures contract NOPEUSDT.P" in (await alice.reply()).text


async def test_badly_shaped_futures_names_get_the_grammar(alice):
    assert "is not a perpetual futures symbol" in (await ask(alice, "/price USDT.P")).text
    assert "is not a perpetual futures symbol" in (await ask(alice, "/funding B$C")).text
    many = " ".join(f"C{i}" for i in range(11))
    assert "At most 10 contracts" in (await ask(alice, f"/funding {many}")).text


async def test_spot_price_has_no_futures_lines(alice, exchange):
    spent = [futures_weight(exchange, path) for path in FUTURES_DATA]
    text = (await ask(alice, "/price BTCUSDT")).text
    assert text.startswith("BTCUSDT  ") and ".P" not in text
    assert "Mark" not in text and "Funding" not in text and "Open interest" not in text
    assert [futures_weight(exchange, path) for path in FUTURES_DATA] == spent


async def test_many_users_asking_one_perpetual_at_once_share_its_reads(
    api, exchange, settings_factory
):
    from chatbot.app import running_bot

    async with running_bot(settings_factory(CHATBOT_ALLOWED_USERS="*"), poll_timeout=1):
        users = [api.conversation(api.user(6000 + n, first_name=f"U{n}")) for n in range(40)]
        await ask(users[0], "/price ETH.P")  # contracts known: exchangeInfo is not counted
        spent = [futures_weight(exchange, path) for path in FUTURES_DATA]
        replies = await asyncio.gather(*(ask(user, "/price BTC.P") for user in users))
        assert all(reply.text.startswith("BTCUSDT.P") for reply in replies), replies[0].text
        # one read of each (weight 1) for all forty, two if the burst straddled the second
        grown = [futures_weight(exchange, p) - s for p, s in zip(FUTURES_DATA, spent, strict=True)]
        assert all(1 <= read <= 2 for read in grown), grown


async def test_settled_fundings_are_read_once_until_the_next_settlement(
    api, exchange, settings_factory
):
    from chatbot.app import running_bot

    history = "/fapi/v1/fundingRate"  # a limit of its own: 500 calls in 5 minutes per IP
    async with running_bot(settings_factory(CHATBOT_ALLOWED_USERS="*"), poll_timeout=1):
        users = [api.conversation(api.user(6100 + n, first_name=f"U{n}")) for n in range(40)]
        await ask(users[0], "/price ETH.P")
        before = futures_weight(exchange, history)
        replies = await asyncio.gather(*(ask(user, "/funding ADA") for user in users))
        assert all("Last 5 settled" in reply.text for reply in replies), replies[0].text
        read = futures_weight(exchange, "/fapi/v1/premiumIndex")
        for user in itertools.cycle(users):  # until the shared answer is read again, anew
            await ask(user, "/funding ADA")
            if futures_weight(exchange, "/fapi/v1/premiumIndex") > read:
                break
        assert futures_weight(exchange, history) - before == 1  # however many asked, and when
        exchange.futures.set_funding_rate("ADAUSDT", Decimal("0.00066"))
        exchange.advance(8 * 3600)  # a settlement: the history has a new row
        settled = re.compile(r"^\d\d-\d\d (00|08|16):00 +\+0\.0660%$", re.M)
        for user in itertools.cycle(users):  # the last second's answer may still be served
            if settled.search((await ask(user, "/funding ADA")).text):
                break
        assert futures_weight(exchange, history) - before == 2

"""Symbols' trading rules for the unit tests: real ones from the testnet's exchangeInfo, and
synthetic ones written as Binance would send them (by hand or drawn by hypothesis)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from chatbot.exchange.symbol_rules import SymbolRules

DATA = Path(__file__).resolve().parent.parent / "data" / "exchange_info_testnet.json"
TESTNET = {s["symbol"]: s for s in json.loads(DATA.read_text(encoding="utf-8"))["symbols"]}
BTCUSDT = SymbolRules.from_exchange_info(TESTNET["BTCUSDT"])
BNBBTC = SymbolRules.from_exchange_info(TESTNET["BNBBTC"])


def symbol_json(*filters: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "symbol": "ABCXYZ",
        "status": "TRADING",
        "baseAsset": "ABC",
        "baseAssetPrecision": 8,
        "quoteAsset": "XYZ",
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
        "quoteOrderQtyMarketAllowed": True,
        "filters": list(filters),
        **fields,
    }


def price_filter(low: str = "0.01", high: str = "100000", tick: str = "0.01") -> dict[str, Any]:
    return {"filterType": "PRICE_FILTER", "minPrice": low, "maxPrice": high, "tickSize": tick}


def lot(low="0.001", high="1000", step="0.001", kind="LOT_SIZE") -> dict[str, Any]:
    return {"filterType": kind, "minQty": low, "maxQty": high, "stepSize": step}


def notional(low="10", high="0", min_to_market=False, max_to_market=False) -> dict[str, Any]:
    return {
        "filterType": "NOTIONAL",
        "minNotional": low,
        "applyMinToMarket": min_to_market,
        "maxNotional": high,
        "applyMaxToMarket": max_to_market,
        "avgPriceMins": 5,
    }


def min_notional(low: str = "10", to_market: bool = True) -> dict[str, Any]:
    return {
        "filterType": "MIN_NOTIONAL",
        "minNotional": low,
        "applyToMarket": to_market,
        "avgPriceMins": 5,
    }


def percent_price(up: str = "1.3", down: str = "0.7") -> dict[str, Any]:
    return {
        "filterType": "PERCENT_PRICE",
        "multiplierUp": up,
        "multiplierDown": down,
        "avgPriceMins": 5,
    }


def by_side(bid_up="1.2", bid_down="0.2", ask_up="5", ask_down="0.8") -> dict[str, Any]:
    return {
        "filterType": "PERCENT_PRICE_BY_SIDE",
        "bidMultiplierUp": bid_up,
        "bidMultiplierDown": bid_down,
        "askMultiplierUp": ask_up,
        "askMultiplierDown": ask_down,
        "avgPriceMins": 1,
    }


def rules_of(*filters: dict[str, Any], **fields: Any) -> SymbolRules:
    return SymbolRules.from_exchange_info(symbol_json(*filters, **fields))


@st.composite
def symbols(draw: st.DrawFn) -> dict[str, Any]:
    """A symbol as Binance would describe it, with any mix of filters and disabled (0) limits."""

    def pick(*options: Any) -> Any:
        return draw(st.sampled_from(options))

    step = pick("0.00001", "0.001", "0.1", "1", "0.25", "0")
    tick = pick("0.01", "0.5", "0.00025", "1", "10", "0.000001", "0")
    filters = [
        price_filter(pick("0", "0.01", "1"), pick("0", "100000", "1000000"), tick),
        lot(pick("0", "0.001", "0.5", "1"), pick("0", "100", "9000"), step),
    ]
    optional = [
        lot("0", pick("0", "10", "165.02219723"), pick("0", step, "0.01"), "MARKET_LOT_SIZE"),
        notional(
            pick("0", "5", "0.0001"), pick("0", "50000"), pick(True, False), pick(True, False)
        ),
        min_notional(pick("5", "0.001"), pick(True, False)),
        percent_price(pick("1.3", "5", "0"), pick("0.7", "0.2", "0")),
        by_side(*(pick("0.2", "0.5", "0.8", "1.2", "2", "5") for _ in range(4))),
    ]
    filters += [f for f in optional if draw(st.booleans())]
    return symbol_json(*filters, quoteOrderQtyMarketAllowed=pick(True, True, False))

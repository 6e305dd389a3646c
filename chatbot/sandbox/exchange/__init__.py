"""A Binance Spot exchange simulator that speaks the real wire protocol, for offline runs.

The project's client, bot, tests, sandbox and benchmarks all run against it: REST (`/api/v3`,
and on mainnet `/sapi/v1/account/apiRestrictions` and the capital history), market streams
(`/ws`, `/stream`) and the WebSocket API (`/ws-api/v3`) share one aiohttp port. Signatures
(HMAC, Ed25519, RSA), timestamps, request weights, filters, error codes and JSON shapes follow
Binance's documentation; `chatbot/sandbox/data/` holds the symbols: 30 real USDT, BTC, IDR and
TRY pairs (31 on the testnet), among them Binance's edge cases: BNBIDR's tick of 10, XRPTRY's
legacy MIN_NOTIONAL and PERCENT_PRICE, LUNAUSDT in BREAK, FETUSDT's MAX_POSITION and caps.

Python control API (tests run it in-process on a port the OS picks)::

    sim = ExchangeSimulator(seed=1, network="mainnet", random_walk=False, tick_interval=1.0,
                            spread=Decimal("0.0001"), ping_interval=20.0, pong_timeout=60.0)
    await sim.start(host="127.0.0.1", port=0)
    sim.rest_url, sim.stream_url, sim.ws_api_url      # BINANCE_API_URL / _STREAM_URL / _WS_API_URL
    sim.futures_rest_url, sim.futures_stream_url      # BINANCE_FUTURES_API_URL / _STREAM_URL
    sim.futures.set_funding_rate("BTCUSDT", Decimal("0.0005"))  # and more: futures/__init__.py
    acct = sim.add_account(api_key, secret="...")                 # HMAC key
    acct = sim.add_account(api_key, public_key_pem="...")         # Ed25519 or RSA public key
    #   balances={"USDT": Decimal("10000")}, can_trade=True, can_withdraw=False,
    #   ip_restrict=False, maker_commission=Decimal("0.001"), taker_commission=Decimal("0.001")
    sim.set_price("BTCUSDT", Decimal("65000"))   # prints a trade now: streams publish, LIMITs fill
    sim.set_price("BTCUSDT", Decimal("65000"), qty=Decimal("0.02"))  # a sized print: resting
    #   orders it reaches fill by 0.02 at most in total (price-time priority), maybe partially
    sim.price("BTCUSDT"); sim.book_top("BTCUSDT")  # last price; level 0 of the book (bid/ask)
    sim.order_book("BTCUSDT")                     # every level: .bids / .asks, best first
    sim.book_levels = 20                          # levels each side (what MARKET orders can take)
    sim.step_market()                             # one random-walk step of every symbol, now
    sim.orders_for(api_key); sim.balances(api_key); sim.account(api_key)
    sim.deposit(api_key, "USDT", Decimal("100"))  # sends balanceUpdate; a negative amount
    #   withdraws; both appear in /sapi/v1/capital/deposit/hisrec and .../withdraw/history
    sim.capital.refuse(api_key)                   # those two answer 401/-1002 for this key
    sim.faults.fail_next(path, count=1, status=503)            # HTML 5xx page, like a proxy
    sim.faults.fail_next(path, count=1, code=-1007)            # HTTP 408 + Binance -1007 body
    sim.faults.fail_next(path, code=-1006, status=400, execute=True)  # -1006, order placed
    sim.faults.fail_next(path, code=-1007, status=503, execute_after=6.0)  # late matching: the
    #   error now, the call carried out 6 s later (sim.faults.pending counts those waiting)
    sim.faults.rate_limit_next(path, count=1, retry_after=2)   # 429 + Retry-After + -1003
    sim.faults.hang_next(path, count=1, seconds=30)            # no answer in time
    sim.faults.truncate_next(path, count=1)       # carried out, then half of its 200 body
    sim.faults.drop_next(path, count=1, execute=True)  # carried out, then the TCP connection
    #   closes with no HTTP reply at all (execute=False: closed before, the call is lost)
    #   fail_next / hang_next take execute=True (the call is carried out, then the fault
    #   answered); every armed fault takes method="POST" (only that HTTP method);
    #   sim.faults.clear() disarms all
    sim.faults.ban(seconds)                                    # 418 + Retry-After until then
    await sim.drop_websockets()                 # cut every WebSocket abruptly; sim.open_websockets
    sim.user_data_subscriptions(api_key)        # the key's active user-data subscriptions
    sim.limits.connection_attempts = 300        # WebSocket handshakes per IP and service (market
    sim.limits.connection_window = 300.0        #   streams, WebSocket API) per window, then 429;
    #   sim.limits.refused_connections counts those refused
    sim.limits.subscription_ids = 65_535        # ids a WebSocket API session hands out, then
    #   -2042; sim.limits.refused_subscription_ids counts those answers
    sim.clock_skew_ms = 3000                    # server clock ahead (negative: behind)
    sim.advance(3600)                           # an hour passes at once, without a trade: the
    #   next print closes the candles it left (x=true first), klines show the skipped ones
    sim.spread = Decimal("0.0005")
    sim.limits.weight_per_minute = 6000         # also orders_per_10s=50, orders_per_day=160000
    sim.limits.peak_weight, sim.limits.refused_weight, sim.limits.unheeded  # most weight one IP
    #   spent in a minute; 429/-1003 answers; those to calls made into a standing 429 (what
    #   Binance bans for); also refused_orders (-1015), and sim.faults.ban_answers (418s)
    sim.catalog.set_exchange_filter("EXCHANGE_MAX_NUM_ORDERS", maxNumOrders=3)  # default 1000
    sim.catalog.set_exchange_filter("EXCHANGE_MAX_NUM_ALGO_ORDERS", maxNumAlgoOrders=1)  # 200
    sim.catalog.set_status("BTCUSDT", "HALT")   # new orders: -2010 "Market is closed."
    await sim.stop()                            # also cancels late executions still waiting

The same controls exist over HTTP under `/_sandbox/` (see control.py), and
`python -m chatbot.sandbox.exchange --port 0` runs a standalone simulator (see __main__.py).

Behaviour worth knowing (Binance's where it has one, a stated choice where it does not):
- The book is synthetic (book.py): 20 levels each side; level 0 is ask = price × (1 + spread)
  / bid = price × (1 − spread), rounded outwards to the tick, further levels about 1 bp apart.
  MARKET orders walk it, one fill per level, and expire partly filled past the last level
  (Binance's insufficient liquidity); crossing LIMIT orders take levels up to their price, then
  rest (GTC), expire (IOC), or expire unfilled (FOK). A resting LIMIT fills at its own price
  when a trade prints at or through it (in full, or by the print's size if it has one).
  The account's own fills do not print on the public tape, never move the price and do not
  deplete the book, which is rebuilt from the last price at every print.
- A parameter the endpoint (or WebSocket API method) does not read is refused with -1104
  before anything happens; Binance parameters the simulator does not implement (stopPrice,
  icebergQty, selfTradePreventionMode, klines' timeZone, ...) count as not read.
- Filters follow filters.md, each against its own avgPriceMins (0 = last price); a MARKET
  order's notional is its quantity × that price, for `quoteOrderQty` the quantity computed at
  the ask (BUY) or bid (SELL) rounded down to the step. `avgPrice` is always the 5-minute one.
- `newClientOrderId` must be unique among the account's *open* orders on the symbol (Binance's
  rule, -2010 "Duplicate order sent."); the id of a filled or cancelled order may be reused,
  so a client that blindly resubmits after a timeout really does place a second order.
- Commission is charged in the asset received (no BNB discount), rounded up to 8 decimals.
- Klines: a deterministic synthetic history (seeded) up to the minute the simulator started,
  then the real prints; `/ticker/24hr` is summed from the same candles. An interval without a
  print (after `advance`, say) is a candle of zero volume and trades whose open, high, low and
  close are the previous close (Binance's docs are silent on it; its public data shows such
  candles for quiet pairs). The kline streams publish on prints, not on a timer: a kline
  stream gets the finished candle (`x: true`) with the first print after its interval ended,
  just before the new candle's first event; the candles skipped whole in between are not
  streamed (read them from `/api/v3/klines`).

Modules: wire (clock, decimals, errors), symbols (exchangeInfo), filters (an independent
implementation of Binance's filters), pricepath / candles / tape / market / book (prices,
history, book), accounts / orders / matching / engine (matching), params / order_params /
signatures / auth / limits / faults / gateway (the REST pipeline), rest_market /
rest_account / capital (routes), payloads, sockets, streams, wsapi (WebSockets), control
(HTTP control surface), server (ExchangeSimulator), futures/ (USDT-M perpetuals' market data:
`/fapi/v1/` REST and `/fstream/market` streams on the same port, `sim.futures_rest_url`,
`sim.futures_stream_url`, controls on `sim.futures`; see its docstring). The package imports
nothing from the client (`chatbot.exchange`).
"""

from .accounts import Account, Balance
from .book import BookTop, Level, OrderBook
from .orders import Fill, Order
from .server import ExchangeSimulator

__all__ = [
    "Account",
    "Balance",
    "BookTop",
    "ExchangeSimulator",
    "Fill",
    "Level",
    "Order",
    "OrderBook",
]

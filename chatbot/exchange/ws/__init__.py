"""What both of Binance's WebSocket services need, written once.

The words, used one way in `ws/`, `market_stream/` and `user_stream/`:
- a *socket* is one WebSocket to Binance: opened once, it lives until it is lost, found silent,
  or replaced by a renewal (`MarketSocket`, `WsApiSocket`);
- a *group* is up to a capacity of items (market streams, users' subscriptions) kept on one
  socket at a time by a supervisor task that reopens it after a loss and renews it before
  Binance's 24 h cut (`StreamGroup`, `SubscriptionGroup`);
- a *stream* is the supervised whole a caller uses, spreading its items over groups
  (`MarketStream`, `UserDataStream`).

Here: `connect` (opening a socket within the shared `ConnectionAttempts` limit) and
`reconnect_delay` (the backoff with jitter between attempts).
"""

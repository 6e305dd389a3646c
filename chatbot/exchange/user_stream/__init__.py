"""Users' order and balance events, from user-data subscriptions on Binance's WebSocket API.

`UserDataStream` (stream.py) is what the caller uses; it spreads users over
`SubscriptionGroup`s (group.py, what each knows in group_state.py), each keeping its users'
subscriptions on one `WsApiSocket` (socket.py) at a time; delivery.py hands the events to the
callbacks user by user. The words (socket, group, stream) are those of `chatbot.exchange.ws`.
"""

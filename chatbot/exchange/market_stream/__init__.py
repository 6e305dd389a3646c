"""Binance's market streams: every watched symbol's trades over combined-stream sockets.

`MarketStream` (stream.py) is what the caller uses; it spreads symbols over `StreamGroup`s
(group.py), each keeping up to 1024 streams on one `MarketSocket` (socket.py) at a time. The
words (socket, group, stream) are those of `chatbot.exchange.ws`.
"""

"""Prometheus metrics of one running bot, in a registry of its own (so tests and the sandbox can
run several bots in one process). Counters are bumped where things happen; gauges read the live
state when scraped."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.commands = Counter(
            "chatbot_commands", "Commands and button presses by name and outcome",
            ["command", "outcome"], registry=self.registry,
        )  # fmt: skip
        self.orders = Counter(
            "chatbot_orders", "Confirmed tickets by outcome", ["outcome"], registry=self.registry
        )

    def gauge(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        """A value read from the bot's state at each scrape."""
        Gauge(name, help_text, registry=self.registry).set_function(read)

    def labelled_gauge(
        self, name: str, help_text: str, label: str, reads: dict[str, Callable[[], float]]
    ) -> None:
        """One value per label value, each read from the bot's state at each scrape."""
        gauge = Gauge(name, help_text, [label], registry=self.registry)
        for value, read in reads.items():
            gauge.labels(value).set_function(read)

    def render(self) -> bytes:
        return generate_latest(self.registry)

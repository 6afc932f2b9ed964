"""Prometheus metrics of one hub process (served at ``/metrics``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.connections = Gauge("hub_connections", "Open WebSocket connections", registry=r)
        self.published = Counter(
            "hub_messages_published", "Messages stored and fanned out by this node", registry=r
        )
        self.delivered = Counter(
            "hub_messages_delivered", "Message frames queued to local clients", registry=r
        )
        self.replayed = Counter(
            "hub_messages_replayed", "Messages sent to clients from the log (since)", registry=r
        )
        self.gap_fills = Counter(
            "hub_gap_fills", "Reads of the log to fill a gap the broker left", registry=r
        )
        self.catchups = Counter(
            "hub_catchups", "Channels found behind their head in the log by the check", registry=r
        )
        self.lag = Histogram(
            "hub_publish_delivery_lag_seconds",
            "Time from storing a message to queueing it for local clients",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.receipts = Counter(
            "hub_receipts_stored", "Delivery and read receipts stored", ["kind"], registry=r
        )
        self.errors = Counter("hub_errors", "Errors sent to clients", ["code"], registry=r)
        self.closes = Counter(
            "hub_closes", "Connections closed by the server", ["code"], registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)

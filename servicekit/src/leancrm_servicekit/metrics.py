"""Prometheus metrics every service exposes on /metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class ServiceMetrics:
    def __init__(self, service: str, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.messages_in = Counter(
            "leancrm_messages_in_total", "Messages consumed", ["topic"], registry=r
        )
        self.messages_out = Counter(
            "leancrm_messages_out_total", "Messages published (acknowledged)", ["topic"], registry=r
        )
        self.dlq = Counter(
            "leancrm_dlq_total", "Messages sent to the dead-letter topic", ["error_code"], registry=r
        )
        self.results = Counter(
            "leancrm_command_results_total", "Command results", ["status"], registry=r
        )
        self.batch_failures = Counter(
            "leancrm_batch_failures_total",
            "Consumed batches that failed unexpectedly and are being tried again", registry=r
        )
        self.transient_errors = Counter(
            "leancrm_transient_errors_total",
            "Failures of a dependency that were retried (database restarting, broker unreachable, "
            "timeouts), by dependency and error class", ["dependency", "error"], registry=r
        )
        self.parked = Counter(
            "leancrm_parked_total",
            "Outbox messages the broker or producer refused for good, parked with their reason",
            ["reason"], registry=r
        )
        self.parked_backlog = Gauge(
            "leancrm_parked_messages", "Messages waiting in the parking lot", registry=r
        )
        self.outbox_backlog = Gauge(
            "leancrm_outbox_backlog", "Outbox rows not yet published", registry=r
        )
        self.handler_latency = Histogram(
            "leancrm_handler_seconds",
            "Time to handle one consumed batch (decode, decide, commit)",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.relay_latency = Histogram(
            "leancrm_relay_publish_seconds",
            "Time to publish one outbox batch",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.consumer_lag = Gauge(
            "leancrm_consumer_lag",
            "Messages behind the fetch high watermark",
            ["topic", "partition"],
            registry=r,
        )
        self.service_info = Gauge("leancrm_service_info", "Service", ["service"], registry=r)
        self.service_info.labels(service=service).set(1)

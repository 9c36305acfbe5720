"""The gateway's Prometheus metrics, in the app's registry (and summed across workers like the rest)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from fastapi_app.gateway.breaker import State

STATE_VALUES: dict[State, int] = {"closed": 0, "half_open": 1, "open": 2}


class GatewayMetrics:
    """Requests by service and status, retries, and each instance's breaker state and health."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "datalab_gateway_requests",
            "Requests forwarded per service, by the status the client got (upstream's or the gateway's).",
            ["service", "status"],
            registry=registry,
        )
        self.retries = Counter(
            "datalab_gateway_retries",
            "Retried upstream attempts per service.",
            ["service"],
            registry=registry,
        )
        self.breaker_state = Gauge(
            "datalab_gateway_breaker_state",
            "Circuit state per instance: 0 closed, 1 half-open, 2 open.",
            ["service", "instance"],
            registry=registry,
            multiprocess_mode="livemax",
        )
        self.transitions = Counter(
            "datalab_gateway_breaker_transitions",
            "Circuit state changes per instance, by the state entered.",
            ["service", "instance", "state"],
            registry=registry,
        )
        self.healthy = Gauge(
            "datalab_gateway_instance_healthy",
            "1 when the instance's last active health check passed, else 0.",
            ["service", "instance"],
            registry=registry,
            multiprocess_mode="livemin",
        )

    def breaker_moved(self, service: str, instance: str, new: State) -> None:
        """Count a state change and set the gauge."""
        self.transitions.labels(service, instance, new).inc()
        self.breaker_state.labels(service, instance).set(STATE_VALUES[new])

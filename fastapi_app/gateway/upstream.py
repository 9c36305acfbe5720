"""A service's instances: round-robin over those whose circuit lets a request through."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from fastapi_app.gateway.breaker import CircuitBreaker, State
from fastapi_app.gateway.metrics import GatewayMetrics

log = logging.getLogger("datalab.gateway")


@dataclass
class Instance:
    """One base URL of a service, with its breaker and its last health check."""

    url: str
    label: str  # host:port, for logs and metrics
    breaker: CircuitBreaker
    healthy: bool = True
    checked: bool = False


@dataclass
class Upstream:
    """A service as the proxy sees it: its instances, timeout, retry budget and health path."""

    name: str
    prefix: str
    timeout: float
    retries: int
    health_path: str
    instances: list[Instance] = field(default_factory=list)
    _next: int = 0

    def pick(self, avoid: Instance | None = None) -> Instance | None:
        """Return the next instance whose circuit allows a request, preferring healthy ones; None if none."""
        count = len(self.instances)
        order = [self.instances[(self._next + i) % count] for i in range(count)]
        if avoid is not None and count > 1:
            order.remove(avoid)
            order.append(avoid)
        # Failed health checks bench an instance, unless every instance failed them (then try anyway).
        candidates = [i for i in order if i.healthy] or order
        for instance in candidates:
            if instance.breaker.allow():
                self._next = (self.instances.index(instance) + 1) % count
                return instance
        return None

    def retry_after(self) -> int:
        """Return seconds until the first open circuit lets a probe through."""
        return min(instance.breaker.retry_after() for instance in self.instances)

    def report(self) -> dict[str, object]:
        """Return this service's state for /health/ready."""
        instances = [
            {"instance": i.label, "circuit": i.breaker.state, "healthy": i.healthy if i.checked else None}
            for i in self.instances
        ]
        usable = sum(1 for i in self.instances if i.healthy and i.breaker.state != "open")
        status = "ok" if usable == len(self.instances) else "degraded" if usable else "down"
        return {"status": status, "prefix": self.prefix, "instances": instances}


def build_upstream(
    name: str,
    prefix: str,
    urls: tuple[str, ...],
    *,
    timeout: float,
    retries: int,
    health_path: str,
    threshold: int,
    cooldown: float,
    metrics: GatewayMetrics,
) -> Upstream:
    """Build a service with a closed breaker per URL, whose state changes are logged and counted."""
    upstream = Upstream(name, prefix, timeout, retries, health_path)
    for url in urls:
        parts = urlsplit(url)
        label = f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"

        def moved(old: State, new: State, label: str = label) -> None:
            log.warning("circuit of %s instance %s: %s -> %s", name, label, old, new)
            metrics.breaker_moved(name, label, new)

        breaker = CircuitBreaker(threshold=threshold, cooldown=cooldown, on_change=moved)
        metrics.breaker_state.labels(name, label).set(0)
        upstream.instances.append(Instance(url, label, breaker))
    return upstream

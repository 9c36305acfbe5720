"""Active health checks: every HEALTH_CHECK_INTERVAL seconds, GET each instance's health path.

An instance that fails its check is benched (the balancer skips it while another is
healthy); its circuit is left to real traffic and probes.
"""

from __future__ import annotations

import asyncio
import logging

import httpx

from fastapi_app.gateway.clients import ClientPool
from fastapi_app.gateway.metrics import GatewayMetrics
from fastapi_app.gateway.upstream import Instance, Upstream

log = logging.getLogger("datalab.gateway")
CHECK_TIMEOUT = 5.0


async def check_instance(client: httpx.AsyncClient, upstream: Upstream, instance: Instance) -> bool:
    """GET the instance's health path; healthy means any 2xx within the timeout."""
    try:
        response = await client.get(
            instance.url + upstream.health_path, timeout=min(CHECK_TIMEOUT, upstream.timeout)
        )
    except httpx.HTTPError:
        return False
    return response.is_success


async def check_all(clients: ClientPool, upstreams: list[Upstream], metrics: GatewayMetrics) -> None:
    """Check every instance of every service once, side by side."""
    client = clients.get()
    pairs = [(u, i) for u in upstreams for i in u.instances]
    results = await asyncio.gather(*(check_instance(client, u, i) for u, i in pairs))
    for (upstream, instance), healthy in zip(pairs, results, strict=True):
        if instance.checked and healthy != instance.healthy:
            log.warning(
                "%s instance %s is %s", upstream.name, instance.label, "healthy" if healthy else "unhealthy"
            )
        instance.healthy, instance.checked = healthy, True
        metrics.healthy.labels(upstream.name, instance.label).set(1 if healthy else 0)


async def check_forever(
    clients: ClientPool, upstreams: list[Upstream], metrics: GatewayMetrics, interval: float
) -> None:
    """Run the checks every `interval` seconds until cancelled."""
    while True:
        try:
            await check_all(clients, upstreams, metrics)
        except Exception:  # a bug in a check must not end the checking
            log.exception("gateway health checks failed")
        await asyncio.sleep(interval)

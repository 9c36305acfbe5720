"""The client address: the peer's, unless the peer is a trusted proxy that forwarded the request."""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network


class ClientAddress:
    """Decide the client IP from the peer address and `X-Forwarded-For`, trusting only listed proxies."""

    def __init__(self, trusted: Sequence[str]) -> None:
        self.trusted: list[IPv4Network | IPv6Network] = [ip_network(n, strict=False) for n in trusted]

    def is_trusted(self, address: str) -> bool:
        """Tell whether `address` is one of the trusted proxies."""
        try:
            ip = ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted)

    def of(self, peer: str | None, forwarded_for: str | None) -> str | None:
        """Return the right-most untrusted address of the chain peer <- X-Forwarded-For."""
        if peer is None or not self.trusted or not self.is_trusted(peer) or not forwarded_for:
            return peer
        # Each proxy appends the address it saw; anything left of an untrusted hop is the client's word.
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        for hop in reversed(hops):
            if not self.is_trusted(hop):
                return hop if _is_ip(hop) else peer
        return hops[0] if hops and _is_ip(hops[0]) else peer


def _is_ip(text: str) -> bool:
    try:
        ip_address(text)
    except ValueError:
        return False
    return True

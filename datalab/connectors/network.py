"""The network guard: which addresses a connector may reach, checked on the resolved address.

Refused by default: loopback, link-local, multicast, unspecified and reserved addresses, cloud
metadata services (by name and by address), every address of this host's own interfaces, and
the app's own database; DATA_SOURCE_ALLOW_NETWORKS lets any of them through but that database.

Every host is resolved once with getaddrinfo, EVERY address it resolves to is checked, and the
driver is handed the checked address (never the name), so a second DNS answer cannot swap in
another one (DNS rebinding). Because the check runs on what the resolver returns, every spelling
of an address (`2130706433`, `0x7f.1`, `0177.0.0.1`, `127.1`, `[::1]`, `::ffff:127.0.0.1`) is
judged as the address it really is.
"""

from __future__ import annotations

import ipaddress
import socket
from functools import lru_cache

from datalab.connectors.base import ConnectorError, Limits
from datalab.connectors.host_addresses import METADATA_ADDRESSES, is_metadata_name, own_addresses

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


@lru_cache(maxsize=64)
def _networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(c.strip(), strict=False) for c in cidrs if c.strip())


def _embedded(ip: IPAddress) -> list[IPAddress]:
    """The addresses `ip` stands for: an IPv4-mapped address is its IPv4 address; a 6to4, NAT64
    or Teredo address is itself and the IPv4 address it carries (that one first)."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return [ip]
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped]
    found: list[IPAddress] = []
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    if ip in _NAT64 or ip in _NAT64_LOCAL:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return [*found, ip]


def _default_refusal(ip: IPAddress) -> str | None:
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local (cloud metadata included)"
    if ip.is_multicast:
        return "multicast"
    if ip.is_unspecified or (isinstance(ip, ipaddress.IPv4Address) and ip in _THIS_NETWORK):
        return "unspecified"
    if ip.is_reserved or ip == ipaddress.IPv4Address("255.255.255.255"):
        return "reserved"
    return None


def _own_endpoint_ips(limits: Limits) -> set[tuple[IPAddress, int]]:
    found: set[tuple[IPAddress, int]] = set()
    for host, port in limits.own_endpoints:
        for ip in _resolve_quietly(host, port):
            found.update((e, port) for e in _embedded(ip))
    return found


DENIED = "in a denied network"


def refusal_reason(ip: IPAddress, port: int, limits: Limits) -> str | None:
    """Say why `ip:port` is refused under `limits`, or None when it may be reached."""
    candidates = _embedded(ip)
    if any(c in net for c in candidates for net in _networks(limits.deny_networks)):
        return DENIED
    if any(c in net for c in candidates for net in _networks(limits.allow_networks)):
        return None
    for candidate in candidates:
        reason = _default_refusal(candidate)
        if reason:
            return reason
    for candidate in candidates:
        if candidate in METADATA_ADDRESSES:
            return f"a cloud metadata service ({METADATA_ADDRESSES[candidate]})"
    local = own_addresses()
    if any(c in local for c in candidates):
        return "an address of this server itself"
    own = _own_endpoint_ips(limits)
    if any((c, port) in own for c in candidates):
        return "the application's own database"
    return None


def _parse(address: str) -> IPAddress:
    return ipaddress.ip_address(address.split("%", 1)[0])


def _resolve_quietly(host: str, port: int) -> list[IPAddress]:
    try:
        return _resolve(host, port)
    except ConnectorError:
        return []


def _resolve(host: str, port: int) -> list[IPAddress]:
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        infos = socket.getaddrinfo(bare, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError):
        raise ConnectorError("UNREACHABLE", "The host name could not be resolved.") from None
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        ip = _parse(str(sockaddr[0]))
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise ConnectorError("UNREACHABLE", "The host name could not be resolved.")
    return addresses


def checked_address(host: str, port: int, limits: Limits) -> str:
    """Resolve `host`, refuse it if ANY address is refused, and return the address to connect to."""
    if not host or not 0 < port < 65536:
        raise ConnectorError("HOST_REFUSED", "The host or port is invalid.")
    if is_metadata_name(host):
        raise ConnectorError(
            "HOST_REFUSED", f"The host {host!r} is refused: it names a cloud metadata service."
        )
    addresses = _resolve(host, port)
    for ip in addresses:
        reason = refusal_reason(ip, port, limits)
        if reason:
            raise ConnectorError(
                "HOST_REFUSED", f"The host {host!r} is refused: it resolves to {reason}. {_hint(reason)}"
            )
    return str(addresses[0])


def _hint(reason: str) -> str:
    # What an operator changes to let it through; a deny entry beats any allow entry.
    if reason == DENIED:
        return "An administrator can remove its network from the DATA_SOURCE_DENY_NETWORKS setting."
    return "An administrator can allow its network with the DATA_SOURCE_ALLOW_NETWORKS setting."


def check_database(address: str, port: int, database: str, limits: Limits) -> None:
    """Refuse the application's own database by name on its endpoint, whatever the allow list says."""
    ip = _parse(address)
    for host, own_port, name in limits.own_databases:
        if own_port == port and name.casefold() == database.casefold():
            own_ips = {e for a in _resolve_quietly(host, own_port) for e in _embedded(a)}
            if any(c in own_ips for c in _embedded(ip)):
                raise ConnectorError("HOST_REFUSED", "This is the application's own database.")

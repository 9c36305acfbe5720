"""The addresses of this host's own interfaces, and of cloud metadata services.

A source on the server's own address reaches whatever listens there (an admin port, a local
database, the app itself) as surely as 127.0.0.1 does, so the network guard refuses them too.
On Linux the kernel lists every local IPv4 address as a `/32 host LOCAL` entry of
/proc/net/fib_trie (secondary addresses included, which SIOCGIFADDR misses) and every IPv6
address in /proc/net/if_inet6; elsewhere the addresses the host name resolves to stand in.
The list is read again after CACHE_S seconds, so an address gained later (DHCP) is refused too.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from pathlib import Path

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

CACHE_S = 30.0
# Metadata services that are not link-local (169.254.169.254 and fe80::/10 are refused as such).
METADATA_ADDRESSES: dict[IPAddress, str] = {
    ipaddress.ip_address("fd00:ec2::254"): "AWS instance metadata",
    ipaddress.ip_address("100.100.100.200"): "Alibaba Cloud metadata",
    ipaddress.ip_address("168.63.129.16"): "Azure platform (wire server)",
    ipaddress.ip_address("192.0.0.192"): "Oracle Cloud metadata",
    ipaddress.ip_address("fd20:ce::254"): "Google Cloud metadata",
}
# Names that resolve to a metadata service inside a cloud; refused before any lookup.
METADATA_NAMES = frozenset(
    {"metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal"}
)

_lock = threading.Lock()
_cache: tuple[float, frozenset[IPAddress]] = (0.0, frozenset())


def is_metadata_name(host: str) -> bool:
    """Tell whether `host` names a cloud metadata service, however it is cased or dotted."""
    return host.strip().rstrip(".").casefold() in METADATA_NAMES


def own_addresses() -> frozenset[IPAddress]:
    """Every address of this host's interfaces, read at most every CACHE_S seconds."""
    global _cache
    with _lock:
        read_at, addresses = _cache
        if time.monotonic() - read_at > CACHE_S or not addresses:
            addresses = frozenset(_read_addresses())
            _cache = (time.monotonic(), addresses)
        return addresses


def _read_addresses() -> set[IPAddress]:
    found = _fib_locals(Path("/proc/net/fib_trie")) | _inet6_locals(Path("/proc/net/if_inet6"))
    if not found:
        found = _resolved_host_name()
    return found


def _fib_locals(path: Path) -> set[IPAddress]:
    found: set[IPAddress] = set()
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return found
    last = ""
    for line in lines:
        text = line.strip()
        if text.startswith("|-- "):
            last = text[4:]
        elif text == "/32 host LOCAL" and last:
            found.add(ipaddress.ip_address(last))
    return found


def _inet6_locals(path: Path) -> set[IPAddress]:
    found: set[IPAddress] = set()
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        fields = line.split()
        if fields and len(fields[0]) == 32:
            found.add(ipaddress.IPv6Address(int(fields[0], 16)))
    return found


def _resolved_host_name() -> set[IPAddress]:
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None)
    except OSError:
        return set()
    return {ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos}

"""The network guard refuses cloud metadata services and this host's own addresses, in every spelling."""

from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess

import pytest

from datalab.connectors import ConnectorError, Limits
from datalab.connectors.network import checked_address

DEFAULT = Limits()


def teredo(server: str, client: str) -> str:
    """The Teredo address (2001:0::/32) of `client` behind relay `server`; the client bits are inverted."""
    relay = int(ipaddress.IPv4Address(server))
    inverted = int(ipaddress.IPv4Address(client)) ^ 0xFFFFFFFF
    return str(ipaddress.IPv6Address((0x20010000 << 96) | (relay << 64) | inverted))


def six_to_four(address: str) -> str:
    """The 6to4 address (2002::/16) that carries `address`."""
    return str(ipaddress.IPv6Address((0x2002 << 112) | (int(ipaddress.IPv4Address(address)) << 80)))


def nat64(address: str) -> str:
    """The NAT64 address (64:ff9b::/96) that carries `address`."""
    return str(ipaddress.IPv6Address((0x64FF9B << 96) | int(ipaddress.IPv4Address(address))))


def spellings(address: str) -> list[str]:
    """`address` as a user could write it: plain, as an integer, mapped, 6to4, NAT64 and Teredo."""
    return [
        address,
        str(int(ipaddress.IPv4Address(address))),
        f"::ffff:{address}",
        six_to_four(address),
        nat64(address),
        teredo("65.54.227.120", address),
    ]


METADATA_V4 = ["100.100.100.200", "168.63.129.16", "192.0.0.192"]
METADATA_V6 = ["fd00:ec2::254", "fd20:ce::254"]


@pytest.mark.parametrize("host", [s for a in METADATA_V4 for s in spellings(a)] + METADATA_V6)
def test_metadata_addresses_refused_in_every_spelling(host: str) -> None:
    # NAT64 (64:ff9b::/96) lies in ::/8, refused as reserved before its embedded address is asked.
    with pytest.raises(ConnectorError, match="metadata|reserved") as caught:
        checked_address(host, 80, DEFAULT)
    assert caught.value.code == "HOST_REFUSED"


@pytest.mark.parametrize(
    "name",
    ["metadata", "metadata.google.internal", "METADATA.Google.Internal.", "metadata.goog", "instance-data"],
)
def test_metadata_names_refused_before_any_lookup(name: str) -> None:
    with pytest.raises(ConnectorError, match="metadata") as caught:
        checked_address(name, 80, DEFAULT)
    assert caught.value.code == "HOST_REFUSED"


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        (teredo("65.54.227.120", "127.0.0.1"), "loopback"),
        (teredo("169.254.169.254", "8.8.8.8"), "link-local"),
        (teredo("65.54.227.120", "169.254.169.254"), "link-local"),
        (teredo("65.54.227.120", "100.100.100.200"), "metadata"),
    ],
)
def test_teredo_embedded_addresses_judged_as_what_they_carry(host: str, reason: str) -> None:
    """A Teredo address is itself public-looking (2001:0::/32): only its embedded IPv4 tells."""
    with pytest.raises(ConnectorError, match=reason):
        checked_address(host, 80, DEFAULT)


def interface_addresses() -> list[str]:
    """This host's non-loopback interface addresses, as `ip` lists them (skipped without it)."""
    ip = shutil.which("ip")
    if ip is None:
        pytest.skip("the ip command is not installed")
    listed = subprocess.run([ip, "-j", "addr"], capture_output=True, check=True, text=True)  # noqa: S603
    listing = json.loads(listed.stdout)
    found = [a["local"] for link in listing for a in link.get("addr_info", []) if "local" in a]
    return [a for a in found if not ipaddress.ip_address(a).is_loopback and not a.startswith("fe80")]


def test_every_own_interface_address_refused_in_every_spelling() -> None:
    addresses = interface_addresses()
    assert addresses, "this host has no address but loopback"
    for address in addresses:
        forms = spellings(address) if ipaddress.ip_address(address).version == 4 else [address]
        for host in forms:
            with pytest.raises(ConnectorError, match="this server itself|reserved"):
                checked_address(host, 80, DEFAULT)


def test_own_address_allowed_when_an_allowed_network_covers_it() -> None:
    address = interface_addresses()[0]
    network = str(ipaddress.ip_network(address))
    assert checked_address(address, 80, Limits(allow_networks=(network,))) == address

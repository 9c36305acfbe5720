"""The network guard: every spelling of a refused address, allow and deny lists, own database."""

from __future__ import annotations

import ipaddress

import pytest

from datalab.connectors import ConnectorError, Limits
from datalab.connectors.network import check_database, checked_address, refusal_reason

DEFAULT = Limits()

# (spelling a user could type, why it is refused)
REFUSED_SPELLINGS = [
    ("127.0.0.1", "loopback"),
    ("127.1", "loopback"),
    ("127.0.1", "loopback"),
    ("2130706433", "loopback"),
    ("0x7f000001", "loopback"),
    ("0x7f.0.0.1", "loopback"),
    ("0177.0.0.1", "loopback"),
    ("0177.0.0.01", "loopback"),
    ("127.255.255.254", "loopback"),
    ("localhost", "loopback"),
    ("::1", "loopback"),
    ("[::1]", "loopback"),
    ("0:0:0:0:0:0:0:1", "loopback"),
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:7f00:1", "loopback"),
    ("64:ff9b::7f00:1", "loopback"),
    ("2002:7f00:1::", "loopback"),
    ("169.254.169.254", "link-local"),
    ("2852039166", "link-local"),
    ("0xa9.0xfe.0xa9.0xfe", "link-local"),
    ("::ffff:169.254.169.254", "link-local"),
    ("169.254.0.1", "link-local"),
    ("fe80::1", "link-local"),
    ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"),
    ("0.0.0.0", "unspecified"),  # noqa: S104 - an address to refuse, not to bind
    ("0", "unspecified"),
    ("0.1.2.3", "unspecified"),
    ("::", "unspecified"),
    ("255.255.255.255", "reserved"),
    ("240.0.0.1", "reserved"),
]

ALLOWED_BY_DEFAULT = [
    "10.0.0.5",
    "172.16.3.4",
    "192.168.1.10",
    "fc00::5",
    "fd12:3456::1",
    "8.8.8.8",
    "2001:4860::8888",
]


@pytest.mark.parametrize(("host", "reason"), REFUSED_SPELLINGS)
def test_refused_in_every_spelling(host: str, reason: str) -> None:
    with pytest.raises(ConnectorError) as caught:
        checked_address(host, 5432, DEFAULT)
    assert caught.value.code == "HOST_REFUSED"
    assert reason in caught.value.message


@pytest.mark.parametrize("host", ALLOWED_BY_DEFAULT)
def test_private_and_public_addresses_allowed(host: str) -> None:
    assert ipaddress.ip_address(checked_address(host, 5432, DEFAULT)) == ipaddress.ip_address(host)


def test_the_checked_address_is_what_the_driver_gets() -> None:
    """A name is resolved once; the connector connects to the returned address, not the name."""
    address = checked_address("localhost", 5432, Limits(allow_networks=("127.0.0.0/8", "::1/128")))
    assert ipaddress.ip_address(address).is_loopback


def test_name_resolving_to_refused_address_refused() -> None:
    """DNS-rebinding style: a name whose answer is loopback is judged by the answer."""
    with pytest.raises(ConnectorError, match="loopback"):
        checked_address("localhost", 80, DEFAULT)


def test_unresolvable_name_is_unreachable() -> None:
    with pytest.raises(ConnectorError) as caught:
        checked_address("no-such-host.invalid", 5432, DEFAULT)
    assert caught.value.code == "UNREACHABLE"


@pytest.mark.parametrize("port", [0, -1, 65536])
def test_bad_port_refused(port: int) -> None:
    with pytest.raises(ConnectorError, match="invalid"):
        checked_address("10.0.0.1", port, DEFAULT)


@pytest.mark.parametrize(
    ("address", "allow", "deny", "refused"),
    [
        ("127.0.0.1", ("127.0.0.0/8",), (), False),
        ("::ffff:127.0.0.1", ("127.0.0.0/8",), (), False),
        ("169.254.169.254", ("127.0.0.0/8",), (), True),
        ("169.254.169.254", ("169.254.169.254/32",), (), False),
        ("10.1.2.3", (), ("10.0.0.0/8",), True),
        ("::ffff:10.1.2.3", (), ("10.0.0.0/8",), True),
        ("10.1.2.3", ("10.1.2.3/32",), ("10.0.0.0/8",), True),
        ("10.9.9.9", (), ("10.1.0.0/16",), False),
        ("8.8.8.8", (), ("0.0.0.0/0",), True),
        ("fd00::1", (), ("fc00::/7",), True),
    ],
)
def test_allow_and_deny_lists(
    address: str, allow: tuple[str, ...], deny: tuple[str, ...], refused: bool
) -> None:
    limits = Limits(allow_networks=allow, deny_networks=deny)
    assert (refusal_reason(ipaddress.ip_address(address), 5432, limits) is not None) is refused


def test_deny_message_names_the_rule() -> None:
    with pytest.raises(ConnectorError, match="denied network"):
        checked_address("10.1.2.3", 5432, Limits(deny_networks=("10.0.0.0/8",)))


def test_own_database_endpoint_refused_by_default() -> None:
    limits = Limits(own_endpoints=(("10.20.30.40", 5432),))
    with pytest.raises(ConnectorError, match="own database"):
        checked_address("10.20.30.40", 5432, limits)
    assert checked_address("10.20.30.40", 5433, limits) == "10.20.30.40"


def test_own_database_endpoint_lifted_by_explicit_allow() -> None:
    limits = Limits(own_endpoints=(("10.20.30.40", 5432),), allow_networks=("10.20.30.0/24",))
    assert checked_address("10.20.30.40", 5432, limits) == "10.20.30.40"


def test_own_database_endpoint_refused_in_other_spellings() -> None:
    limits = Limits(own_endpoints=(("10.20.30.40", 5432),))
    for spelling in ("169090600", "0x0a141e28", "::ffff:10.20.30.40"):
        with pytest.raises(ConnectorError, match="own database"):
            checked_address(spelling, 5432, limits)


def test_own_database_name_refused_even_when_allowed() -> None:
    limits = Limits(
        own_endpoints=(("localhost", 5432),),
        own_databases=(("localhost", 5432, "datalab"),),
        allow_networks=("127.0.0.0/8", "::1/128"),
    )
    address = checked_address("127.0.0.1", 5432, limits)
    with pytest.raises(ConnectorError, match="own database"):
        check_database(address, 5432, "datalab", limits)
    with pytest.raises(ConnectorError, match="own database"):
        check_database(address, 5432, "DATALAB", limits)
    check_database(address, 5432, "analytics", limits)
    check_database(address, 5433, "datalab", limits)

"""The egress guard of outgoing webhooks: which addresses the notifier may POST to.

Dealership integrations choose webhook URLs, so without a guard they could make the notifier POST to
the loopback interface, the internal network or a cloud metadata service (server-side request
forgery). A webhook host is resolved once, every resolved address is checked against an
`EgressPolicy`, and the request then goes to a checked address (see `HttpWebhookPoster`), so a DNS
answer that changes between the check and the connection (DNS rebinding) cannot get around it.

An address is allowed if it is globally routable, or inside a network the operator listed in
`PITCALL_NOTIFY_WEBHOOK_ALLOWED_NETWORKS`, or the policy allows any address (development).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_NETWORKS_ENV = "PITCALL_NOTIFY_WEBHOOK_ALLOWED_NETWORKS"
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")  # carrier-grade NAT
_METADATA = ipaddress.IPv4Address("169.254.169.254")


class ResolutionFailed(Exception):  # noqa: N818 (named for what happened)
    """The webhook host could not be resolved (possibly a passing DNS failure: retried)."""


@dataclass(frozen=True, slots=True)
class EgressPolicy:
    """Where webhooks may go: public addresses, plus the `allowed` networks, or anywhere if `allow_any`."""

    allowed: tuple[IPNetwork, ...] = ()
    allow_any: bool = False

    @classmethod
    def of(cls, networks: Iterable[str], allow_any: bool = False) -> EgressPolicy:
        """A policy from CIDR strings (`10.20.0.0/16`, `fd00::/8`; a bare address is one host)."""
        return cls(tuple(parse_network(entry) for entry in networks), allow_any)

    def refusal(self, address: IPAddress) -> str | None:
        """None if the policy allows `address`, else why not (for the delivery's `last_error`)."""
        if self.allow_any:
            return None
        checked = _checked_forms(address)
        if any(form in network for form in checked for network in self.allowed):
            return None
        for form in checked:
            kind = _non_public_kind(form)
            if kind is not None:
                shown = _shown(address) if form == address else f"{_shown(address)} ({form})"
                return f"{shown} is {kind} address; list its network in {ALLOWED_NETWORKS_ENV} to allow it"
        return None


def parse_network(entry: str) -> IPNetwork:
    """One CIDR entry of the allow-list; a ValueError names the entry and what is wrong with it."""
    text = entry.strip()
    try:
        return ipaddress.ip_network(text)
    except ValueError as exc:
        raise ValueError(f"{ALLOWED_NETWORKS_ENV}: {entry!r} is not a network such as 10.20.0.0/16 ({exc})") from None


def resolve(host: str, port: int) -> list[IPAddress]:
    """The addresses of `host` in the resolver's order, without duplicates (an IP literal is itself).

    Raises ResolutionFailed if the name does not resolve."""
    literal = _literal(host)
    if literal is not None:
        return [literal]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:  # socket.gaierror is an OSError
        raise ResolutionFailed(f"cannot resolve {host}: {exc}") from exc
    addresses: list[IPAddress] = []
    for family, _, _, _, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        address = ipaddress.ip_address(str(sockaddr[0]).partition("%")[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise ResolutionFailed(f"cannot resolve {host}: no IPv4 or IPv6 address")
    return addresses


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))
    except ValueError:
        return None


def _shown(address: IPAddress) -> str:
    """The address as text, an IPv4-mapped one as `::ffff:127.0.0.1` on every Python version."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return f"::ffff:{address.ipv4_mapped}"
    return str(address)


def _checked_forms(address: IPAddress) -> list[IPAddress]:
    """The address as checked: an IPv4-mapped IPv6 address is its IPv4 address; a 6to4 one is checked
    both as itself and as the IPv4 address it embeds."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return [address.ipv4_mapped]
        if address.sixtofour is not None:
            return [address, address.sixtofour]
    return [address]


def _non_public_kind(address: IPAddress) -> str | None:
    """'a private', 'a loopback', ... if the address is not globally routable, else None."""
    if address.is_unspecified:
        return "an unspecified"
    if address.is_loopback:
        return "a loopback"
    if address == _METADATA:
        return "a link-local (cloud metadata)"
    if address.is_link_local:
        return "a link-local"
    if address.is_multicast:
        return "a multicast"
    if address.is_reserved:
        return "a reserved"
    if address in _SHARED:
        return "a shared (carrier-grade NAT)"
    if address.is_private:
        return "a private"
    if not address.is_global:
        return "a non-public"
    return None

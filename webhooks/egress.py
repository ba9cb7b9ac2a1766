"""Where a webhook may be sent: HTTPS to a public address only (no loopback, private, link-local,
shared or metadata addresses), unless WEBHOOK_ALLOW_PRIVATE is on (development and the tests).

The host is resolved once per attempt and the request goes to the address that was checked (the
URL's host is kept for the Host header and TLS), so a name that resolves to a public address for
the check and to an internal one for the connection cannot slip through."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class RefusedAddress(Exception):
    """The URL may not be called; the message says why."""


@dataclass(frozen=True)
class Target:
    scheme: str
    address: str  # the checked address the request goes to
    port: int
    host: str  # the URL's host name: for the Host header and TLS (SNI and the certificate check)
    host_header: str
    path: str  # with the query


def check_url(url: str) -> None:
    """For an endpoint's form and command: a ValidationError unless `url` may be registered. Names
    are resolved again at every attempt; here a name that does not resolve yet is accepted."""
    try:
        parts = _parts(url)
        if _is_address(parts.hostname or ""):
            _check_address(ipaddress.ip_address(parts.hostname or ""))
    except RefusedAddress as refused:
        raise ValidationError(str(refused), code="refused_address") from None


def resolve(url: str) -> Target:
    """The address to send to, checked; RefusedAddress if it may not be called. A name that does
    not resolve raises OSError (a connection error: tried again later)."""
    parts = _parts(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if _is_address(host):
        address = ipaddress.ip_address(host)
        _check_address(address)
    else:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = [ipaddress.ip_address(info[4][0]) for info in found]
        for candidate in addresses:  # every address the name has: any of them could be connected to
            _check_address(candidate)
        address = addresses[0]
    # The Host header is ASCII: an internationalised name in its IDNA form, an IPv6 address in brackets.
    shown = f"[{host}]" if ":" in host else host.encode("idna").decode("ascii")
    host_header = f"{shown}:{parts.port}" if parts.port else shown
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, str(address), port, host, host_header, path)


def _parts(url: str):
    parts = urlsplit(url)
    allowed = {"https", "http"} if settings.WEBHOOK_ALLOW_PRIVATE else {"https"}
    if parts.scheme not in allowed:
        raise RefusedAddress(_("Webhook URLs must use HTTPS."))
    if not parts.hostname:
        raise RefusedAddress(_("The URL has no host."))
    if parts.username or parts.password:
        raise RefusedAddress(_("The URL may not carry a user name or password."))
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when asked
        parts.hostname.encode("idna")
    except (ValueError, UnicodeError):
        raise RefusedAddress(_("The URL's host or port is not valid.")) from None
    return parts


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


NAT64 = ipaddress.ip_network("64:ff9b::/96")
SITE_LOCAL = ipaddress.ip_network("fec0::/10")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def _check_address(address: IPAddress) -> None:
    if settings.WEBHOOK_ALLOW_PRIVATE:
        return
    # is_global is False for loopback, private, link-local (the 169.254.169.254 metadata service),
    # shared (100.64.0.0/10, Alibaba Cloud's 100.100.100.200), reserved and unspecified addresses;
    # an IPv6 address that carries an IPv4 one (mapped, 6to4, Teredo, NAT64, compatible) is
    # judged by that one too, and the deprecated site-local range is refused.
    inside: list[IPAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        inside += _embedded_ipv4(address)
    if any(not a.is_global or a.is_multicast for a in inside) or address in SITE_LOCAL:
        raise RefusedAddress(_("%(address)s is not a public address.") % {"address": address})


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    found = [address.ipv4_mapped, address.sixtofour, *(address.teredo or ())]
    if address in NAT64 or address in IPV4_COMPATIBLE:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return [a for a in found if a is not None]

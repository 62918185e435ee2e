"""Webhook URL safety: reporting must not be usable to reach internal addresses.

A URL passes when it is http(s) and every address its host resolves to is
globally routable. With `allow_loopback`, loopback addresses pass too, for
local receivers; private, link-local and cloud metadata addresses never do.
The check runs at subscription and again before every attempt, and the
attempt then connects to the address that passed, so a DNS answer that
changes between the check and the connection cannot redirect it.
"""

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
# Ranges Python's `ipaddress` calls global although they reach inside
# networks: IPv6 site-local (deprecated, still routed in older internal
# networks) and the retired 6to4 relay anycast block.
DEPRECATED_INTERNAL = (
    ipaddress.ip_network("fec0::/10"),
    ipaddress.ip_network("192.88.99.0/24"),
)
DEFAULT_PORTS = {"http": 80, "https": 443}


class UnsafeWebhookURLError(ValueError):
    """The URL may not receive webhooks; the message names the URL and why."""


@dataclass(frozen=True)
class CheckedURL:
    url: str
    scheme: str
    host: str
    port: int
    address: IPAddress

    def pinned_url(self) -> str:
        """Return the URL with its host replaced by the address that passed."""
        parts = urlsplit(self.url)
        literal = (
            f"[{self.address}]" if self.address.version == 6 else str(self.address)
        )
        netloc = f"{literal}:{self.port}"
        path = parts.path or "/"
        query = f"?{parts.query}" if parts.query else ""
        return f"{self.scheme}://{netloc}{path}{query}"

    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.port == DEFAULT_PORTS[self.scheme]:
            return host
        return f"{host}:{self.port}"


async def resolve_host(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def forbidden_reason(address: IPAddress, *, allow_loopback: bool) -> str | None:
    """Name the class of address that makes it unsafe, or None when it is allowed."""
    address = _unmapped(address)
    if address in METADATA_ADDRESSES:
        return "cloud metadata"
    if address.is_loopback:
        return None if allow_loopback else "loopback"
    checks = (
        ("unspecified", address.is_unspecified),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
    )
    for reason, matched in checks:
        if matched:
            return reason
    if any(address in network for network in DEPRECATED_INTERNAL):
        return "deprecated internal"
    if not address.is_global:
        return "non-global"
    return None


async def check_webhook_url(
    url: str,
    *,
    allow_loopback: bool,
    require_https: bool,
    resolve: Resolver = resolve_host,
) -> CheckedURL:
    """Validate a webhook URL and return it with the address to connect to.

    With `require_https`, plain http passes only for loopback addresses, and
    only when `allow_loopback` is set.
    """
    scheme, host, port = _split(url)
    addresses = await _addresses_of(url, host, port, resolve)

    for address in addresses:
        reason = forbidden_reason(address, allow_loopback=allow_loopback)
        if reason is not None:
            raise UnsafeWebhookURLError(
                f"webhook URL {url!r} resolves to {address}, "
                f"{'an' if reason[:1] in 'aeiou' else 'a'} {reason} address; "
                "use a publicly reachable URL"
            )

    local = allow_loopback and all(_unmapped(a).is_loopback for a in addresses)
    if require_https and scheme != "https" and not local:
        raise UnsafeWebhookURLError(f"webhook URL {url!r} must use https")
    return CheckedURL(
        url=url, scheme=scheme, host=host, port=port, address=addresses[0]
    )


def _split(url: str) -> tuple[str, str, int]:
    """Return the scheme, host and port of a URL, or raise when one is invalid."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise UnsafeWebhookURLError(
            f"webhook URL {url!r} must use http or https, not {scheme or 'nothing'!r}"
        )
    if parts.username or parts.password:
        raise UnsafeWebhookURLError(
            f"webhook URL {url!r} must not contain credentials; "
            "verify the webhook signature instead"
        )
    host = parts.hostname
    if not host:
        raise UnsafeWebhookURLError(f"webhook URL {url!r} has no host")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError as error:
        raise UnsafeWebhookURLError(
            f"webhook URL {url!r} has an invalid port"
        ) from error
    return scheme, host, port


def _unmapped(address: IPAddress) -> IPAddress:
    """Return the IPv4 address that an IPv4-mapped or 6to4 address embeds."""
    if isinstance(address, ipaddress.IPv6Address):
        # A 6to4 address (2002::/16) is routed to the IPv4 address it embeds,
        # so 2002:a9fe:a9fe:: would reach 169.254.169.254.
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            return embedded
    return address


async def _addresses_of(
    url: str, host: str, port: int, resolve: Resolver
) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        resolved = await resolve(host, port)
    except OSError as error:
        raise UnsafeWebhookURLError(
            f"webhook URL {url!r}: host {host!r} could not be resolved ({error})"
        ) from error
    if not resolved:
        raise UnsafeWebhookURLError(
            f"webhook URL {url!r}: host {host!r} has no addresses"
        )
    # getaddrinfo returns IPv6 scoped addresses as 'fe80::1%eth0'; drop the scope.
    return [ipaddress.ip_address(text.split("%", 1)[0]) for text in resolved]

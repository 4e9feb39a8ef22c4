"""Where a webhook may go (server-side request forgery): https only, to public addresses.

Outside debug a URL must be https and every address its host resolves to must be public (not
private, loopback, link-local, multicast, reserved or unspecified); the address checked is the
address connected to (``resolve_public``), so a DNS answer that changes between the check and
the request cannot reach an internal service. ``WEBHOOKS_ALLOW_HTTP`` (or ``DJANGO_DEBUG``)
allows http and loopback addresses, for local receivers; ``DJANGO_DEBUG`` alone allows private
addresses."""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


class UnsafeUrl(Exception):
    pass


class Unresolvable(UnsafeUrl):
    """The host does not resolve now (perhaps for a while): refused at delivery, allowed at
    registration."""


def _allow_http() -> bool:
    return bool(settings.DEBUG or settings.WEBHOOKS_ALLOW_HTTP)


def url_check(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an acceptable URL, or UnsafeUrl with a sentence saying why."""
    if not isinstance(url, str) or len(url) > 500:
        raise UnsafeUrl("Give a URL of at most 500 characters.")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UnsafeUrl(f"The URL is malformed: {exc}.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not parts.hostname:
        raise UnsafeUrl("The URL must start with https:// and name a host.")
    if scheme == "http" and not _allow_http():
        raise UnsafeUrl("Webhook URLs must use https://.")
    if parts.username or parts.password:
        raise UnsafeUrl("Put no user name or password in the URL; verify the signature instead.")
    return scheme, parts.hostname, port or (443 if scheme == "https" else 80)


def address_allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if getattr(ip, "ipv4_mapped", None):
        ip = ip.ipv4_mapped
    if settings.DEBUG:
        return True
    if ip.is_loopback:
        return bool(settings.WEBHOOKS_ALLOW_HTTP)
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


def resolve_public(host: str, port: int) -> str:
    """The first address of ``host`` if every address it resolves to is allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError) as exc:
        raise Unresolvable(f"The host {host} does not resolve ({exc}).") from None
    addresses = [info[4][0] for info in infos]
    refused = [a for a in addresses if not address_allowed(a)]
    if refused or not addresses:
        where = refused[0] if refused else "none"
        raise UnsafeUrl(
            f"The host {host} resolves to a private or reserved address ({where}); "
            "webhooks go to public addresses only."
        )
    return addresses[0]

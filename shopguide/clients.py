"""Who is asking: the client address that throttles and failed-login counts are keyed on.

A request's ``X-Forwarded-For`` is written by whoever sends it, so it names the client only when
a proxy of the shop's own wrote it. ``SHOPGUIDE["TRUSTED_PROXIES"]`` says how many such proxies
stand in front of the site: 0 (the default) takes the socket address and ignores the header; N
takes the address the N-th proxy from the server saw (the N-th entry from the right, each proxy
appending the address it received the request from). Anything a client put further left is
ignored, so a rotating header lifts no limit.
"""

from __future__ import annotations

import ipaddress

from django.http import HttpRequest

from shopguide.conf import shopguide_settings

IPV6_NETWORK_PREFIX = 64  # one subscriber's IPv6 allocation: counted as one client


def client_address(request: HttpRequest) -> str:
    """The client's IP address as the shop's own proxies saw it (see the module docstring)."""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    proxies = int(shopguide_settings.TRUSTED_PROXIES or 0)
    if proxies <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if not forwarded:
        return remote
    candidate = forwarded[-min(proxies, len(forwarded))]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote  # not an address: a proxy of ours would not have written it


def client_key(request: HttpRequest) -> str:
    """``client_address`` as a counting key: an IPv6 address counts by its /64 network, which one
    client can fill with as many addresses as it likes."""
    address = client_address(request)
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 6:
        if parsed.ipv4_mapped:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/{IPV6_NETWORK_PREFIX}", strict=False))
    return str(parsed)

"""Failed logins, counted per client address and per username: password guessing gets nowhere.

Every failed ``django.contrib.auth.authenticate()`` (a login form, the admin's, the API's Basic
authentication) sends ``user_login_failed``; ``note_login_failure`` counts it against the
client's address and against the username tried, in fixed windows, with the limits of
``SHOPGUIDE["FAILED_LOGIN_RATES"]``, in the cache ``SHOPGUIDE["THROTTLE_CACHE"]`` (one all web
processes share). Once either count is full, ``login_wait`` says how long to wait and:

- ``shopguide.auth.ThrottledModelBackend`` (in place of Django's ModelBackend) refuses every
  login for that address or username without checking (or hashing) the password;
- the API answers 429 with Retry-After (``shopguide.api.authentication.BasicAuthentication``);
- a login page can answer 429 too (the demo's does).

A success resets nothing: an attacker with one account of their own must not be able to clear
their address's count by logging into it.
"""

from __future__ import annotations

import hashlib
import time

from django.core.cache import caches
from django.http import HttpRequest

from shopguide.clients import client_key
from shopguide.conf import shopguide_settings

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """DRF's rate form, "N/second|minute|hour|day", as (N, seconds). Raises ValueError."""
    count, _, period = rate.partition("/")
    if not period or period[0] not in PERIODS or int(count) < 0:
        raise ValueError(f"{rate!r} is not a rate like '10/hour'.")
    return int(count), PERIODS[period[0]]


def login_wait(*, request: HttpRequest | None, username: str | None) -> int | None:
    """Seconds until a login for ``username`` from ``request``'s client may be tried again, or
    None when it may be tried now."""
    now = time.time()
    cache = caches[shopguide_settings.THROTTLE_CACHE]
    waits = []
    for key, limit, period in _counters(request=request, username=username, now=now):
        if (cache.get(key) or 0) >= limit:
            waits.append(int(period - now % period) + 1)
    return max(waits) if waits else None


def note_login_failure(*, request: HttpRequest | None, username: str | None) -> None:
    """Count one failed login against the client's address and the username tried."""
    cache = caches[shopguide_settings.THROTTLE_CACHE]
    for key, _, period in _counters(request=request, username=username, now=time.time()):
        if not cache.add(key, 1, timeout=period + 1):
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr: this failure starts a new window
                cache.add(key, 1, timeout=period + 1)


def _counters(*, request: HttpRequest | None, username: str | None, now: float):
    """(cache key, limit, period) of each count that applies: the address's, the username's."""
    rates = shopguide_settings.FAILED_LOGIN_RATES or {}
    idents = {}
    if request is not None and rates.get("address"):
        idents["address"] = client_key(request)
    if username and rates.get("username"):
        idents["username"] = username.strip().casefold()
    for kind, ident in idents.items():
        limit, period = parse_rate(rates[kind])
        digest = hashlib.sha256(ident.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        yield f"shopguide:login-failures:{kind}:{digest}:{int(now // period)}", limit, period

"""HTTP Basic authentication, guarded: shopguide's views use this class wherever a host enables
DRF's BasicAuthentication.

Basic authentication sends the password with every request, and every request hashes it (a
second or more of CPU with Django's default hasher): an open door to password guessing and to
burning the server's CPU. Prefer session or token authentication for the API (the demo shop and
the test host enable only sessions). Where Basic is on, this class

- refuses a login from an address or for a username with too many recent failures with 429 and
  Retry-After, before any password is hashed (``shopguide.services.login_guard``);
- answers 401 for credentials with a NUL byte (DRF passes them to PostgreSQL, which raises).
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.authentication import BasicScheme
from rest_framework import authentication, exceptions

from shopguide.services.login_guard import login_wait


def host_authentication_classes() -> list | None:
    """REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"] as the host set it, or None when it did not
    (shopguide's views then use sessions only; DRF's own default adds Basic)."""
    return (getattr(settings, "REST_FRAMEWORK", None) or {}).get("DEFAULT_AUTHENTICATION_CLASSES")


class BasicAuthentication(authentication.BasicAuthentication):
    def authenticate_credentials(self, userid, password, request=None):
        if "\x00" in userid or "\x00" in password:
            raise exceptions.AuthenticationFailed("Invalid username/password.")
        wait = login_wait(request=request, username=userid)
        if wait is not None:
            raise exceptions.Throttled(wait, detail="Too many failed logins from this address or for this user.")
        return super().authenticate_credentials(userid, password, request)


def guarded(authenticators: list) -> list:
    """``authenticators`` with DRF's own BasicAuthentication replaced by the guarded one."""
    return [BasicAuthentication() if type(a) is authentication.BasicAuthentication else a for a in authenticators]


class BasicAuthenticationScheme(BasicScheme):
    """Documents the subclass in the OpenAPI schema as drf-spectacular documents DRF's own."""

    target_class = "shopguide.api.authentication.BasicAuthentication"

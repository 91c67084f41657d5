"""HTTP Basic authentication that refuses credentials PostgreSQL cannot store.

DRF's BasicAuthentication passes the decoded user name to the database; one with a NUL byte
makes PostgreSQL raise (a 500). This subclass answers 401 instead. Use it in place of DRF's:

    REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "shopguide.api.authentication.BasicAuthentication",
    ]}
"""

from __future__ import annotations

from drf_spectacular.authentication import BasicScheme
from rest_framework import authentication, exceptions


class BasicAuthentication(authentication.BasicAuthentication):
    def authenticate_credentials(self, userid, password, request=None):
        if "\x00" in userid or "\x00" in password:
            raise exceptions.AuthenticationFailed("Invalid username/password.")
        return super().authenticate_credentials(userid, password, request)


class BasicAuthenticationScheme(BasicScheme):
    """Documents the subclass in the OpenAPI schema as drf-spectacular documents DRF's own."""

    target_class = "shopguide.api.authentication.BasicAuthentication"

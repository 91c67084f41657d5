"""Django's ModelBackend, refusing logins while ``shopguide.services.login_guard`` says to wait.

    AUTHENTICATION_BACKENDS = ["shopguide.auth.ThrottledModelBackend"]   # in place of ModelBackend

While too many logins failed for the client's address or for the username, every login is
refused before the password is checked (and hashed): raising PermissionDenied makes
``authenticate()`` stop at once and report a failed login.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from shopguide.services.login_guard import login_wait


class ThrottledModelBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        name = username if username is not None else kwargs.get(get_user_model().USERNAME_FIELD)
        if login_wait(request=request, username=name if isinstance(name, str) else None) is not None:
            raise PermissionDenied("Too many failed logins; try again later.")
        return super().authenticate(request, username=username, password=password, **kwargs)

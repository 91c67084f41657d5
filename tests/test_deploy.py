"""The demo shop's production settings: `check --deploy` is clean, and unsafe set-ups are refused."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

from tests.demo import ROOT, server_url


def manage_check(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "storefront.settings",
        "DATABASE_URL": server_url("postgres"),
        **env,
    }
    environment.pop("DJANGO_SECRET_KEY", None) if "DJANGO_SECRET_KEY" not in env else None
    return subprocess.run(
        [sys.executable, "manage.py", "check", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_check_deploy(db):
    result = manage_check(
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(60),
        DJANGO_ALLOWED_HOSTS="shop.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_without_a_secret_key_is_refused(db):
    result = manage_check(DJANGO_DEBUG="0")
    assert result.returncode != 0 and "Set DJANGO_SECRET_KEY" in result.stderr

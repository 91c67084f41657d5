"""Kept for imports documented before the layout of issue 14: the code is shopguide.services.incremental."""

from shopguide.services.incremental import *  # noqa: F403

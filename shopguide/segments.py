"""Kept for imports documented before the layout of issue 14: the code is shopguide.services.segments."""

from shopguide.services.segments import *  # noqa: F403

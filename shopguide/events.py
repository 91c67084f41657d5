"""Kept for imports documented before the layout of issue 14: the code is shopguide.services.events."""

from shopguide.services.events import *  # noqa: F403

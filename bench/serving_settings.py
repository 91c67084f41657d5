"""The demo shop's settings for the serving bench's gunicorn: throttles raised so a load generator
on one address is not cut off at 60 searches a minute (the throttle still runs: its cache read and
write are part of what a search costs). Everything else, DEBUG=0 included, comes from the
environment exactly as for the demo shop (see storefront/settings.py)."""

from storefront.settings import *  # noqa: F403
from storefront.settings import SHOPGUIDE

SHOPGUIDE = {
    **SHOPGUIDE,
    "THROTTLE_RATES": {"events": "1000000/minute", "search": "1000000/minute", "image_search": "1000000/minute"},
}

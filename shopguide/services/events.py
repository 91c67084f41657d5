"""Recording customer events: from the server, the API, and imported history.

Anonymous visitors get a random visitor id kept in a signed cookie (``shopguide_visitor``), set
by ``shopguide.middleware.VisitorCookieMiddleware``: tracking a guest's page views writes no
database session, so a shop's session table grows no faster with shopguide than without it (a
session row per anonymous product view is what a session-keyed id costs). The cookie is signed
with SECRET_KEY, so a guest cannot pose as another by guessing ids. When they log in, their
history joins the account and the cookie is dropped (after logout they are a new guest).

Without the middleware the id falls back to the session, as before (one database session per
tracked guest; ``manage.py check`` warns, shopguide.W001). An id already in a guest's session is
still read, so guests tracked before the middleware was added keep their history.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.http import HttpRequest
from django.utils import timezone

from shopguide.conf import shopguide_settings
from shopguide.ml import event_types
from shopguide.models import Interaction, InteractionType, ModelVersion, ShopperList

logger = logging.getLogger(__name__)

VISITOR_SESSION_KEY = "shopguide_visitor"
VISITOR_COOKIE = "shopguide_visitor"
VISITOR_COOKIE_SALT = "shopguide.visitor"
VISITOR_COOKIE_AGE = 365 * 24 * 3600  # seconds: a guest's history stays theirs for a year
# Request attributes: the id found or made on this request; the middleware's mark that it will
# write a new id as a cookie; an id to write, or a cookie to drop.
_VISITOR_ATTR = "_shopguide_visitor"
COOKIE_MIDDLEWARE_ATTR = "_shopguide_visitor_cookies"
SET_COOKIE_ATTR = "_shopguide_set_visitor"
DROP_COOKIE_ATTR = "_shopguide_drop_visitor"

# Default weight of each event type for learning (a purchase says more than a view).
DEFAULT_WEIGHTS = {InteractionType(kind): weight for kind, weight in event_types.DEFAULT_WEIGHTS.items()}


def visitor_id(request: HttpRequest, *, create: bool = True) -> str | None:
    """The request's anonymous visitor id: from its signed cookie, else from its session (ids
    given before the cookie middleware was installed), else a new one when ``create``.

    A new id goes out as a cookie when ``VisitorCookieMiddleware`` is installed, else into the
    session. Returns None when there is none and ``create`` is false, or when neither the
    middleware nor a session can keep a new one. Never writes a session just to read.
    """
    value = getattr(request, _VISITOR_ATTR, None)
    if value:
        return value
    value = _from_cookie(request) or _from_session(request)
    if not value and create:
        value = uuid.uuid4().hex
        if getattr(request, COOKIE_MIDDLEWARE_ATTR, False):
            setattr(request, SET_COOKIE_ATTR, value)
        elif getattr(request, "session", None) is not None:
            request.session[VISITOR_SESSION_KEY] = value
        else:
            return None  # nowhere to keep it: the next request would be a stranger
    if value:
        setattr(request, _VISITOR_ATTR, value)
    return value


def forget_visitor(request: HttpRequest) -> None:
    """Stop treating the request's browser as its current guest (called at login, once the
    guest's history joined the account): the cookie is dropped and the session key removed."""
    setattr(request, _VISITOR_ATTR, None)
    setattr(request, SET_COOKIE_ATTR, None)
    if request.COOKIES.get(VISITOR_COOKIE):
        setattr(request, DROP_COOKIE_ATTR, True)
    session = getattr(request, "session", None)
    if session is not None and VISITOR_SESSION_KEY in session:
        del session[VISITOR_SESSION_KEY]


def _from_cookie(request: HttpRequest) -> str | None:
    cookies = getattr(request, "COOKIES", None) or {}
    if VISITOR_COOKIE not in cookies:
        return None
    # A tampered, foreign or expired cookie is ignored (the guest gets a new id), never an error.
    value = request.get_signed_cookie(
        VISITOR_COOKIE, default=None, salt=VISITOR_COOKIE_SALT, max_age=VISITOR_COOKIE_AGE
    )
    return value if value and len(value) <= 64 else None


def _from_session(request: HttpRequest) -> str | None:
    session = getattr(request, "session", None)
    return session.get(VISITOR_SESSION_KEY) if session is not None else None


def record_event(
    *,
    type: str,
    product: Model | None = None,
    user: AbstractBaseUser | None = None,
    visitor: str = "",
    query: str = "",
    ts: dt.datetime | None = None,
    widget: str = "",
    model_version: ModelVersion | int | None = None,
    weight: float | None = None,
    dedupe_key: str | None = None,
) -> Interaction:
    """Store one event for a user or an anonymous visitor and return it.

    ``dedupe_key`` (up to 64 characters) names an event that must be stored once, e.g. an order
    line that a live receiver and a later history import both see: when an event with that key
    is stored already, that event is returned and nothing is added.
    Raises ValueError when neither a user nor a visitor is given, the type is unknown, or the
    query or widget holds a NUL character (PostgreSQL text cannot store one).
    """
    if type not in InteractionType.values:
        raise ValueError(f"Unknown event type {type!r}; expected one of {', '.join(InteractionType.values)}.")
    if "\x00" in query or "\x00" in widget or "\x00" in visitor:
        raise ValueError("An event's query, widget and visitor must not contain NUL characters.")
    authenticated = user is not None and user.is_authenticated
    if not authenticated and not visitor:
        raise ValueError("An event needs a logged-in user or an anonymous visitor id.")
    version_id = model_version.pk if isinstance(model_version, ModelVersion) else model_version
    if dedupe_key:
        existing = Interaction.objects.filter(dedupe_key=dedupe_key[:64]).first()
        if existing is not None:
            return existing
    try:
        with transaction.atomic():  # a concurrent insert of the same key must not break the caller's transaction
            event = Interaction.objects.create(
                user=user if authenticated else None,
                visitor="" if authenticated else visitor,
                product=product,
                type=type,
                ts=ts or timezone.now(),
                query=query[:500],
                widget=widget[:64],
                model_version_id=version_id,
                weight=DEFAULT_WEIGHTS[InteractionType(type)] if weight is None else weight,
                dedupe_key=dedupe_key[:64] if dedupe_key else None,
            )
    except IntegrityError:
        if not dedupe_key:
            raise
        return Interaction.objects.get(dedupe_key=dedupe_key[:64])
    if product is not None and shopguide_settings.REFRESH_USERS_ON_EVENT:
        from shopguide.services.incremental import schedule_user_refresh, schedule_visitor_refresh

        if authenticated and user is not None:
            schedule_user_refresh(user.pk)
        else:
            schedule_visitor_refresh(visitor)
    return event


def record_request_event(request: HttpRequest, *, type: str, **fields: Any) -> Interaction | None:
    """``record_event`` for the customer of ``request`` (user, or anonymous visitor).

    Returns None for an anonymous visitor when ``SHOPGUIDE['TRACK_ANONYMOUS']`` is off.
    """
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return record_event(type=type, user=user, **fields)
    if not shopguide_settings.TRACK_ANONYMOUS:
        return None
    return record_event(type=type, visitor=visitor_id(request) or "", **fields)


def record_product_view(request: HttpRequest, product: Model) -> Interaction | None:
    """Call from a product page view to track the view (the demo shop does)."""
    return record_request_event(request, type=InteractionType.VIEW, product=product)


def merge_visitor_history(*, visitor: str, user: AbstractBaseUser) -> int:
    """Give an anonymous visitor's events to ``user``; returns how many moved."""
    if not visitor:
        return 0
    moved = Interaction.objects.filter(visitor=visitor, user__isnull=True).update(user=user, visitor="")
    if moved:
        logger.info("Merged %d guest events into user %s", moved, user.pk)
        ShopperList.objects.filter(visitor=visitor, user__isnull=True).delete()  # the history is the user's now
        if shopguide_settings.REFRESH_USERS_ON_EVENT:
            from shopguide.services.incremental import schedule_user_refresh

            schedule_user_refresh(user.pk)  # their history grew: a new vector and list
    return moved


@dataclass(frozen=True)
class PastEvent:
    """One event of a shop's own history, for ``store_past_events``. ``dedupe_key`` is required:
    it is what makes importing the same history twice add nothing."""

    type: str
    ts: dt.datetime
    dedupe_key: str
    product_id: Any = None
    user_id: Any = None
    visitor: str = ""
    query: str = ""


def store_past_events(events: Iterable[PastEvent], *, batch_size: int = 2000) -> tuple[int, int]:
    """Store a shop's past events in bulk (e.g. history kept by another app) and return
    (stored, already present). An event whose ``dedupe_key`` is stored already is skipped, so
    re-running an import adds nothing twice. No customer refresh is scheduled: retrain after.
    Raises ValueError for an unknown type or an event with neither user nor visitor."""
    stored = present = 0
    batch: list[Interaction] = []

    def flush() -> None:
        nonlocal stored, present
        keys = [row.dedupe_key for row in batch]
        with transaction.atomic():
            seen = set(Interaction.objects.filter(dedupe_key__in=keys).values_list("dedupe_key", flat=True))
            fresh = []
            for row in batch:
                if row.dedupe_key not in seen:
                    seen.add(row.dedupe_key)
                    fresh.append(row)
            Interaction.objects.bulk_create(fresh, ignore_conflicts=True)
        stored += len(fresh)
        present += len(batch) - len(fresh)
        batch.clear()

    for event in events:
        if event.type not in InteractionType.values:
            raise ValueError(f"Unknown event type {event.type!r}.")
        if event.user_id is None and not event.visitor:
            raise ValueError("A past event needs a user or a visitor id.")
        batch.append(
            Interaction(
                user_id=event.user_id,
                visitor="" if event.user_id is not None else event.visitor[:64],
                product_id=event.product_id,
                type=event.type,
                ts=event.ts,
                query=event.query[:500],
                weight=DEFAULT_WEIGHTS[InteractionType(event.type)],
                dedupe_key=event.dedupe_key[:64],
            )
        )
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    return stored, present

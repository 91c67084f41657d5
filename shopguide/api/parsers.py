"""A JSON parser with a bound on nesting.

Python's decoder recurses once per ``[`` or ``{``: a 20 kB body of 10,000 ``[`` exhausts the
stack (RecursionError, a 500), and a body well under that depth still costs a deep walk in every
serializer. No shopguide endpoint takes more than a flat object, so anything nested deeper than
MAX_JSON_DEPTH is refused as a parse error (400) before a serializer sees it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_JSON_DEPTH = 32


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        # DRF streams a JSON body past Django's DATA_UPLOAD_MAX_MEMORY_SIZE check (only
        # request.body and forms apply it): the same limit, applied before reading.
        request = (parser_context or {}).get("request")
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        length = _content_length(request)
        if limit is not None and length > limit:
            raise ParseError(f"The request body is {length:,} bytes; the limit is {limit:,} bytes.")
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested more than {MAX_JSON_DEPTH} levels deep.") from None
        if too_deep(data, MAX_JSON_DEPTH):
            raise ParseError(f"JSON parse error - nested more than {MAX_JSON_DEPTH} levels deep.")
        return data


def too_deep(value: Any, limit: int) -> bool:
    """True when ``value`` (decoded JSON) has containers nested more than ``limit`` levels deep.
    Iterative, so a deep value cannot exhaust the stack here either."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children: Iterable[Any]
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _content_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
    except ValueError:
        return 0

"""Server-sent events: one way every streaming route answers."""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable
from typing import Any

from sse_starlette import EventSourceResponse
from starlette.concurrency import iterate_in_threadpool

__all__ = ["event_stream"]

PING_S = 15
"""A comment line this often keeps proxies from closing a quiet stream."""


def event_stream(messages: Iterable[dict[str, Any]] | AsyncIterable[dict[str, Any]]
                 ) -> EventSourceResponse:
    """An SSE response of ``messages`` (dicts for sse-starlette: ``data``, ``event``, ``id``);
    a blocking iterator is read on the thread pool."""
    if not isinstance(messages, AsyncIterable):
        messages = iterate_in_threadpool(messages)
    return EventSourceResponse(messages, ping=PING_S)

"""What routes ask of a request, in one place: the caller (the owner of its API key), the base
URL links are made from, the host names this server answers to, and each endpoint's service
(kept on ``app.state`` by :func:`~mmagent.serving.app.create_app`).

>>> from mmagent.serving._deps import Owner, service               # doctest: +SKIP
>>> Chat = Annotated[ChatService, service("chat")]                 # doctest: +SKIP
>>> async def models(_who: Owner, chat: Chat): ...                 # doctest: +SKIP
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Request

__all__ = ["Owner", "BaseURL", "OwnHosts", "service", "base_url_of", "own_hosts_of"]


def base_url_of(request: Any) -> str:
    """The URL the client reached this server at (links are made from it, unless
    ``serving.public_url`` is set)."""
    return str(request.base_url).rstrip("/")


def own_hosts_of(request: Any, public_url: str | None) -> set[str]:
    """The host names a link to this server may carry: what the client called it, and the
    host of ``serving.public_url``."""
    hosts = {request.headers.get("host", "").lower(), request.url.netloc.lower()}
    if public_url:
        hosts.add(urlsplit(public_url).netloc.lower())
    return hosts - {""}


def _owner(request: Request) -> str:
    return request.app.state.keys.owner(request.headers.get("authorization"))


async def _base_url(request: Request) -> str:
    return base_url_of(request)


async def _own_hosts(request: Request) -> set[str]:
    return own_hosts_of(request, request.app.state.agent.settings.public_url)


def service(name: str) -> Any:
    """A dependency on the service kept as ``app.state.<name>``."""

    async def get(request: Request) -> Any:
        return getattr(request.app.state, name)

    return Depends(get)


Owner = Annotated[str, Depends(_owner)]
"""The caller: the sha256 of its API key (AuthError, 401, without a valid one)."""
BaseURL = Annotated[str, Depends(_base_url)]
OwnHosts = Annotated[set[str], Depends(_own_hosts)]

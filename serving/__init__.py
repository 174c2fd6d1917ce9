"""Serving layer (installed as ``mmagent.serving``): transports over the core, never the other
way round. One folder per HTTP endpoint (``chat/``, ``responses/``, ``workflows/``, ``files/``,
``runs/``, ``mcp/``, ``web/``, ``ops/``), each with its ``protocol``, ``service`` and
``routes``; the services share one :class:`AgentService`; ``app.py`` only assembles them;
``ray/`` holds the Ray Serve deployments.

- ``mmagent serve``: embedded, one process (:func:`build_app`, :func:`serve_embedded`).
- ``mmagent serve --ray``: one Ray Serve deployment per tool plus an ingress
  (:mod:`mmagent.serving.ray.deployments`).

Names load lazily, so ``import mmagent.serving`` stays light (no FastAPI or Ray unless used).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mmagent.serving._agent import AgentService
    from mmagent.serving.app import create_app
    from mmagent.serving.server import ServerThread, build_app, serve_embedded

__all__ = ["build_app", "serve_embedded", "create_app", "AgentService", "ServerThread"]

_WHERE = {"build_app": ".server", "serve_embedded": ".server", "ServerThread": ".server",
          "create_app": ".app", "AgentService": "._agent"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

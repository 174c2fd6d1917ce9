"""Serving layer (installed as ``mmagent.serving``): the HTTP API, Ray Serve deployments and
the remote client
(:class:`Client` and :class:`ServingSettings` live in the core, :mod:`mmagent.client` and
:mod:`mmagent.serving_settings`, re-exported here).

- ``mmagent serve``: embedded, one process (:func:`build_app`, :func:`serve_embedded`).
- ``mmagent serve --ray``: one Ray Serve deployment per tool plus an ingress
  (:mod:`mmagent.serving.ray_app`).
- :class:`Client`: the remote SDK, with ``run`` and ``stream`` like :class:`mmagent.Agent`.

Names load lazily, so ``import mmagent`` stays light (no FastAPI or Ray unless used).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["Client", "build_app", "serve_embedded", "create_app", "ChatService", "ServerThread",
           "ServingSettings"]

_WHERE = {"Client": "mmagent.client", "build_app": ".server", "serve_embedded": ".server",
          "ServerThread": ".server", "create_app": ".app", "ChatService": ".service",
          "ServingSettings": "mmagent.serving_settings"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

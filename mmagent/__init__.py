"""mmagent: an LLM schedules multimodal work.

The public API is small; everything else lives in subpackages named by job (``plan``,
``planner``, ``execution``, ``workflows``, ``artifacts``, ``config``, ``client``, ``cli``,
``toolkit``, ``runs``, ``stores``). Names load on first use, so ``import mmagent`` stays light.

>>> from mmagent import Agent
>>> agent = Agent()                       # doctest: +SKIP
>>> agent.run("Describe this photo and say it aloud.", images=["photo.png"])  # doctest: +SKIP
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mmagent.agent import Agent, ProducedArtifact, RunResult
    from mmagent.artifacts import ArtifactRef, ArtifactStore, AudioRef, ImageRef, VideoRef
    from mmagent.client import Client
    from mmagent.config import Config
    from mmagent.errors import MMAgentError
    from mmagent.plan import Plan, Task
    from mmagent.toolkit import PipelineTool, Resources, Tool, ToolContext, ToolRegistry, tool
    from mmagent.workflows import Workflow

__all__ = ["Agent", "RunResult", "ProducedArtifact", "Client", "Config", "Plan", "Task",
           "Workflow", "Tool", "PipelineTool", "tool", "ToolContext", "Resources", "ToolRegistry",
           "ArtifactRef", "ImageRef", "AudioRef", "VideoRef", "ArtifactStore", "MMAgentError"]
__version__ = "0.1.0"

_WHERE = {"Agent": "agent", "RunResult": "agent", "ProducedArtifact": "agent",
          "Client": "client", "Config": "config", "Plan": "plan", "Task": "plan",
          "Workflow": "workflows", "Tool": "toolkit", "PipelineTool": "toolkit",
          "tool": "toolkit", "ToolContext": "toolkit", "Resources": "toolkit",
          "ToolRegistry": "toolkit", "ArtifactRef": "artifacts", "ImageRef": "artifacts",
          "AudioRef": "artifacts", "VideoRef": "artifacts", "ArtifactStore": "artifacts",
          "MMAgentError": "errors"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f"mmagent.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'mmagent' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])

"""mmagent: an LLM schedules multimodal work.

>>> from mmagent import Agent
>>> agent = Agent()                       # doctest: +SKIP
>>> agent.run("Describe this photo and say it aloud.", images=["photo.png"])  # doctest: +SKIP
"""

from .agent import Agent, ProducedArtifact, RunResult
from .artifacts import ArtifactRef, ArtifactStore, AudioRef, ImageRef, VideoRef
from .client import Client  # the remote SDK
from .config import Config
from .errors import MMAgentError
from .plan import Plan, Task
from .registry import ToolRegistry
from .tool import Resources, Tool, ToolContext

__all__ = [
    "Agent",
    "RunResult",
    "ProducedArtifact",
    "Config",
    "Plan",
    "Task",
    "Tool",
    "ToolContext",
    "Resources",
    "ToolRegistry",
    "ArtifactRef",
    "ImageRef",
    "AudioRef",
    "VideoRef",
    "ArtifactStore",
    "MMAgentError",
    "Client",
]
__version__ = "0.1.0"

"""``mmagent.yaml``: typed configuration, validated at start-up, with errors naming the key.

:class:`Config` holds every section; each section is a pydantic model with ``extra="forbid"``.

>>> from mmagent.config import Config
>>> Config.from_dict({"planner": {"retrieval_k": 4}}).planner.retrieval_k
4
"""

from mmagent.config._config import (
    PROFILES,
    ApprovalConfig,
    Config,
    ExecutorConfig,
    GroundingConfig,
    PlannerConfig,
    RouterConfig,
    RuntimeConfig,
    TaskPolicyConfig,
    ToolConfig,
    WorkerConfig,
)
from mmagent.config._mcp import McpServerConfig
from mmagent.config._serving import ServingSettings
from mmagent.config._stores import ArtifactStoreConfig, StateStoreConfig, StoresConfig
from mmagent.config._telemetry import TelemetryConfig

__all__ = ["Config", "PROFILES", "ToolConfig", "PlannerConfig", "GroundingConfig",
           "RouterConfig", "RuntimeConfig", "ExecutorConfig", "TaskPolicyConfig",
           "ApprovalConfig", "WorkerConfig", "ServingSettings", "StoresConfig",
           "StateStoreConfig", "ArtifactStoreConfig", "McpServerConfig", "TelemetryConfig"]

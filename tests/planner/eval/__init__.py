"""The planner evaluation: requests written as users write them, in two tables by two authors
who saw neither the planner nor its bank (``requests.yaml``; ``requests_more.yaml``, written
later by an author who saw only the tools' cards), tools with no demonstration
(``new_tools.yaml``: the MCP server ``office`` and two Python tools), and a fixed dev/test split
of each table (``split.yaml``, made before any tuning on it). Tune on dev only; the test split is
reported by category.

``python -m tests.planner.eval --split dev`` prints the scores (``--rows`` lists each row,
``--json`` one object, ``--table requests_more.yaml`` one table's rows).
"""

from __future__ import annotations

import sys
from pathlib import Path

from mmagent import Agent, Config
from mmagent.toolkit import ToolRegistry
from tests.planner.eval.tools import EVAL_TOOLS, OcrReadStandIn

HERE = Path(__file__).parent
TABLES = (HERE / "requests.yaml", HERE / "requests_more.yaml")
SPLIT = HERE / "split.yaml"
OFFICE = HERE / "office_server.py"


def eval_config(cache_dir: str | Path, **planner: object) -> Config:
    """The offline profile with the ``office`` MCP server joined through ``mcp_servers:``."""
    return Config.from_dict({
        "cache_dir": str(cache_dir),
        "mcp_servers": {"office": {"command": sys.executable, "args": [str(OFFICE)]}},
        "planner": dict(planner)}, profile="offline")


def eval_registry(config: Config) -> ToolRegistry:
    """The built-in tools, the user's Python tools and (until the real one is merged) the
    ``ocr_read`` stand-in; the agent adds the MCP server's tools."""
    registry = ToolRegistry.discover({n: tc.kwargs() for n, tc in config.tools.items()},
                                     cache_dir=config.cache_dir)
    for tool in EVAL_TOOLS:
        registry.register(tool)
    if "ocr_read" not in registry:
        registry.register(OcrReadStandIn)
    return registry


def eval_agent(cache_dir: str | Path, **planner: object) -> Agent:
    config = eval_config(cache_dir, **planner)
    return Agent(config, registry=eval_registry(config))

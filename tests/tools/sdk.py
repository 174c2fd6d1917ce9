"""Run one scripted plan through the SDK (``Agent`` on the offline profile), as a user would."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mmagent import Agent, Config
from tests.planner.test_planner import Scripted


def run_plan(tmp_path: Path, tasks: list[dict[str, Any]], deliver: tuple[str, ...],
             prompt: str = "do it", **media: Any):
    """``Agent.run`` with a planner backend that answers ``tasks``; returns the RunResult.

    Tiny checkpoints come from the test run's shared cache; the store is per test.
    """
    cfg = Config.from_dict({"cache_dir": os.environ["MMAGENT_CACHE"],
                            "store_dir": str(tmp_path / "agent-store"),
                            # the scripted plan: never vlm_chat, never a grounded plan
                            "router": {"mode": "plan"},
                            "planner": {"grounding": {"enabled": False}}},
                           profile="offline")
    agent = Agent(cfg, planner_backend=Scripted(json.dumps({"tasks": tasks}), deliver=deliver))
    return agent.run(prompt, **media)

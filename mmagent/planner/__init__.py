"""The LLM as scheduler: the router, the planner (grounded in the demonstration bank and the
tool cards, or the LLM under a plan schema), re-planning after a failure, and the chat
backends it talks to. It returns plans and runs nothing.

>>> from mmagent.planner import PlanResult
>>> PlanResult.__name__
'PlanResult'
"""

from mmagent.planner._backends import ChatBackend, Completion, Message
from mmagent.planner._demos import Demo, DemoBank
from mmagent.planner._learn import learn, learned_bank_path, workflow_plan
from mmagent.planner._planner import Planner, PlanResult
from mmagent.planner._replan import run_with_replanning
from mmagent.planner._router import Route, Router

__all__ = ["Planner", "PlanResult", "Router", "Route", "run_with_replanning", "ChatBackend",
           "Completion", "Message", "Demo", "DemoBank", "learn", "learned_bank_path",
           "workflow_plan"]

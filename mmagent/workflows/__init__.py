"""Workflows: plans written by hand as YAML (typed inputs, nodes, ``when`` conditions,
``foreach`` fan-out, named outputs), validated like LLM plans and run without the LLM.

>>> from mmagent.workflows import find_workflows, load_workflow
>>> wf = load_workflow(find_workflows()["caption_and_speak"])  # a shipped one, graphs/
>>> list(wf.nodes), sorted(wf.outputs)
(['caption', 'say'], ['description', 'speech'])
"""

from typing import TYPE_CHECKING, Any

from mmagent.workflows._check import short_value
from mmagent.workflows._conditions import evaluate, parse_condition
from mmagent.workflows._convert import coerce_cli_value, plan_to_workflow
from mmagent.workflows._inputs import bind_inputs
from mmagent.workflows._library import (
    GRAPHS_DIR,
    SCHEMA_PATH,
    find_workflows,
    json_schema,
    resolve_workflow,
)
from mmagent.workflows._parse import load_workflow, parse_workflow
from mmagent.workflows._spec import Workflow, type_phrase

if TYPE_CHECKING:
    from mmagent.workflows._run import WorkflowOutcome, WorkflowRun

__all__ = ["Workflow", "load_workflow", "parse_workflow", "find_workflows", "resolve_workflow",
           "plan_to_workflow", "json_schema", "coerce_cli_value", "WorkflowRun",
           "WorkflowOutcome", "parse_condition", "evaluate", "GRAPHS_DIR", "SCHEMA_PATH",
           "bind_inputs", "type_phrase", "short_value"]


def __getattr__(name: str) -> Any:
    # the runner loads the executor (LangGraph): parsing and validating a file must not pay that
    if name in ("WorkflowRun", "WorkflowOutcome"):
        from mmagent.workflows import _run

        return getattr(_run, name)
    raise AttributeError(f"module 'mmagent.workflows' has no attribute {name!r}")

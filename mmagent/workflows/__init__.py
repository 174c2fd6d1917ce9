"""Workflows: plans written by hand as YAML (typed inputs, nodes, ``when`` conditions,
``foreach`` fan-out, named outputs), validated like LLM plans and run without the LLM.

>>> from mmagent.workflows import parse_workflow
>>> wf = parse_workflow('''
... version: 1
... inputs: {image: {type: image}}
... nodes:
...   caption: {tool: image_caption, args: {image: $input.image}}
... outputs: {caption: $caption.text}
... ''')
>>> list(wf.nodes)
['caption']
"""

from mmagent.workflows._conditions import evaluate, parse_condition
from mmagent.workflows._convert import coerce_cli_value, plan_to_workflow
from mmagent.workflows._library import (
    GRAPHS_DIR,
    SCHEMA_PATH,
    find_workflows,
    json_schema,
    resolve_workflow,
)
from mmagent.workflows._parse import load_workflow, parse_workflow
from mmagent.workflows._run import WorkflowOutcome, WorkflowRun
from mmagent.workflows._spec import Workflow

__all__ = ["Workflow", "load_workflow", "parse_workflow", "find_workflows", "resolve_workflow",
           "plan_to_workflow", "json_schema", "coerce_cli_value", "WorkflowRun",
           "WorkflowOutcome", "parse_condition", "evaluate", "GRAPHS_DIR", "SCHEMA_PATH"]

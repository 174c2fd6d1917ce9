"""Workflows over HTTP: the list with typed inputs, and runs by name (whole, or as events).

Transport-free; ``routes.py`` adapts it to HTTP. A workflow is also a chat or Responses model
(``workflow:<name>``), a runs API run and an MCP tool; those endpoints reach it through the
shared :class:`~mmagent.serving.AgentService`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

from mmagent.serving._agent import AgentService
from mmagent.serving.workflows.protocol import (
    WorkflowCard,
    WorkflowInput,
    WorkflowList,
    WorkflowRun,
    WorkflowRunRequest,
)

__all__ = ["WorkflowService"]


class WorkflowService:
    """Lists workflows and runs them for a caller."""

    def __init__(self, shared: AgentService) -> None:
        self.shared = shared

    def list(self) -> WorkflowList:
        data = []
        for name in self.shared.workflow_names():
            wf = self.shared.workflow(name)
            data.append(WorkflowCard(name=name, description=wf.description or "", inputs={
                n: WorkflowInput(type=str(i.type), required=bool(i.required), default=i.default,
                                 description=i.description) for n, i in wf.inputs.items()}))
        return WorkflowList(data=data)

    def inputs(self, name: str, body: WorkflowRunRequest, owner: str, own_hosts: set[str]
               ) -> dict[str, Any]:
        """The run's input values, media stored and owned by ``owner``; UnknownModelError for
        an unknown workflow."""
        self.shared.check_workflow(name)
        return self.shared.workflow_inputs(name, body.inputs, owner, own_hosts)

    def run(self, name: str, inputs: dict[str, Any], owner: str, base_url: str) -> WorkflowRun:
        summary = self.shared.summarize(self.shared.workflow_events(name, inputs, owner),
                                        self.shared.linker(base_url))
        return WorkflowRun(id="run-" + uuid.uuid4().hex[:24], workflow=name,
                           created=int(time.time()), answer=summary.answer, **summary.extras())

    def events(self, name: str, inputs: dict[str, Any], owner: str) -> Iterator[dict[str, str]]:
        """SSE messages: each event as ``event: mmagent``, then ``[DONE]``."""
        for event in self.shared.workflow_events(name, inputs, owner):
            yield {"event": "mmagent", "data": event.model_dump_json()}
        yield {"data": "[DONE]"}

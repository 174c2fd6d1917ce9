"""``GET /v1/workflows`` and ``POST /v1/workflows/{name}/runs``, thin over
:class:`~mmagent.serving.workflows.service.WorkflowService`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from mmagent.serving._deps import BaseURL, Owner, OwnHosts, service
from mmagent.serving._sse import event_stream
from mmagent.serving.workflows.protocol import WorkflowList, WorkflowRunRequest
from mmagent.serving.workflows.service import WorkflowService

__all__ = ["router"]

router = APIRouter()
Workflows = Annotated[WorkflowService, service("workflows")]


@router.get("/v1/workflows")
async def list_workflows(_who: Owner, workflows: Workflows) -> WorkflowList:
    """Every workflow with its typed inputs (what a form needs)."""
    return workflows.list()


@router.post("/v1/workflows/{name}/runs")
async def run_workflow(name: str, body: WorkflowRunRequest, who: Owner, base_url: BaseURL,
                       own_hosts: OwnHosts, workflows: Workflows):
    inputs = await run_in_threadpool(workflows.inputs, name, body, who, own_hosts)
    if not body.stream:
        return await run_in_threadpool(workflows.run, name, inputs, who, base_url)
    return event_stream(workflows.events(name, inputs, who))

"""``POST /v1/responses``, thin over
:class:`~mmagent.serving.responses.service.ResponsesService`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from mmagent.serving._deps import BaseURL, Owner, OwnHosts, service
from mmagent.serving._sse import event_stream
from mmagent.serving.responses.protocol import ResponseCreateRequest
from mmagent.serving.responses.service import ResponsesService

__all__ = ["router"]

router = APIRouter()
Responses = Annotated[ResponsesService, service("responses")]


@router.post("/v1/responses")
async def create_response(req: ResponseCreateRequest, who: Owner, base_url: BaseURL,
                          own_hosts: OwnHosts, responses: Responses):
    workflow = responses.check_model(req.model)
    parsed = await run_in_threadpool(responses.parse, req, who, own_hosts)
    if not req.stream:
        return await run_in_threadpool(responses.create, req, workflow, parsed, who, base_url)
    return event_stream(responses.events(req, workflow, parsed, who, base_url))

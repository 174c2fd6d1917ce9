"""HTTP routes of the runs API, thin over :class:`~mmagent.serving.runs.service.RunService`.

``POST /v1/runs``, ``GET /v1/runs``, ``GET /v1/runs/{id}``, ``GET /v1/runs/{id}/events`` (SSE,
resumable with ``Last-Event-ID``), ``POST /v1/runs/{id}/cancel``, ``POST /v1/runs/{id}/approve``.
A run of another API key is answered 404, as a missing one.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from mmagent.errors import InputError
from mmagent.runs import RunApprove, RunCreate, RunInfo, RunList
from mmagent.serving._deps import BaseURL, Owner, OwnHosts, service
from mmagent.serving._sse import event_stream
from mmagent.serving.runs.service import RunService

__all__ = ["router"]

router = APIRouter()
Runs = Annotated[RunService, service("runs")]


@router.post("/v1/runs")
async def create_run(body: RunCreate, who: Owner, own_hosts: OwnHosts,
                     runs: Runs) -> dict[str, str]:
    return await run_in_threadpool(runs.create, body, who, own_hosts)


@router.get("/v1/runs")
async def list_runs(who: Owner, base_url: BaseURL, runs: Runs) -> RunList:
    return RunList(data=await run_in_threadpool(runs.list, who, base_url))


@router.get("/v1/runs/{run_id}")
async def get_run(run_id: str, who: Owner, base_url: BaseURL, runs: Runs) -> RunInfo:
    return await run_in_threadpool(runs.get, run_id, who, base_url)


@router.get("/v1/runs/{run_id}/events")
async def run_events(run_id: str, who: Owner, runs: Runs,
                     last_event_id: str | None = Header(None)) -> EventSourceResponse:
    after = 0
    if last_event_id is not None:
        if not last_event_id.strip().isdigit() or len(last_event_id) > 12:
            raise InputError(f"got Last-Event-ID {last_event_id[:20]!r}; expected the number "
                             "of an event of this run", param="Last-Event-ID")
        after = int(last_event_id)
    stream = runs.events(run_id, who, after)
    first = await anext(stream, None)  # an unknown run is a 404, not an empty stream

    async def messages():
        if first is not None:
            yield first
            async for message in stream:
                yield message

    return event_stream(messages())


@router.post("/v1/runs/{run_id}/cancel")
async def cancel_run(run_id: str, who: Owner, base_url: BaseURL, runs: Runs) -> RunInfo:
    return await run_in_threadpool(runs.cancel, run_id, who, base_url)


@router.post("/v1/runs/{run_id}/approve")
async def approve_run(run_id: str, body: RunApprove, who: Owner, base_url: BaseURL,
                      runs: Runs) -> RunInfo:
    return await run_in_threadpool(runs.approve, run_id, body, who, base_url)

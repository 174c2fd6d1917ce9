"""Operators' endpoints: ``GET /healthz`` (up, and with which tools) and ``GET /metrics``
(Prometheus: requests, latency, tool calls and errors). Neither needs an API key."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from fastapi.responses import Response

from mmagent.serving._agent import AgentService
from mmagent.serving._deps import service

__all__ = ["router"]

router = APIRouter()
Shared = Annotated[AgentService, service("agent")]


@router.get("/healthz")
async def healthz(shared: Shared) -> dict[str, Any]:
    return shared.health()


@router.get("/metrics")
async def metrics(shared: Shared) -> Response:
    return Response(shared.metrics.render(), media_type="text/plain; version=0.0.4")

"""Shapes of ``GET /v1/workflows`` and ``POST /v1/workflows/{name}/runs``.

>>> WorkflowRunRequest.model_validate({"inputs": {"image": "artifact://" + "0" * 64}}).stream
False
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["WorkflowRunRequest", "WorkflowInput", "WorkflowCard", "WorkflowList", "WorkflowRun"]


class WorkflowRunRequest(BaseModel):
    """``POST /v1/workflows/{name}/runs``: values by input name (media as artifact links or
    data URLs)."""

    model_config = ConfigDict(extra="forbid")

    inputs: dict[str, Any] = Field(default_factory=dict)
    stream: bool = False


class WorkflowInput(BaseModel):
    type: str = Field(description="text, image, list[image], integer, ...")
    required: bool
    default: Any = None
    description: str | None = None


class WorkflowCard(BaseModel):
    name: str
    description: str = ""
    inputs: dict[str, WorkflowInput] = Field(default_factory=dict)


class WorkflowList(BaseModel):
    """Every workflow with its typed inputs (what the web page's form is made from)."""

    object: Literal["list"] = "list"
    data: list[WorkflowCard]


class WorkflowRun(BaseModel):
    """A finished run of a workflow: its answer with links, and what it planned and made."""

    id: str
    object: Literal["workflow.run"] = "workflow.run"
    workflow: str
    created: int
    answer: str
    plan: dict[str, Any] | None = None
    outputs: dict[str, Any] = Field(default_factory=dict)
    failures: dict[str, str] = Field(default_factory=dict)
    artifacts: list[dict[str, Any]] = Field(default_factory=list)

"""Request and response shapes of the runs API (``/v1/runs``), shared by the server and
:class:`mmagent.Client` (so the core does not import the serving layer).

>>> RunCreate.model_validate({"prompt": "Describe it", "images": ["artifact://" + "0" * 64]}).kind
'agent'
>>> RunCreate.model_validate({"workflow": "caption_and_speak", "inputs": {}}).kind
'workflow'
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mmagent.runs._status import RunStatus

__all__ = ["RunCreate", "RunApprove", "RunInfo", "RunList"]

_MAX_MEDIA = 32


class RunCreate(BaseModel):
    """``POST /v1/runs``: a workflow with its inputs, or a prompt with media.

    Media are data URLs, uploaded file ids (``POST /v1/files``), ``artifact://<id>`` or links to
    ``/v1/artifacts/<id>`` on this server.
    """

    model_config = ConfigDict(extra="forbid")

    workflow: str | None = Field(None, max_length=200, description="a workflow name "
                                 "(GET /v1/models lists them as workflow:<name>)")
    inputs: dict[str, Any] = Field(default_factory=dict, description="the workflow's inputs; "
                                   "media as data URLs, file ids or artifact links")
    prompt: str | None = Field(None, max_length=100_000, description="a request in words")
    images: list[str] = Field(default_factory=list, max_length=_MAX_MEDIA)
    audio: list[str] = Field(default_factory=list, max_length=_MAX_MEDIA)
    video: list[str] = Field(default_factory=list, max_length=_MAX_MEDIA)

    @model_validator(mode="after")
    def _one_kind(self) -> RunCreate:
        if (self.workflow is None) == (self.prompt is None):
            raise ValueError("expected exactly one of 'workflow' (with 'inputs') or 'prompt' "
                             "(with 'images', 'audio', 'video')")
        if self.workflow is not None and (self.images or self.audio or self.video):
            raise ValueError("got media lists with a workflow; expected a workflow's media "
                             "among its 'inputs'")
        if self.prompt is not None and self.inputs:
            raise ValueError("got 'inputs' with a prompt; expected 'inputs' only with "
                             "'workflow'")
        return self

    @property
    def kind(self) -> Literal["agent", "workflow"]:
        return "workflow" if self.workflow is not None else "agent"


class RunApprove(BaseModel):
    """``POST /v1/runs/{id}/approve``: yes or no for every waiting task, or per task id."""

    model_config = ConfigDict(extra="forbid")

    approve: bool | dict[str, bool] = Field(description="true/false for every waiting task, "
                                            "or {task_id: true/false}")


class RunInfo(BaseModel):
    """``GET /v1/runs/{id}``: a run's status and, once known, its plan and results."""

    model_config = ConfigDict(extra="ignore")

    id: str
    object: Literal["run"] = "run"
    status: RunStatus
    created_at: float
    updated_at: float
    workflow: str | None = None
    prompt: str | None = None
    cancel_requested: bool = Field(False, description="a cancel was asked while it ran")
    answer: str | None = None
    plan: dict[str, Any] | None = None
    outputs: dict[str, Any] = Field(default_factory=dict)
    failures: dict[str, str] = Field(default_factory=dict)
    artifacts: list[dict[str, Any]] = Field(default_factory=list, description="{id, kind, "
                                            "mime, task, field, url} of produced media")
    pending_approval: list[dict[str, Any]] | None = Field(None, description="{task_id, tool, "
                                                          "reason} while awaiting_approval")
    pending_calls: list[dict[str, Any]] | None = Field(None, description="{call_id, task_id, "
                                                       "name, arguments} of the client's "
                                                       "functions while awaiting_client")
    error: dict[str, Any] | None = Field(None, description="{code, message} of a run that "
                                         "failed before or outside its tasks")


class RunList(BaseModel):
    object: Literal["list"] = "list"
    data: list[RunInfo]

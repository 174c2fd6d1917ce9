"""What one request produced: :class:`RunResult`, with the media it made as
:class:`ProducedArtifact` files.

>>> from mmagent.plan import Plan
>>> RunResult(answer="A fox.", plan=Plan()).status
'completed'
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mmagent.artifacts._store import ArtifactKind
from mmagent.errors import ToolExecutionError
from mmagent.execution._executor import ExecutionResult
from mmagent.plan._ir import Plan
from mmagent.runs._status import RunStatus

__all__ = ["RunResult", "ProducedArtifact", "run_fields"]


class ProducedArtifact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    kind: ArtifactKind
    path: str
    mime: str
    task: str = Field(description="id of the task that produced it")


class RunResult(BaseModel):
    """What one request produced."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    answer: str
    plan: Plan
    artifacts: list[ProducedArtifact] = Field(default_factory=list)
    outputs: dict[str, dict[str, Any]] = Field(default_factory=dict)
    failures: dict[str, str] = Field(default_factory=dict, description="task id -> error")
    named_outputs: dict[str, Any] = Field(default_factory=dict, description="a workflow's "
                                          "outputs by name (artifacts as ref dicts)")
    events: list[Any] = Field(default_factory=list, exclude=True)
    run_id: str = Field("", description="continue it with Agent.resume / mmagent resume")
    status: RunStatus = Field("completed", description="how the run ended (see "
                              ":mod:`mmagent.runs`): completed, failed, awaiting_approval, "
                              "awaiting_client or cancelled")
    skipped: dict[str, str] = Field(default_factory=dict, description="task id -> why it did "
                                    "not run")
    rejected: list[str] = Field(default_factory=list, description="tasks a human declined")
    cached: list[str] = Field(default_factory=list, description="tasks served from the cache")
    pending_approval: dict[str, Any] | None = Field(None, description="{run_id, tasks} while "
                                                    "status is awaiting_approval")
    pending_calls: list[dict[str, Any]] = Field(default_factory=list, description="{call_id, "
                                                "task_id, name, arguments} of the client's "
                                                "functions while status is awaiting_client")

    @property
    def ok(self) -> bool:
        return not self.failures

    def raise_for_failures(self) -> RunResult:
        """Raise :class:`ToolExecutionError` (carrying this result) if a task failed."""
        if self.failures:
            first = next(iter(self.failures.values()))
            raise ToolExecutionError(first, failures=self.failures).with_result(self)
        return self

    def to_json_dict(self) -> dict[str, Any]:
        """The shape ``mmagent run --json`` prints."""
        return {"answer": self.answer, "plan": self.plan.model_dump(mode="json"),
                "artifacts": [a.model_dump(include={"id", "kind", "path", "mime"})
                              for a in self.artifacts]}


def run_fields(result: ExecutionResult) -> dict[str, Any]:
    """The :class:`RunResult` fields that say how an execution ended."""
    pending = result.pending_approval
    return {"run_id": result.run_id, "status": result.status, "skipped": result.skip_reasons,
            "rejected": result.rejected, "cached": result.cached,
            "pending_calls": result.pending_calls,
            "pending_approval": None if pending is None else
            {"run_id": pending.run_id, "tasks": pending.tasks}}

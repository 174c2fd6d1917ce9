"""Events: one stream shared by the SDK, the CLI and HTTP (SSE).

Every event is a pydantic model with a ``type`` discriminator and ``ts`` (``time.time()``),
so a stream can be serialised as JSON lines and read back with :data:`EVENT_ADAPTER`.
"""

from __future__ import annotations

import contextvars
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from mmagent.artifacts._store import ArtifactRef
from mmagent.plan._ir import Plan

__all__ = [
    "Event",
    "PlanCreated",
    "TaskStarted",
    "TaskProgress",
    "TaskFinished",
    "TaskFailed",
    "ArtifactCreated",
    "AnswerReady",
    "EVENT_ADAPTER",
    "ToolUnloaded",
    "ApprovalRequested",
    "TaskRetrying",
    "RunStarted",
    "RouteChosen",
    "Replanned",
    "ClientCallRequested",
    "Replanning",
    "ReplanFailed",
]


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ts: float = Field(default_factory=time.time, description="wall-clock time, seconds")


class PlanCreated(_Event):
    type: Literal["plan"] = "plan"
    plan: Plan
    attempts: int = Field(1, description="planner calls it took, repairs included")
    cached: bool = Field(False, description="reused from the plan cache (no LLM call)")
    prompt_tokens: int = Field(0, description="tokens the planner's LLM read for this plan")
    completion_tokens: int = Field(0, description="tokens the planner's LLM wrote for it")


class TaskStarted(_Event):
    type: Literal["task_started"] = "task_started"
    task_id: str
    tool: str


class TaskProgress(_Event):
    type: Literal["task_progress"] = "task_progress"
    task_id: str
    step: int
    total: int
    message: str = ""


class TaskFinished(_Event):
    type: Literal["task_finished"] = "task_finished"
    task_id: str
    tool: str
    output: dict[str, Any]
    seconds: float
    cached: bool = Field(False, description="served from the result cache, not recomputed")
    batch_size: int = Field(1, description="calls the tool computed together in one batch "
                            "(concurrent calls to an in-process model tool are batched)")


class TaskFailed(_Event):
    type: Literal["task_failed"] = "task_failed"
    task_id: str
    tool: str
    code: str
    message: str


class ArtifactCreated(_Event):
    type: Literal["artifact"] = "artifact"
    task_id: str
    field: str
    artifact: ArtifactRef


class AnswerReady(_Event):
    type: Literal["answer"] = "answer"
    text: str
    artifacts: list[str] = Field(default_factory=list, description="ids of cited artifacts")


class ToolUnloaded(_Event):
    """A tool's model was unloaded to keep loaded models under ``runtime.memory_budget_gb``."""

    type: Literal["tool_unloaded"] = "tool_unloaded"
    tool: str
    freed_bytes: int = Field(description="measured (else estimated) bytes the tool held")
    for_tool: str = Field(description="the tool that needed the room")
    budget_bytes: int


class ApprovalRequested(_Event):
    """The run paused: the listed tasks wait for a human's yes or no."""

    type: Literal["approval_requested"] = "approval_requested"
    run_id: str
    tasks: list[dict[str, Any]] = Field(description="{task_id, tool, reason} per waiting task")


class TaskRetrying(_Event):
    type: Literal["task_retrying"] = "task_retrying"
    task_id: str
    tool: str
    attempt: int = Field(description="the attempt that failed, from 1")
    error: str
    delay_s: float = Field(description="wait before the next attempt")


class ClientCallRequested(_Event):
    """The run waits for a function the client runs itself (a client tool of the request):
    the client answers ``call_id`` with the function's output, and the run goes on."""

    type: Literal["client_call"] = "client_call"
    task_id: str
    tool: str
    call_id: str
    arguments: dict[str, Any] = Field(description="the function's arguments, as JSON")


class RunStarted(_Event):
    """The executor took the plan; ``run_id`` names the run for resume and cancel."""

    type: Literal["run_started"] = "run_started"
    run_id: str
    resumed: bool = False


class RouteChosen(_Event):
    """How the request is served: ``plan`` (the LLM plans a DAG of tools) or ``vlm`` (one
    ``vlm_chat`` call answers a plain question about the given images)."""

    type: Literal["route"] = "route"
    route: Literal["plan", "vlm"]
    reason: str = Field(description="why, in words")


class Replanned(_Event):
    """A task failed; the planner replaced the failed part of the plan, keeping the rest."""

    type: Literal["replanned"] = "replanned"
    attempt: int = Field(description="1 for the first re-plan of this run")
    failed: list[str] = Field(description="ids of the tasks that failed")
    dropped: list[str] = Field(description="ids of the tasks replaced (failed and dependents)")
    kept: list[str] = Field(description="ids of the tasks whose results are reused")
    plan: Plan = Field(description="the whole new plan: kept tasks, then new ones")
    prompt_tokens: int = Field(0, description="tokens the planner's LLM read for the re-plan")
    completion_tokens: int = Field(0, description="tokens the planner's LLM wrote for it")


class Replanning(_Event):
    """The planner is re-planning after a failure: sent when it starts, then every few seconds
    until it is done (or gives up at ``planner.replan_timeout_s``)."""

    type: Literal["replanning"] = "replanning"
    attempt: int = Field(description="1 for the first re-plan of this run")
    failed: list[str] = Field(description="ids of the tasks that failed")
    elapsed_s: float = Field(0.0, description="seconds since this re-plan began")


class ReplanFailed(_Event):
    """A re-plan gave up (its time ran out, the run was cancelled, or the planner found no
    valid plan); the run ends with the failure that started it."""

    type: Literal["replan_failed"] = "replan_failed"
    attempt: int = Field(description="1 for the first re-plan of this run")
    failed: list[str] = Field(description="ids of the tasks that failed")
    code: str = Field(description="the error code, e.g. planning.stopped")
    message: str = Field(description="why it gave up, in words")
    elapsed_s: float = Field(description="seconds the re-plan took")
    prompt_tokens: int = Field(0, description="tokens the planner's LLM read until it gave up")
    completion_tokens: int = Field(0, description="tokens the planner's LLM wrote until then")


Event = Annotated[
    PlanCreated | TaskStarted | TaskProgress | TaskFinished | TaskFailed | ArtifactCreated
    | AnswerReady | ToolUnloaded | ApprovalRequested | TaskRetrying | RunStarted | RouteChosen
    | Replanned | ClientCallRequested | Replanning | ReplanFailed,
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def iterate_events(work: Callable[[Callable[[Any], None]], Any]) -> Iterator[Any]:
    """Run ``work(emit)`` in a thread; yield what it emits; re-raise what it raises."""
    q: queue.Queue[Any] = queue.Queue()
    end = object()

    def target() -> None:
        try:
            work(q.put)
        except BaseException as e:  # re-raised in the consumer's thread
            q.put(e)
        q.put(end)

    # the caller's context (its open trace span) goes along, so the run's spans nest under it
    ctx = contextvars.copy_context()
    threading.Thread(target=ctx.run, args=(target,), name="mmagent-run", daemon=True).start()
    while (item := q.get()) is not end:
        if isinstance(item, BaseException):
            raise item
        yield item

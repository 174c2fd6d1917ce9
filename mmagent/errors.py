"""One error hierarchy for mmagent, with stable codes.

Every error a user can cause derives from :class:`MMAgentError`. Its ``code`` is stable across
releases (clients may branch on it); its message says what was given and what was expected.

>>> try:
...     raise UnknownToolError("no tool named 'paint'", task="t1", arg=None)
... except PlanValidationError as e:
...     (e.code, e.task)
('plan.unknown_tool', 't1')
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = [
    "MMAgentError",
    "InputError",
    "InputNotFoundError",
    "InvalidMediaError",
    "MediaLimitError",
    "MissingInputError",
    "UnknownInputError",
    "WrongKindError",
    "ConfigError",
    "PlanValidationError",
    "UnknownToolError",
    "DuplicateTaskError",
    "CycleError",
    "UnresolvedReferenceError",
    "TypeMismatchError",
    "ArgumentSchemaError",
    "PlanLimitError",
    "PlanningError",
    "PlanningStoppedError",
    "UnsupportedRequestError",
    "ToolError",
    "ToolLoadError",
    "ToolInputError",
    "ToolExecutionError",
    "ServingError",
    "WorkflowError",
    "WorkflowNotFoundError",
    "TaskTimeoutError",
    "PathRefusedError",
    "ConsentRequiredError",
    "RunError",
    "UnknownRunError",
    "RunFinishedError",
]


class MMAgentError(Exception):
    """Base of every mmagent error. ``code`` is stable; ``details`` is JSON-serialisable."""

    code: str = "mmagent.error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.details}

    def __str__(self) -> str:
        return self.message

    def within(self, where: str) -> MMAgentError:
        """This error, of the same class and details, its message prefixed with ``where``
        (what it was about, e.g. ``"input 'image' of workflow 'caption_and_speak'"``)."""
        err = copy.copy(self)
        err.message = f"{where}: {self.message}"
        err.args = (err.message,)
        return err


# --- input ----------------------------------------------------------------------------------


class InputError(MMAgentError):
    """A file, media item or argument given by the user is not acceptable."""

    code = "input.invalid"


class InputNotFoundError(InputError):
    code = "input.not_found"


class InvalidMediaError(InputError):
    """The bytes do not decode as the declared kind of media."""

    code = "input.invalid_media"


class MediaLimitError(InputError):
    """The media decodes but exceeds a configured limit (bytes, pixels, seconds)."""

    code = "input.limit_exceeded"


class MissingInputError(InputError):
    """A required input of a workflow was not given. Details: workflow, inputs (the names)."""

    code = "input.missing"


class UnknownInputError(InputError):
    """An input a workflow does not declare. Details: workflow, inputs (the names)."""

    code = "input.unknown"


class WrongKindError(InputError):
    """A value or file of another kind than the one expected: an audio file where an image
    is declared, a word where a number is."""

    code = "input.wrong_kind"


class PathRefusedError(InputError):
    """A server path a remote caller named (e.g. a folder to search) that it may not read."""

    code = "input.path_refused"


class ConsentRequiredError(InputError):
    """A file's embedded workflow that the user did not agree to run."""

    code = "input.consent_required"


class ConfigError(MMAgentError):
    code = "config.invalid"


# --- plans ----------------------------------------------------------------------------------


class PlanValidationError(MMAgentError):
    """A plan (from an LLM or a workflow file) is not runnable. Names the task and argument."""

    code = "plan.invalid"

    def __init__(self, message: str, *, task: str | None = None, arg: str | None = None,
                 **details: Any) -> None:
        super().__init__(message, task=task, arg=arg, **details)
        self.task = task
        self.arg = arg


class UnknownToolError(PlanValidationError):
    code = "plan.unknown_tool"


class DuplicateTaskError(PlanValidationError):
    code = "plan.duplicate_task"


class CycleError(PlanValidationError):
    code = "plan.cycle"


class UnresolvedReferenceError(PlanValidationError):
    code = "plan.unresolved_reference"


class TypeMismatchError(PlanValidationError):
    code = "plan.type_mismatch"


class ArgumentSchemaError(PlanValidationError):
    code = "plan.argument_schema"


class PlanLimitError(PlanValidationError):
    """A plan or workflow is larger than a configured limit (``limits.max_tasks``,
    ``limits.max_foreach``); checked before anything else. Details: limit, got, expected."""

    code = "plan.limit_exceeded"


class PlanningError(MMAgentError):
    """The planner could not produce a valid plan within its repair budget."""

    code = "planning.failed"


class PlanningStoppedError(PlanningError):
    """The planner's LLM was told to stop (its time ran out, or the run was cancelled) and
    stopped generating. ``details`` holds the tokens it read and wrote until then."""

    code = "planning.stopped"


class UnsupportedRequestError(PlanningError):
    """No registered tool can serve the request (e.g. "book me a flight"): a typed refusal,
    never a guessed tool. Details: ``closest``, the tools nearest the request, best first."""

    code = "plan.unsupported"


# --- tools ----------------------------------------------------------------------------------


class ToolError(MMAgentError):
    code = "tool.error"


class ToolLoadError(ToolError):
    """A checkpoint could not be loaded (missing, offline, wrong architecture)."""

    code = "tool.load_failed"


class ToolInputError(ToolError, InputError):
    """A tool's input is outside its declared bounds (checked before any model runs)."""

    code = "tool.bad_input"


class ToolExecutionError(ToolError):
    """A task failed while running. ``result`` holds what the run produced before it failed."""

    code = "tool.failed"
    result: Any = None

    def with_result(self, result: Any) -> ToolExecutionError:
        self.result = result
        return self


class ServingError(MMAgentError):
    code = "serving.error"


# --- workflows ------------------------------------------------------------------------------


class WorkflowError(PlanValidationError):
    """A workflow file is malformed (YAML, unknown key, bad name). Details: file, line, node."""

    code = "workflow.invalid"


class WorkflowNotFoundError(InputNotFoundError):
    """No shipped or configured workflow has that name, and it is no file either."""

    code = "workflow.not_found"


# --- runs (executor) ---------------------------------------------------------------------------


class TaskTimeoutError(ToolExecutionError):
    """A task ran past its time limit; its result, if it ever comes, is discarded."""

    code = "tool.timeout"


class RunError(MMAgentError):
    code = "run.error"


class UnknownRunError(RunError):
    """No run with this id is recorded in the checkpoint database."""

    code = "run.unknown"


class RunFinishedError(RunError):
    """The run already finished; there is nothing to resume."""

    code = "run.finished"


class UnknownCallError(UnknownRunError):
    """An answer names a function call of the client that no recorded run made."""

    code = "run.unknown_call"


class CallAnsweredError(RunError):
    """A function call of the client that was answered already: a run takes one answer per
    call."""

    code = "run.call_answered"


class ToolMemoryError(ToolLoadError):
    """A tool whose measured size alone exceeds ``runtime.memory_budget_gb``: it can never fit."""

    code = "tool.over_budget"


# --- stores ---------------------------------------------------------------------------------


class StoreError(MMAgentError):
    """A shared store (Postgres, S3) did not answer or refused an operation."""

    code = "store.unavailable"

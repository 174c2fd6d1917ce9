"""Approval: which tools wait for a human's yes, the question a paused run asks, and how an
answer (one yes/no, or one per task) becomes a decision per task.

>>> answer_for({"t1": True}, ["t1", "t2"])
{'t1': True, 't2': False}
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mmagent.toolkit._base import Tool

__all__ = ["ApprovalPolicy", "ApprovalRequest", "Approve", "answer_for"]


@dataclass(frozen=True)
class ApprovalPolicy:
    """Which tools wait for a human's yes before they run.

    >>> ApprovalPolicy(tools=("image_generate",)).reason(type("T", (), {"name": "image_generate"}))
    'tool image_generate needs approval'
    """

    tools: tuple[str, ...] = ()
    gpu_memory_gb: float | None = None
    """Ask before tools whose declared ``resources.gpu_memory_gb`` is at least this."""

    def reason(self, tool_cls: type[Tool]) -> str | None:
        if tool_cls.name in self.tools:
            return f"tool {tool_cls.name} needs approval"
        res = getattr(tool_cls, "resources", None)
        if self.gpu_memory_gb is not None and res is not None and \
                res.gpu_memory_gb >= self.gpu_memory_gb:
            return (f"tool {tool_cls.name} declares {res.gpu_memory_gb:g} GB of GPU memory "
                    f"(approval threshold {self.gpu_memory_gb:g} GB)")
        return None


@dataclass
class ApprovalRequest:
    """A paused run's question: may these tasks run? Answer True/False, or {task_id: bool}."""

    run_id: str
    tasks: list[dict[str, Any]]
    """{task_id, tool, reason, args} per waiting task."""

    @property
    def task_ids(self) -> list[str]:
        return [t["task_id"] for t in self.tasks]


Approve = Callable[[ApprovalRequest], "bool | dict[str, bool]"]
"""A callback that answers an :class:`ApprovalRequest` in-process."""


def answer_for(answer: Any, task_ids: list[str]) -> dict[str, bool]:
    """Each task's yes or no in ``answer`` (one bool for all, or {task_id: bool}; a task the
    dict leaves out is a no)."""
    if isinstance(answer, dict):
        return {t: bool(answer.get(t, False)) for t in task_ids}
    return {t: bool(answer) for t in task_ids}

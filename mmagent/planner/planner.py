"""The planner: the LLM as scheduler. It returns a validated plan and runs nothing."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from pydantic import ValidationError

from ..artifacts import ArtifactRef
from ..errors import PlanningError, PlanValidationError
from ..plan import Plan
from ..registry import ToolRegistry
from ..validator import collect_errors
from .backends import ChatBackend, Message
from .prompt import build_messages, repair_message
from .schema import plan_schema

__all__ = ["Planner", "PlanResult"]

logger = logging.getLogger(__name__)


@dataclass
class PlanResult:
    plan: Plan
    attempts: int
    prompt_tokens: int = 0
    completion_tokens: int = 0
    rejected: list[list[str]] = field(default_factory=list)
    """The problems of each rejected attempt, in order."""


class Planner:
    """Request + input artifacts (by reference) + tool cards -> a validated :class:`Plan`.

    The LLM's output is checked by the validator; its problems go back to the LLM as repair
    feedback up to ``max_repairs`` times, then :class:`PlanningError` is raised.
    """

    def __init__(self, backend: ChatBackend, registry: ToolRegistry, *, max_repairs: int = 2,
                 max_tasks: int = 6, max_tokens: int = 400, constrained: bool = True) -> None:
        self.backend = backend
        self.registry = registry
        self.max_repairs = max_repairs
        self.max_tasks = max_tasks
        self.max_tokens = max_tokens
        self.constrained = constrained

    def plan(self, request: str, inputs: dict[str, ArtifactRef]) -> PlanResult:
        kinds = {name: ref.kind for name, ref in inputs.items()}
        messages: list[Message] = build_messages(request, inputs, self.registry.cards())
        schema = plan_schema(self.registry, kinds, self.max_tasks) if self.constrained else None
        result = PlanResult(plan=Plan(), attempts=0)
        for attempt in range(1, self.max_repairs + 2):
            completion = self.backend.complete(messages, json_schema=schema,
                                               max_tokens=self.max_tokens)
            result.attempts = attempt
            result.prompt_tokens += completion.prompt_tokens
            result.completion_tokens += completion.completion_tokens
            plan, problems = self._check(completion.text, kinds)
            if plan is not None:
                result.plan = plan
                return result
            logger.info("plan attempt %d rejected: %s", attempt, "; ".join(problems))
            result.rejected.append(problems)
            messages = messages + [{"role": "assistant", "content": completion.text},
                                   repair_message(problems)]
        raise PlanningError(
            f"the planner produced no valid plan in {result.attempts} attempts; last problems: "
            + "; ".join(result.rejected[-1]), attempts=result.attempts,
            problems=result.rejected[-1])

    def _check(self, text: str, kinds: dict[str, str]) -> tuple[Plan | None, list[str]]:
        try:
            data = json.loads(_strip_fences(text))
        except json.JSONDecodeError as e:
            return None, [f"the output is not valid JSON ({e.msg} at character {e.pos}); "
                          'expected a JSON object {"tasks": [...]}']
        try:
            plan = Plan.model_validate(data)
        except ValidationError as e:
            return None, [f"{'.'.join(map(str, err['loc'])) or 'plan'}: {err['msg']}"
                          for err in e.errors()[:5]]
        if not plan.tasks:
            return None, ["the plan has no tasks; expected at least one task"]
        errors: list[PlanValidationError] = collect_errors(plan, self.registry, kinds)
        return (None, [e.message for e in errors]) if errors else (plan, [])


def _strip_fences(text: str) -> str:
    """Remote models often wrap JSON in a Markdown code fence."""
    t = text.strip()
    if t.startswith("```"):
        t = t.split("\n", 1)[1] if "\n" in t else ""
        t = t.rsplit("```", 1)[0]
    return t

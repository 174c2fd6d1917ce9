"""The planner: the LLM as scheduler. It returns a validated plan and runs nothing."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import ValidationError

from ..artifacts import ArtifactRef
from ..errors import PlanningError
from ..plan import Plan
from ..registry import ToolRegistry
from ..validator import collect_errors
from .backends import ChatBackend, Message
from .prompt import build_messages, repair_message
from .schema import deliver_schema, plan_schema, produces

if TYPE_CHECKING:
    from ..config import PlannerConfig

__all__ = ["Planner", "PlanResult"]

logger = logging.getLogger(__name__)


@dataclass
class PlanResult:
    plan: Plan
    attempts: int
    llm_calls: int = 0
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
                 max_tasks: int = 6, max_tokens: int = 400, constrained: bool = True,
                 optional_args: bool = True, inputs_first: bool = False,
                 deliver_first: bool = False) -> None:
        self.backend = backend
        self.registry = registry
        self.max_repairs = max_repairs
        self.max_tasks = max_tasks
        self.max_tokens = max_tokens
        self.constrained = constrained
        self.optional_args = optional_args
        self.inputs_first = inputs_first
        self.deliver_first = deliver_first

    @classmethod
    def from_config(cls, backend: ChatBackend, registry: ToolRegistry, pc: PlannerConfig
                    ) -> Planner:
        """A planner with the settings of ``planner:`` in ``mmagent.yaml``."""
        return cls(backend, registry, max_repairs=pc.max_repairs, max_tasks=pc.max_tasks,
                   max_tokens=pc.max_tokens, constrained=pc.constrained,
                   optional_args=pc.optional_args, inputs_first=pc.inputs_first,
                   deliver_first=pc.deliver_first)

    def plan(self, request: str, inputs: dict[str, ArtifactRef]) -> PlanResult:
        kinds = {name: ref.kind for name, ref in inputs.items()}
        messages: list[Message] = build_messages(request, inputs, self.registry.cards())
        result = PlanResult(plan=Plan(), attempts=0)
        schema = None
        if self.constrained:
            # With deliver_first, two calls: first what the user wants back, then a plan whose
            # shape must deliver it (a small model otherwise stops before the step making it).
            deliver = self._deliver(messages, result) if self.deliver_first else None
            schema = plan_schema(self.registry, kinds, self.max_tasks,
                                 optional_args=self.optional_args,
                                 inputs_first=self.inputs_first, deliver=deliver)
        for attempt in range(1, self.max_repairs + 2):
            completion = self.backend.complete(messages, json_schema=schema,
                                               max_tokens=self.max_tokens)
            result.attempts = attempt
            result.llm_calls += 1
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

    def _deliver(self, messages: list[Message], result: PlanResult) -> list[str] | None:
        completion = self.backend.complete(messages, json_schema=deliver_schema(self.registry),
                                           max_tokens=32)
        result.prompt_tokens += completion.prompt_tokens
        result.completion_tokens += completion.completion_tokens
        result.llm_calls += 1
        try:
            return list(dict.fromkeys(json.loads(completion.text)["deliver"]))
        except (json.JSONDecodeError, KeyError, TypeError):
            return None  # then the plan call decides it, unconstrained by it

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
        problems = [e.message for e in collect_errors(plan, self.registry, kinds)]
        used = {ref.field for t in plan.tasks for _a, ref in t.refs() if ref.is_input}
        problems += [f"the request's input $input.{name} is not used by any task; expected a "
                     "plan that works on the inputs the user gave" for name in kinds
                     if name not in used]
        problems += self._undelivered(plan)
        return (None, problems) if problems else (plan, [])

    def _undelivered(self, plan: Plan) -> list[str]:
        """Media kinds the plan says the user wants but no task produces."""
        tools = [t.tool for t in plan.tasks if t.tool in self.registry]
        problems = []
        for kind in dict.fromkeys(plan.deliver):
            if kind != "text" and not any(produces(self.registry, t, [kind]) for t in tools):
                makers = [n for n in self.registry.names() if produces(self.registry, n, [kind])]
                problems.append(f"the plan delivers {kind}, but no task produces {kind}; "
                                f"expected a task with an {kind} output"
                                + (f" (e.g. {', '.join(makers)})" if makers else ""))
        return problems


def _strip_fences(text: str) -> str:
    """Remote models often wrap JSON in a Markdown code fence."""
    t = text.strip()
    if t.startswith("```"):
        t = t.split("\n", 1)[1] if "\n" in t else ""
        t = t.rsplit("```", 1)[0]
    return t

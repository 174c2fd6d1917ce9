"""The planner: the LLM as scheduler. It returns a validated plan and runs nothing."""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from mmagent.artifacts._store import ArtifactRef
from mmagent.errors import ConfigError, PlanningError, PlanningStoppedError, UnsupportedRequestError
from mmagent.plan._ir import Plan
from mmagent.plan._validator import collect_errors
from mmagent.planner._backends import ChatBackend, Completion, Message, stop_reason
from mmagent.planner._demos import DemoBank
from mmagent.planner._embed import Embedder, default_embedder
from mmagent.planner._grounding import Grounder, GroundingSettings, asks_new
from mmagent.planner._intent import (
    asks_capabilities,
    capabilities_answer,
    chat_similarity,
    conversation,
    direct_answer,
    small_talk,
)
from mmagent.planner._learn import learned_bank_path, load_learned
from mmagent.planner._plan_cache import PlanCache
from mmagent.planner._prompt import build_messages, repair_message, replan_message
from mmagent.planner._retrieval import ToolRetriever, registry_fingerprint
from mmagent.planner._schema import deliver_schema, plan_schema, produces
from mmagent.toolkit._base import port_type
from mmagent.toolkit._registry import ToolRegistry

if TYPE_CHECKING:
    from mmagent.config._config import PlannerConfig

__all__ = ["Planner", "PlanResult", "Outcome", "confirmation_question"]

Outcome = Literal["plan", "direct", "capabilities"]

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
    cached: bool = False
    """The plan came from the plan cache (no LLM call)."""
    tools: list[str] = field(default_factory=list)
    """The tools the LLM was shown (retrieved, plus those demonstrations and repairs needed)."""
    demos: list[str] = field(default_factory=list)
    """Ids of the demonstrations in the prompt."""
    grounded: bool = False
    """The plan came from grounding (no LLM call): see :mod:`mmagent.planner`."""
    outcome: Outcome = "plan"
    """``plan``: run ``plan``; ``direct`` / ``capabilities``: the request needs no tool (the
    plan has no tasks) and ``answer`` answers it."""
    answer: str = ""
    """The answer in words when ``outcome`` is not ``plan``."""
    confidence: float = 1.0
    """How sure the planner is of the plan, 0..1 (an LLM's plan that validated: 1)."""
    needs_confirmation: bool = False
    """``confidence`` is below ``planner.confidence_threshold``, or the plan leaves some of
    the user's inputs unused: the run asks before running."""
    unused_inputs: list[str] = field(default_factory=list)
    """Inputs the user gave that no task of ``plan`` takes (the run asks about them)."""


class Planner:
    """Request + input artifacts (by reference) + tool cards -> a validated :class:`Plan`.

    Per request: a cached plan of the same shape is reused if ``cache`` is set; otherwise the
    ``grounder`` builds a plan from the request's steps (no LLM call) and, if that plan is
    valid, it is the answer; otherwise the ``retriever`` picks the tool cards to show, the
    ``demos`` bank the ``demos_k`` most similar worked examples, and the LLM writes the plan
    (decoded under the plan schema over the chosen tools when ``constrained``). The validator
    checks it; its problems go back to the LLM as repair feedback up to ``max_repairs`` times,
    then :class:`PlanningError` is raised.
    """

    def __init__(self, backend: ChatBackend, registry: ToolRegistry, *, max_repairs: int = 2,
                 max_tasks: int = 6, max_tokens: int = 400, constrained: bool = True,
                 optional_args: bool = True, inputs_first: bool = False,
                 deliver_first: bool = False, retriever: ToolRetriever | None = None,
                 demos: DemoBank | None = None, demos_k: int = 0,
                 cache: PlanCache | None = None, grounder: Grounder | None = None,
                 confidence_threshold: float = 0.0, llm_fallback: bool = False) -> None:
        self.backend = backend
        self.registry = registry
        self.max_repairs = max_repairs
        self.max_tasks = max_tasks
        self.max_tokens = max_tokens
        self.constrained = constrained
        self.optional_args = optional_args
        self.inputs_first = inputs_first
        self.deliver_first = deliver_first
        self.retriever = retriever
        self.demos = demos
        self.demos_k = demos_k
        self.cache = cache
        self.grounder = grounder
        self.confidence_threshold = confidence_threshold
        self.llm_fallback = llm_fallback
        """A plan grounding is unsure of goes to the LLM (a capable one) instead of to the
        user for confirmation."""

    @classmethod
    def from_config(cls, backend: ChatBackend, registry: ToolRegistry, pc: PlannerConfig,
                    cache_dir: str | os.PathLike[str] | None = None,
                    embedder: Embedder | None = None, demos: DemoBank | None = None,
                    capable_llm: bool | None = None) -> Planner:
        """A planner with the settings of ``planner:`` in ``mmagent.yaml``. The plan cache
        (``plan_cache: true``) lives under ``cache_dir``; ``demos`` replaces the shipped bank.
        ``capable_llm``: the backend plans what grounding is unsure of (default: only an
        ``openai`` backend; the bundled 135M model would guess worse than asking). Grounding is
        on by default only where the bundled model would plan: an LLM of the caller's
        (``capable_llm=True``) or an ``openai`` backend plans unless
        ``planner.grounding.enabled`` says otherwise."""
        embedder = embedder or default_embedder(cache_dir)
        cache = None
        if pc.plan_cache:
            if cache_dir is None:
                raise ConfigError("got planner.plan_cache: true and no cache_dir; expected a "
                                  "cache directory for the plans", key="planner.plan_cache")
            cache = PlanCache(Path(cache_dir) / "plans")
        retriever = ToolRetriever(pc.retrieval_k, embedder) if pc.retrieval_k else None
        grounding = pc.grounding.enabled
        if grounding is None:
            grounding = pc.backend == "local" and pc.model == "smollm2" and not capable_llm
        if demos is None and (pc.demos_k or grounding):
            demos = DemoBank.default(embedder)
            if pc.learn and cache_dir is not None:
                learned = load_learned(learned_bank_path(cache_dir))
                demos = DemoBank(demos.demos + learned, embedder)
        grounder = None
        if grounding:
            settings = GroundingSettings(**pc.grounding.model_dump(exclude={"enabled"}))
            grounder = Grounder(demos, embedder, settings)
        return cls(backend, registry, max_repairs=pc.max_repairs, max_tasks=pc.max_tasks,
                   max_tokens=pc.max_tokens, constrained=pc.constrained,
                   optional_args=pc.optional_args, inputs_first=pc.inputs_first,
                   deliver_first=pc.deliver_first, retriever=retriever, demos=demos,
                   demos_k=pc.demos_k, cache=cache, grounder=grounder,
                   confidence_threshold=pc.confidence_threshold,
                   llm_fallback=(pc.backend == "openai" if capable_llm is None
                                 else capable_llm))

    def plan(self, request: str, inputs: dict[str, ArtifactRef],
             exclude_demos: Iterable[str] = ()) -> PlanResult:
        """Plan ``request``. ``exclude_demos`` keeps demonstrations (by id or request text) out
        of the prompt: an evaluation must not show the model the answer it is scored on."""
        kinds: dict[str, str] = {name: ref.kind for name, ref in inputs.items()}
        # 1. a plan of the same shape, planned before
        fingerprint = registry_fingerprint(self.registry) if self.cache is not None else ""
        if self.cache is not None:
            cached = self.cache.get(request, kinds, fingerprint)
            if cached is not None and not self._problems(cached, kinds):
                logger.info("plan cache hit for %r", request[:80])
                return PlanResult(plan=cached, attempts=0, cached=True)
        # 2. a request that needs no tool
        intent = self._intent(request, kinds)
        if intent is not None:
            return intent
        # 3. a plan grounded in the request's steps, the registry's tools and the bank
        grounded: list[str] = []
        if self.grounder is not None:
            done, grounded = self._grounded(request, kinds, exclude_demos, fingerprint)
            if done is not None:
                return done
        # 4. the tools and demonstrations to show the LLM
        tools = (self.retriever.select(self.registry, request, kinds) if self.retriever
                 else self.registry.names())
        tools += [t for t in dict.fromkeys(grounded) if t not in tools]
        demos = (self.demos.select(request, kinds, self.registry, self.demos_k,
                                   exclude=exclude_demos) if self.demos else [])
        for demo in demos:  # a tool shown at work is a candidate, too
            tools += sorted(demo.tools() - set(tools))
        result = PlanResult(plan=Plan(), attempts=0, tools=list(tools),
                            demos=[d.id for d in demos])
        messages = build_messages(request, inputs, self.registry.cards(tools), demos)
        # 5. ask, check, repair
        deliver = None
        if self.constrained and self.deliver_first:
            # Two calls: first what the user wants back, then a plan whose shape must deliver
            # it (a small model otherwise stops before the step making it).
            deliver = self._deliver(messages, result, tools)
        plan = self._ask(messages, kinds, result, tools, lambda names: plan_schema(
            self.registry, kinds, self.max_tasks, tools=names, optional_args=self.optional_args,
            inputs_first=self.inputs_first, deliver=deliver))
        if self.cache is not None:
            self.cache.put(request, kinds, fingerprint, plan)
        return result

    def _intent(self, request: str, kinds: dict[str, str]) -> PlanResult | None:
        """An empty plan and an answer for small talk and questions about abilities."""
        if not kinds and small_talk(request):
            return self._talk(request)
        if asks_capabilities(request, kinds):
            return PlanResult(plan=Plan(), attempts=0, outcome="capabilities", grounded=True,
                              answer=capabilities_answer(self.registry))
        return None

    def _grounded(self, request: str, kinds: dict[str, str], exclude: Iterable[str],
                  fingerprint: str) -> tuple[PlanResult | None, list[str]]:
        """The grounded plan when it validates (and is sure enough, or no capable LLM is
        there to do better); a refusal when nothing can serve the request; else the tools it
        tried, for the LLM's prompt."""
        assert self.grounder is not None
        proposal = self.grounder.propose(request, kinds, self.registry, exclude=exclude)
        found = proposal.grounding
        if proposal.plan is None:
            if not kinds and not found.out_of_scope and (
                    self._chatty(request) or conversation(request)):
                return self._talk(request), []
            raise _refusal(request, found.closest, found.out_of_scope)
        problems = self._problems(proposal.plan, kinds)
        tools = [t.tool for t in proposal.plan.tasks]
        unused = self._unused(proposal.plan, kinds)
        if problems and not self.llm_fallback and len(problems) == len(unused):
            # offline, a plan that only leaves an input aside is asked about: the bundled
            # model, asked instead, guesses a plan that does not validate more often than not
            logger.info("grounded plan leaves %s unused, asking the user", ", ".join(unused))
            return PlanResult(plan=proposal.plan, attempts=0, grounded=True, tools=tools,
                              confidence=min(proposal.confidence,
                                             self.confidence_threshold) * 0.5,
                              needs_confirmation=True, unused_inputs=unused), tools
        if problems:
            logger.info("grounded plan rejected, asking the LLM: %s", "; ".join(problems))
            return None, tools
        unsure = proposal.confidence < self.confidence_threshold
        if unsure and not kinds and conversation(request) and not any(
                st.origin == "clause" and asks_new(st.clause) for st in found.steps):
            # a question with nothing attached that no tool clearly serves ("what's the
            # difference between a jingle and a theme song?") is talk, not a guessed run
            return self._talk(request), []
        if unsure and self.llm_fallback:
            logger.info("grounded plan unsure (%.2f), asking the LLM", proposal.confidence)
            return None, tools
        if self.cache is not None and not unsure:
            self.cache.put(request, kinds, fingerprint, proposal.plan)
        return PlanResult(plan=proposal.plan, attempts=0, grounded=True, tools=tools,
                          confidence=proposal.confidence, needs_confirmation=unsure), tools

    def _talk(self, request: str) -> PlanResult:
        """An empty plan answered in words."""
        return PlanResult(plan=Plan(), attempts=0, outcome="direct", grounded=True,
                          answer=direct_answer(request, self.registry))

    def _chatty(self, request: str) -> bool:
        """No step was found: does the request read like conversation?"""
        assert self.grounder is not None
        vector = self.grounder.embedder.embed([request])[0]
        return chat_similarity(self.grounder.embedder, vector) >= 0.5

    def replan(self, request: str, inputs: dict[str, ArtifactRef], plan: Plan,
               failures: dict[str, str], kept: dict[str, dict[str, Any]]) -> PlanResult:
        """Replace the tasks of ``plan`` that did not complete (those in ``failures`` and what
        depends on them); the tasks in ``kept`` (task id -> output) stay as they are.

        The LLM writes only the new tasks, numbered after the plan's last one; they may use the
        request's inputs and the kept results. The returned plan is the kept tasks plus the new
        ones, validated as a whole.
        """
        kinds: dict[str, str] = {name: ref.kind for name, ref in inputs.items()}
        kept_tasks = [t for t in plan.tasks if t.id in kept]
        dropped = [t.id for t in plan.tasks if t.id not in kept]
        given = {f"${t.id}.{f}": port_type(info.annotation) for t in kept_tasks
                 for f, info in self.registry.tool_class(t.tool).Output.model_fields.items()}
        start = _next_index(plan)
        failed_tools = {plan.task(t).tool for t in failures if t in {x.id for x in plan.tasks}}
        tools = (self.retriever.select(self.registry, request, kinds) if self.retriever
                 else self.registry.names())
        tools = [t for t in tools if t not in failed_tools] or tools
        result = PlanResult(plan=Plan(), attempts=0, tools=list(tools))
        messages = build_messages(request, inputs, self.registry.cards(tools))
        messages += [{"role": "assistant", "content": plan.model_dump_json()},
                     replan_message(plan, failures, kept, given, dropped, start, failed_tools)]
        made = {k for t in kept_tasks for k in given if k.startswith(f"${t.id}.")}
        missing: list[str] = [k for k in plan.deliver if k != "text"
                   and not any(given[r] == k for r in made)]

        def schema(names: list[str]) -> dict[str, Any]:
            s = plan_schema(self.registry, kinds, self.max_tasks, tools=names,
                            optional_args=self.optional_args, deliver=missing or None,
                            start=start, given=given)
            if plan.deliver:
                s["properties"]["deliver"] = {"const": list(plan.deliver)}
            return s

        self._ask(messages, kinds, result, tools, schema,
                  merge=lambda new: Plan(deliver=new.deliver or plan.deliver,
                                         tasks=kept_tasks + new.tasks))
        return result

    def _ask(self, messages: list[Message], kinds: dict[str, str], result: PlanResult,
             tools: list[str], schema_for: Callable[[list[str]], dict[str, Any]],
             merge: Callable[[Plan], Plan] | None = None) -> Plan:
        """The plan call with its repair rounds; fills ``result`` and returns the plan."""
        schema = schema_for(tools) if self.constrained else None
        for attempt in range(1, self.max_repairs + 2):
            completion = self._complete(messages, schema, result)
            result.attempts = attempt
            result.llm_calls += 1
            result.prompt_tokens += completion.prompt_tokens
            result.completion_tokens += completion.completion_tokens
            plan, problems = self._parse(completion.text)
            if plan is not None:
                plan = merge(plan) if merge is not None else plan
                problems = self._problems(plan, kinds)
            if plan is not None and not problems:
                result.plan = plan
                return plan
            logger.info("plan attempt %d rejected: %s", attempt, "; ".join(problems))
            result.rejected.append(problems)
            messages = messages + [{"role": "assistant", "content": completion.text},
                                   repair_message(problems)]
            # a repair may need a tool retrieval left out: any tool the problems name
            named = [n for n in self.registry.names() if n not in tools
                     and re.search(rf"\b{re.escape(n)}\b", " ".join(problems))]
            if named:
                tools = tools + named
                result.tools = list(tools)
                messages[0] = build_messages("", {}, self.registry.cards(tools))[0]
                schema = schema_for(tools) if self.constrained else None
        raise PlanningError(
            f"the planner produced no valid plan in {result.attempts} attempts; last problems: "
            + "; ".join(result.rejected[-1]), attempts=result.attempts,
            problems=result.rejected[-1], prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens)

    def _complete(self, messages: list[Message], schema: dict[str, Any] | None,
                  result: PlanResult) -> Completion:
        """One plan call, unless a stop is requested (checked here too: a backend that cannot
        stop mid-call is stopped between calls); a stopped call's tokens join ``result``'s."""
        reason = stop_reason()
        if reason is not None:
            raise PlanningStoppedError(
                f"the planner stopped before LLM call {result.llm_calls + 1}: {reason}",
                reason=reason, llm_calls=result.llm_calls, prompt_tokens=result.prompt_tokens,
                completion_tokens=result.completion_tokens)
        try:
            return self.backend.complete(messages, json_schema=schema,
                                         max_tokens=self.max_tokens)
        except PlanningStoppedError as e:
            raise PlanningStoppedError(
                e.message, reason=e.details.get("reason", ""), llm_calls=result.llm_calls + 1,
                prompt_tokens=result.prompt_tokens + e.details.get("prompt_tokens", 0),
                completion_tokens=result.completion_tokens + e.details.get("completion_tokens", 0),
            ) from None

    def _deliver(self, messages: list[Message], result: PlanResult,
                 tools: list[str]) -> list[str] | None:
        completion = self.backend.complete(messages,
                                           json_schema=deliver_schema(self.registry, tools),
                                           max_tokens=32)
        result.prompt_tokens += completion.prompt_tokens
        result.completion_tokens += completion.completion_tokens
        result.llm_calls += 1
        try:
            return list(dict.fromkeys(json.loads(completion.text)["deliver"]))
        except (json.JSONDecodeError, KeyError, TypeError):
            return None  # then the plan call decides it, unconstrained by it

    @staticmethod
    def _parse(text: str) -> tuple[Plan | None, list[str]]:
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
        return plan, []

    def _problems(self, plan: Plan, kinds: dict[str, str]) -> list[str]:
        if not plan.tasks:
            return ["the plan has no tasks; expected at least one task"]
        problems = [e.message for e in collect_errors(plan, self.registry, kinds)]
        problems += [f"the request's input $input.{name} is not used by any task; expected a "
                     "plan that works on the inputs the user gave"
                     for name in self._unused(plan, kinds)]
        problems += self._undelivered(plan)
        return problems

    def _unused(self, plan: Plan, kinds: dict[str, str]) -> list[str]:
        """The request's inputs no task takes although some tool could."""
        used = {ref.field for t in plan.tasks for _a, ref in t.refs() if ref.is_input}
        takeable = {k for n in self.registry.names()
                    for f in self.registry.tool_class(n).Input.model_fields.values()
                    for k in [port_type(f.annotation).removeprefix("list[").rstrip("]")]}
        return [name for name in kinds if name not in used and kinds[name] in takeable]

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


def _refusal(request: str, closest: list[str], out_of_scope: list[str]
             ) -> UnsupportedRequestError:
    what = (f"asks for {out_of_scope[0]!r}, which no registered tool does" if out_of_scope
            else "matches no registered tool")
    return UnsupportedRequestError(
        f"got a request that {what}; expected a request some tool can serve (closest tools: "
        f"{', '.join(closest) or 'none'})", closest=closest, request=request[:200])


def confirmation_question(plan: Plan, confidence: float, unused: Iterable[str] = ()) -> str:
    """What an unsure plan would do, in words, and a request to confirm it: the offline
    planner asks instead of guessing.

    >>> from mmagent.plan import Plan
    >>> plan = Plan.model_validate({"tasks": [{"id": "t1", "tool": "image_caption",
    ...                                        "args": {"image": "$input.image0"}}]})
    >>> print(confirmation_question(plan, 0.1, ["audio0"]))  # doctest: +ELLIPSIS
    I am not sure ... 1. image_caption (from input), leaving $input.audio0 unused. Nothing ran...
    """
    steps = "; ".join(f"{i}. {t.tool}" + (f" (from {', '.join(sorted(_sources(t.args)))})"
                                          if _sources(t.args) else "")
                      for i, t in enumerate(plan.tasks, 1))
    aside = "".join(f", leaving $input.{name} unused" for name in unused)
    return (f"I am not sure how to do this (confidence {confidence:.2f}). I would run: {steps}"
            f"{aside}. "
            "Nothing ran. Say it again with the steps you want, or save this plan with "
            "--save-plan and run it with `mmagent workflow run`.")


def _sources(args: dict[str, Any]) -> set[str]:
    refs = [v for v in args.values() for v in (v if isinstance(v, list) else [v])]
    return {r.split(".")[0].lstrip("$") for r in refs if isinstance(r, str) and r.startswith("$")}


def _strip_fences(text: str) -> str:
    """Remote models often wrap JSON in a Markdown code fence."""
    t = text.strip()
    if t.startswith("```"):
        t = t.split("\n", 1)[1] if "\n" in t else ""
        t = t.rsplit("```", 1)[0]
    return t


def _next_index(plan: Plan) -> int:
    """The k of the first free task id ``t<k>`` after the plan's tasks."""
    numbers = [int(m.group(1)) for t in plan.tasks if (m := re.fullmatch(r"t(\d+)", t.id))]
    return max(numbers + [len(plan.tasks)]) + 1

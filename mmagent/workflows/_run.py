"""Running a workflow: bind the inputs, instantiate the plan IR, run it on the executor.

Most workflows become one plan that runs in one executor call, as dataflow. Two things are only
known while the run goes on: a ``when`` that reads a node's output, and a ``foreach`` over a
node's output (how many items?). Such a node is planned in a later *stage*, once the outputs it
reads exist: the executor runs the stage with the earlier outputs as ``completed`` (nothing
runs twice). A ``foreach`` over an input or a literal list is expanded before anything runs:
node ``caption`` over three images becomes tasks ``caption_0``..``caption_2``, and
``$caption.text`` elsewhere becomes the list of their texts.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from mmagent.artifacts._store import ArtifactRef, ArtifactStore
from mmagent.errors import PlanLimitError, PlanValidationError
from mmagent.events import AnswerReady, PlanCreated, RunStarted
from mmagent.execution._executor import ExecutionResult, Executor
from mmagent.plan._ir import Plan, Task, checked_ref, parse_ref
from mmagent.plan._validator import MEDIA_TYPES, collect_errors
from mmagent.runs._status import RunStatus
from mmagent.toolkit._registry import ToolRegistry
from mmagent.workflows._conditions import condition_refs, evaluate
from mmagent.workflows._inputs import Put, bind_inputs
from mmagent.workflows._spec import ITEM, Workflow

__all__ = ["WorkflowRun", "WorkflowOutcome"]

Emit = Callable[[Any], None]
_ABSENT = object()  # an optional input that was not given


@dataclass
class WorkflowOutcome:
    answer: str
    plan: Plan
    execution: ExecutionResult
    outputs: dict[str, Any] = field(default_factory=dict)
    """Output name -> value (text, number, artifact ref dict, list, or None if not produced)."""


class WorkflowRun:
    """One run of ``workflow``: :meth:`prepare` checks everything, :meth:`execute` runs it."""

    def __init__(self, workflow: Workflow, registry: ToolRegistry, executor: Executor,
                 store: ArtifactStore, put: Put) -> None:
        self.wf = workflow
        self.registry = registry
        self.executor = executor
        self.store = store
        self.put = put
        self.values: dict[str, Any] = {}  # input name -> value seen by conditions/outputs
        self.arg_values: dict[str, Any] = {}  # input name -> what $input.<name> becomes
        self.media: dict[str, ArtifactRef] = {}  # executor input name -> artifact
        self.types: dict[str, str] = {}  # executor input name -> kind (for the validator)
        self.status: dict[str, str] = dict.fromkeys(workflow.nodes, "pending")
        self.tasks: dict[str, list[str]] = {}
        self.task_node: dict[str, str] = {}
        self.dropped_why: dict[str, str] = {}

    # 1. check the workflow against the tools and bind the inputs: before anything runs
    def prepare(self, inputs: dict[str, Any]) -> WorkflowRun:
        self.wf.check(self.registry, self.store.limits)
        given = bind_inputs(self.wf, inputs, self.put)
        for name, spec in self.wf.inputs.items():
            if name in given:
                self._bind(name, spec.type, given[name])
            else:
                self._bind_default(name, spec.default)
        return self

    def _bind_default(self, name: str, value: Any) -> None:
        self.values[name] = value
        self.arg_values[name] = _ABSENT if value is None else value

    def _bind(self, name: str, type_: str, value: Any) -> None:
        """``value`` as :func:`bind_inputs` checked it (media: stored, as references)."""
        base = type_[5:-1] if type_.startswith("list[") else type_
        if base not in MEDIA_TYPES:
            self.values[name] = self.arg_values[name] = value
            return
        if type_.startswith("list["):
            refs, names = value, [f"{name}__{i}" for i in range(len(value))]
            self.arg_values[name] = [f"$input.{n}" for n in names]
            self.values[name] = [r.model_dump(mode="json") for r in refs]
        else:
            refs, names = [value], [name]
            self.arg_values[name] = f"$input.{name}"
            self.values[name] = value.model_dump(mode="json")
        for n, r in zip(names, refs, strict=True):
            self.media[n], self.types[n] = r, base

    # 2. plan what can be planned, run it, repeat while a stage unlocked more nodes
    def execute(self, emit: Emit, run_id: str | None = None, *, approve: Any = None,
                cancel: threading.Event | None = None) -> WorkflowOutcome:
        """Run the workflow as run ``run_id`` (new if None). With durable runs (config
        ``executor.checkpoint``) the run is recorded under that id, each stage as
        ``<run_id>.<n>``; executing an id that is recorded already resumes it: tasks that
        finished are not run again, and the later stages run as they would have.

        A stage that reaches a tool needing approval pauses the run (``awaiting_approval``)
        unless ``approve`` (a callback taking an ``ApprovalRequest``) answers. Resuming a
        paused run with ``approve`` True/False or {task_id: bool} answers the tasks it paused
        on; the answer is recorded before anything runs, so a run killed after it goes on
        approved, and a step asked about later asks again. ``cancel`` stops new tasks."""
        plan_tasks: list[Task] = []
        run_id, done, stage_no = self._start(run_id, emit)
        callback = approve if callable(approve) else None
        decided = self._decided(run_id, stage_no, None if callable(approve) else approve)
        result = ExecutionResult(run_id=run_id)
        order = self.wf.topological_order()
        status: RunStatus = "completed"
        while status == "completed":
            new = self._plan_ready(order, done)
            if not new:
                break
            plan_tasks += new
            self._validate(plan_tasks)
            emit(PlanCreated(plan=Plan(tasks=plan_tasks)))
            stage_no += 1
            if decided and self.executor.runs is not None:
                self.executor.runs.decide(f"{run_id}.{stage_no}", decided)
            stage = self.executor.run(Plan(tasks=new), self.media, emit, completed=done,
                                      run_id=f"{run_id}.{stage_no}", approve=callback,
                                      cancel=cancel, meta={"workflow_run": run_id})
            status = stage.status if stage.status != "failed" else "completed"
            done.update(stage.outputs)
            self._merge_stage(stage, new, result)
        result.outputs = done
        result.status = status if status != "completed" else (
            "failed" if result.failures else "completed")
        if self.executor.runs is not None:
            self.executor.runs.set_status(run_id, result.status)
        for node, s in self.status.items():  # not reachable any more: a dependency failed
            if s in ("pending", "skipped") and node not in self.tasks:
                result.skipped.append(node)
                result.skipped_after_failure.append(node)
        plan = Plan(tasks=plan_tasks)
        outputs = {name: self._value(ref, done) for name, ref in self.wf.output_refs().items()}
        answer, cited = self._answer(outputs, plan, result)
        emit(AnswerReady(text=answer, artifacts=cited))
        return WorkflowOutcome(answer=answer, plan=plan, execution=result, outputs=outputs)

    def _merge_stage(self, stage: ExecutionResult, new: list[Task],
                     result: ExecutionResult) -> None:
        """Fold one stage's result into the run's, and mark the nodes it ran."""
        if stage.pending_approval is not None:
            result.pending_approval = stage.pending_approval
        result.skip_reasons.update(stage.skip_reasons)
        result.cached += stage.cached
        result.failures.update(stage.failures)
        result.skipped += stage.skipped
        result.skipped_after_failure += stage.skipped_after_failure
        for node in {self.task_node[t.id] for t in new} | {
                n for n, s in self.status.items() if s == "planned"}:
            ids = self.tasks[node]
            if any(t in stage.failures for t in ids):
                self.status[node] = "failed"
            elif any(t in stage.skipped for t in ids):
                self.status[node] = "skipped"
            else:
                self.status[node] = "done"

    def _decided(self, run_id: str, stage_no: int, decision: Any) -> dict[str, bool]:
        """The approvals a new stage starts with: every one given to an earlier stage, and
        ``decision`` (None: no answer) for the tasks the last stage paused on."""
        runs = self.executor.runs
        if runs is None:
            return {}
        decided: dict[str, bool] = {}
        for n in range(1, stage_no + 1):
            decided.update(runs.decisions(f"{run_id}.{n}"))
        last = f"{run_id}.{stage_no}"
        if decision is not None and stage_no and runs.get(last).status == "awaiting_approval":
            rec = runs.get(last)
            asked = [t for ids in runs.requests(last, rec.segment) for t in ids
                     if t not in decided]
            answer = {t: bool(decision.get(t, False)) if isinstance(decision, dict)
                      else bool(decision) for t in asked}
            runs.decide(last, answer)  # recorded before anything runs: a crash keeps it
            decided.update(answer)
        return decided

    def _start(self, run_id: str | None, emit: Emit) -> tuple[str, dict[str, Any], int]:
        """(run id, outputs of tasks that finished in an earlier attempt, stages recorded)."""
        runs = self.executor.runs
        resumed = run_id is not None and runs is not None and runs.exists(run_id)
        run_id = run_id or uuid.uuid4().hex
        done: dict[str, dict[str, Any]] = {}
        stage_no = 0
        if resumed and runs is not None:
            runs.resumable(run_id)
            while runs.exists(f"{run_id}.{stage_no + 1}"):
                stage_no += 1
                done.update(runs.results(f"{run_id}.{stage_no}")[0])
            runs.set_status(run_id, "running")
        elif runs is not None:
            runs.create(run_id, {"tasks": []}, {}, {"workflow": {
                "file": self.wf.file, "name": self.wf.name, "inputs": self.values}})
        emit(RunStarted(run_id=run_id, resumed=resumed))
        return run_id, done, stage_no

    def _plan_ready(self, order: list[str], done: dict[str, dict[str, Any]]) -> list[Task]:
        new: list[Task] = []
        progress = True
        while progress:
            progress = False
            for name in order:
                if self.status[name] != "pending":
                    continue
                node = self.wf.nodes[name]
                deps = self.wf.dependencies(name)
                bad = [d for d in deps if self.status[d] in ("failed", "skipped", "dropped")]
                if bad:
                    dropped = self.status[bad[0]] == "dropped"
                    self.status[name] = "dropped" if dropped else "skipped"
                    if dropped:
                        self.dropped_why[name] = f"it needs node {bad[0]!r}, which did not run"
                    progress = True
                    continue
                reads = {r.source for r in map(parse_ref, self._runtime_refs(name))
                         if r is not None and not r.is_input}
                if any(self.status[d] != "done" for d in reads) or \
                        any(self.status[d] == "pending" for d in deps):
                    continue
                if node.when is not None and not evaluate(node.when,
                                                          lambda r: self._value(r, done)):
                    self.status[name] = "dropped"
                    self.dropped_why[name] = "its condition (when) was false"
                    progress = True
                    continue
                tasks = self._instantiate(name, done)
                self.tasks[name] = [t.id for t in tasks]
                self.task_node.update({t.id: name for t in tasks})
                self.status[name] = "planned"
                new += tasks
                progress = True
        return new

    def _runtime_refs(self, name: str) -> Iterator[str]:
        node = self.wf.nodes[name]
        if node.when is not None:
            yield from condition_refs(node.when)
        if isinstance(node.foreach, str):
            yield node.foreach

    def _instantiate(self, name: str, done: dict[str, dict[str, Any]]) -> list[Task]:
        node = self.wf.nodes[name]
        if node.foreach is None:
            return [Task(id=name, tool=node.tool, args=self._args(node.args, None))]
        items = self._items(name, node.foreach, done)
        limit = self.store.limits.max_foreach
        if len(items) > limit:
            raise self.wf.error(PlanLimitError, f"got {len(items)} foreach items; expected at "
                                f"most {limit} (limits.max_foreach)", "nodes", name, "foreach",
                                node=name, task=name, limit="limits.max_foreach",
                                got=len(items), expected=limit)
        ids = [f"{name}_{i}" for i in range(len(items))]
        clash = [i for i in ids if i in self.wf.nodes]
        if clash:
            raise self.wf.error(PlanValidationError, f"foreach names its runs {ids[0]}.."
                                f"{ids[-1]}, but {clash[0]!r} is also a node; expected node names "
                                "that do not clash", "nodes", name, node=name, task=name)
        return [Task(id=i, tool=node.tool, args=self._args(node.args, item))
                for i, item in zip(ids, items, strict=True)]

    def _items(self, name: str, source: Any, done: dict[str, dict[str, Any]]) -> list[Any]:
        if isinstance(source, list):
            return [self._arg(v, None) for v in source]
        ref = checked_ref(source)
        if ref.is_input:
            value = self.arg_values[ref.field]
            return [] if value is _ABSENT else list(value)
        items = []
        for i, v in enumerate(self._value(source, done) or []):
            if isinstance(v, dict) and v.get("kind") in MEDIA_TYPES:
                stand_in = f"__{name}_item{i}"
                self.media[stand_in], self.types[stand_in] = self.store.get(v["id"]), v["kind"]
                v = f"$input.{stand_in}"
            items.append(v)
        return items

    def _args(self, args: dict[str, Any], item: Any) -> dict[str, Any]:
        out = {k: self._arg(v, item) for k, v in args.items()}
        return {k: v for k, v in out.items() if v is not _ABSENT}

    def _arg(self, value: Any, item: Any) -> Any:
        if value == ITEM:
            return item
        ref = parse_ref(value)
        if ref is not None:
            if ref.is_input:
                return self.arg_values[ref.field]
            if self.wf.nodes[ref.source].foreach is not None:
                return [f"${t}.{ref.field}" for t in self.tasks[ref.source]]
            return value
        if isinstance(value, list):
            out: list[Any] = []
            for v in value:
                r = parse_ref(v)
                got = self._arg(v, item)
                if r is not None and not r.is_input and self.wf.nodes[r.source].foreach is not None:
                    out.extend(got)  # a foreach node's outputs join the list
                elif got is not _ABSENT:
                    out.append(got)
            return out
        if isinstance(value, dict):
            d = {k: self._arg(v, item) for k, v in value.items()}
            return {k: v for k, v in d.items() if v is not _ABSENT}
        return value

    def _value(self, ref: str, done: dict[str, dict[str, Any]]) -> Any:
        """The value a reference reads now (None when it was not produced)."""
        r = checked_ref(ref)
        if r.is_input:
            return self.values.get(r.field)
        ids = self.tasks.get(r.source)
        if ids is None:
            return None
        values = [done[t].get(r.field) if t in done else None for t in ids]
        return values if self.wf.nodes[r.source].foreach is not None else values[0]

    def _validate(self, tasks: list[Task]) -> None:
        """The instantiated plan, with literal input values, through the plan validator."""
        errors = collect_errors(Plan(tasks=tasks), self.registry, self.types)
        if errors:
            e = errors[0]
            node = self.task_node.get(e.task or "", e.task)
            msg = e.message.replace(f"task {e.task!r}: ", "", 1)
            path = ("nodes", node, "args", e.arg) if e.arg else ("nodes", node)
            details = {k: v for k, v in e.details.items() if k not in ("task", "arg")}
            raise self.wf.error(type(e), msg, *path, node=node, task=e.task, arg=e.arg,
                                **details)

    def _answer(self, outputs: dict[str, Any], plan: Plan,
                result: ExecutionResult) -> tuple[str, list[str]]:
        lines, cited = [], []
        paused = result.status == "awaiting_approval"
        for name, value in outputs.items():
            if value is None or value == []:
                src = checked_ref(self.wf.output_refs()[name]).source
                why = self.dropped_why.get(src, "the run is paused for approval" if paused
                                           else "a step it needs failed")
                lines.append(f"{name}: not produced ({why})")
                continue
            for v in value if isinstance(value, list) else [value]:
                if isinstance(v, dict) and v.get("kind") in MEDIA_TYPES:
                    ref = ArtifactRef.model_validate(v)
                    cited.append(ref.id)
                    lines.append(f"{name}: {ref.kind} {ref.uri} saved at {self.store.path(ref)}")
                else:
                    lines.append(f"{name}: {v}")
        if paused and result.pending_approval is not None:
            waiting = ", ".join(f"{t['task_id']} ({t['tool']})"
                                for t in result.pending_approval.tasks)
            lines.append(f"Paused: {waiting} waits for approval. Continue with "
                         f"`mmagent resume {result.run_id} --approve` (or --reject).")
        lines += [f.message for f in result.failures.values()]
        lines += [f"node {n!r} was skipped: an input it needs failed" for n in result.skipped
                  if n in self.wf.nodes]
        return "\n".join(lines), cited

"""Plans that get better with use: a local bank of demonstrations the user vouched for.

With ``planner.learn: true``, a plan saved with ``mmagent run --save-plan``, a run whose steps
the user approved, and a plan taught with ``mmagent learn REQUEST PLAN.yaml`` (or
:meth:`mmagent.Agent.learn`) are appended to ``<cache_dir>/learned_demos.yaml``. The planner
reads that bank beside the shipped one, so the next similar request is grounded in it: its
step phrases vote for the same tools and its plan's tools form the prior.

>>> from mmagent.plan._ir import Plan
>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "learned_demos.yaml"
>>> plan = Plan.model_validate({"tasks": [{"id": "t1", "tool": "image_caption",
...                                         "args": {"image": "$input.image0"}}]})
>>> learn(path, "Caption my photo", plan, {"image0": "image"}).request
'Caption my photo'
>>> [d.request for d in load_learned(path)]
['Caption my photo']
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from mmagent.errors import ConfigError, WorkflowError
from mmagent.plan._ir import Plan, parse_ref
from mmagent.planner._demos import Demo

if TYPE_CHECKING:
    from mmagent.workflows._spec import Workflow

__all__ = ["learn", "load_learned", "learned_bank_path", "workflow_plan", "LEARNED_BANK"]

LEARNED_BANK = "learned_demos.yaml"


def learned_bank_path(cache_dir: str | os.PathLike[str]) -> Path:
    return Path(cache_dir) / LEARNED_BANK


def learn(path: str | os.PathLike[str], request: str, plan: Plan,
          inputs: dict[str, str]) -> Demo:
    """Append ``(request, inputs, plan)`` to the bank at ``path`` (created if missing).

    Appends are one YAML list item each under an exclusive lock, so concurrent learners never
    interleave; a request already in the bank is replaced by the newer plan when read back.
    """
    if not request.strip():
        raise ConfigError("got an empty request to learn; expected the request the plan answers")
    if not plan.tasks:
        raise ConfigError("got a plan with no tasks to learn; expected at least one task")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    row = {"request": request, "inputs": dict(inputs),
           "plan": plan.model_dump(mode="json", exclude_defaults=False)}
    text = yaml.safe_dump([row], sort_keys=False, allow_unicode=True)
    with open(path, "a", encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.write(text)
        fcntl.flock(f, fcntl.LOCK_UN)
    return Demo(request=request, plan=plan, inputs=dict(inputs), id=f"learned-{request}",
                learned=True)


def load_learned(path: str | os.PathLike[str]) -> list[Demo]:
    """The learned demonstrations (newest plan per request), or none when the file is absent."""
    path = Path(path)
    if not path.is_file():
        return []
    try:
        rows = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"could not read the learned demonstrations {path.name!r}: {e}; "
                          "expected a YAML list written by `mmagent learn`",
                          file=str(path)) from e
    by_request: dict[str, Demo] = {}
    for i, row in enumerate(rows if isinstance(rows, list) else []):
        try:
            demo = Demo(request=row["request"], inputs=dict(row.get("inputs") or {}),
                        plan=Plan.model_validate(row["plan"]), id=f"learned-{i}",
                        learned=True)
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError(f"{path.name}: learned demonstration {i}: got {str(row)[:200]!r}; "
                              f"expected {{request, inputs, plan}} ({e})", file=str(path)) from e
        by_request[demo.request.strip()] = demo
    return list(by_request.values())


def workflow_plan(wf: Workflow) -> tuple[Plan, dict[str, str]]:
    """The plan a workflow spells (a saved plan, or one written by hand), with its inputs
    renamed as the planner names a request's inputs (``image0``, ``audio0``, ...).

    Conditions have no place in a plan: a workflow using them is refused. A ``foreach`` node
    whose item is one whole argument is a task over that list (``each``); other fan-out is
    refused.
    """
    odd = [n for n, node in wf.nodes.items() if node.when is not None
           or node.foreach is not None and len(_item_args(node.args)) != 1]
    if odd:
        raise WorkflowError(f"got node {odd[0]!r} with when/foreach in {Path(wf.file).name}; "
                            "expected a plain plan to learn (no conditions; a foreach only "
                            "with $item as one whole argument)",
                            file=Path(wf.file).name, node=odd[0])
    counts: dict[str, int] = {}
    names: dict[str, str] = {}
    for name, spec in wf.inputs.items():
        kind = spec.type if spec.type in ("image", "audio", "video") else None
        if kind is None:
            raise WorkflowError(f"got input {name!r} of type {spec.type!r}; expected only media "
                                "inputs (image, audio, video) in a plan to learn: the request's "
                                "text is the prompt", file=Path(wf.file).name)
        names[name] = f"{kind}{counts.get(kind, 0)}"
        counts[kind] = counts.get(kind, 0) + 1

    def rename(value: Any) -> Any:
        ref = parse_ref(value)
        if ref is not None and ref.is_input and ref.field in names:
            return f"$input.{names[ref.field]}"
        if isinstance(value, list):
            return [rename(v) for v in value]
        return value

    tasks = []
    for n, node in wf.nodes.items():
        task: dict[str, Any] = {"id": n, "tool": node.tool,
                                "args": {k: rename(v) for k, v in node.args.items()}}
        if node.foreach is not None:
            (each,) = _item_args(node.args)
            task["each"], task["args"][each] = each, rename(node.foreach)
        tasks.append(task)
    plan = Plan.model_validate({"tasks": tasks})
    plan = Plan(tasks=[plan.task(t.id) for t in plan.topological_order()])
    return plan, {new: new.rstrip("0123456789") for new in names.values()}


def _item_args(args: dict[str, Any]) -> list[str]:
    """The arguments that are the whole current item of a ``foreach``."""
    from mmagent.workflows._spec import ITEM

    return [k for k, v in args.items() if v == ITEM]

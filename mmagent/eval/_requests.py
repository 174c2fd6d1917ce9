"""A request table as a planner benchmark: requests written as users write them, each with the
tools and links a user expects, scored by category.

A row is ``{id, category, request, inputs, tools, links, answer}``: ``inputs`` maps input
names (``image0``) to kinds, ``tools`` is the multiset of tools the plan should use, ``links``
the ``[source tool, target tool]`` pairs of its data dependencies, and for rows that need no
tool ``answer`` is ``direct`` or ``capabilities`` (an empty plan answered in words) or
``refusal`` (the planner refuses with ``plan.unsupported``). A plan is right when its tools
(as a multiset) and its links (as a set) are the expected ones; an empty-plan row is right
when the planner answers in the expected way and plans no task.

>>> rows = [RequestRow(id="r1", category="single", request="Caption it",
...                    inputs={"image0": "image"}, tools=["image_caption"])]
>>> rows[0].expected()
(Counter({'image_caption': 1}), set())
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from mmagent.artifacts._store import REF_TYPES, ArtifactRef
from mmagent.errors import InputError, PlanningError
from mmagent.plan._ir import Plan

__all__ = ["RequestRow", "RowResult", "CategoryReport", "RequestsReport", "load_requests",
           "load_split", "plan_shape", "evaluate_requests", "fake_inputs"]

_MIMES = {"image": "image/png", "audio": "audio/wav", "video": "video/mp4"}


class RequestRow(BaseModel):
    """One request of the table, with what a user expects."""

    model_config = ConfigDict(extra="forbid")

    id: str
    category: str
    request: str
    inputs: dict[str, str] = Field(default_factory=dict)
    tools: list[str] = Field(default_factory=list)
    links: list[tuple[str, str]] = Field(default_factory=list)
    answer: str | None = Field(None, description="direct | capabilities | refusal for rows "
                               "that need no tool")
    note: str = ""

    def expected(self) -> tuple[Counter[str], set[tuple[str, str]]]:
        return Counter(self.tools), {(link[0], link[1]) for link in self.links}


class RowResult(BaseModel):
    """What the planner did with one row."""

    model_config = ConfigDict(extra="forbid")

    id: str
    category: str
    right: bool
    outcome: str = Field(description="plan | direct | capabilities | refusal | error")
    tools: list[str] = Field(default_factory=list)
    links: list[tuple[str, str]] = Field(default_factory=list)
    confidence: float | None = None
    confirm: bool = Field(False, description="the plan is below the confidence threshold: "
                          "the run would ask before running it")
    seconds: float = 0.0
    error: str | None = None


class CategoryReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    right: int
    count: int
    confirm: int = Field(0, description="plans the run would ask to confirm")

    @property
    def share(self) -> float:
        return self.right / self.count if self.count else 0.0


class RequestsReport(BaseModel):
    """Right plans overall and per category, with planning seconds (p50/p95)."""

    model_config = ConfigDict(extra="forbid")

    right: int
    count: int
    by_category: dict[str, CategoryReport]
    seconds_p50: float
    seconds_p95: float
    rows: list[RowResult] = Field(default_factory=list)

    @property
    def share(self) -> float:
        return self.right / self.count if self.count else 0.0


def load_requests(path: str | Path) -> list[RequestRow]:
    """Read a request table (a YAML list of rows)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or []
        return [RequestRow.model_validate(row) for row in data]
    except (OSError, yaml.YAMLError, ValueError) as e:
        raise InputError(f"could not read the request table {str(path)!r}: {e}; expected a "
                         "YAML list of {id, category, request, inputs, tools, links}",
                         path=str(path)) from e


def load_split(path: str | Path, part: str) -> list[str]:
    """The row ids of ``part`` (``dev`` or ``test``) in a split file."""
    data = yaml.safe_load(Path(path).read_text()) or {}
    if part not in data:
        raise InputError(f"got split part {part!r} for {Path(path).name}; expected one of "
                         f"{sorted(k for k in data if isinstance(data[k], list))}")
    return [str(i) for i in data[part]]


def fake_inputs(kinds: dict[str, str]) -> dict[str, ArtifactRef]:
    """References with no bytes behind them, one per input: planning needs only the kinds."""
    return {n: REF_TYPES[k](id=hashlib.sha256(n.encode()).hexdigest(), mime=_MIMES[k])
            for n, k in kinds.items()}


def plan_shape(plan: Plan) -> tuple[Counter[str], set[tuple[str, str]]]:
    """A plan's tools (multiset) and links (source tool, target tool)."""
    by_id = {t.id: t.tool for t in plan.tasks}
    links = {(by_id[r.source], t.tool) for t in plan.tasks for _a, r in t.refs()
             if not r.is_input and r.source in by_id}
    return Counter(by_id.values()), links


def _one(plan_fn: Callable[[str, dict[str, ArtifactRef]], Any], row: RequestRow) -> RowResult:
    start = time.perf_counter()
    base: dict[str, Any] = {"id": row.id, "category": row.category}
    try:
        planned = plan_fn(row.request, fake_inputs(row.inputs))
    except PlanningError as e:
        outcome = "refusal" if e.code == "plan.unsupported" else "error"
        right = outcome == "refusal" and row.answer == "refusal"
        return RowResult(**base, right=right, outcome=outcome, error=e.message,
                         seconds=time.perf_counter() - start)
    seconds = time.perf_counter() - start
    tools, links = plan_shape(planned.plan)
    outcome = planned.outcome
    if row.answer in ("direct", "capabilities", "refusal"):
        right = outcome == row.answer and not planned.plan.tasks
    else:
        right = outcome == "plan" and (tools, links) == row.expected()
    return RowResult(**base, right=right, outcome=outcome, tools=sorted(tools.elements()),
                     links=sorted(links), confidence=planned.confidence,
                     confirm=planned.needs_confirmation, seconds=seconds)


def evaluate_requests(plan_fn: Callable[[str, dict[str, ArtifactRef]], Any],
                      rows: Sequence[RequestRow], ids: Iterable[str] | None = None, *,
                      on_row: Callable[[RowResult], None] | None = None) -> RequestsReport:
    """Plan each row (those in ``ids`` if given) with ``plan_fn(request, inputs)`` — e.g.
    ``Planner.plan``, which returns a :class:`~mmagent.planner.PlanResult` or raises
    :class:`~mmagent.errors.PlanningError` — and score it."""
    wanted = set(ids) if ids is not None else None
    chosen = [r for r in rows if wanted is None or r.id in wanted]
    if wanted is not None and len(chosen) != len(wanted):
        missing = sorted(wanted - {r.id for r in chosen})
        raise InputError(f"got split ids {missing[:5]} that are not rows of the table; "
                         "expected every id of the split in the table")
    results = []
    for row in chosen:
        result = _one(plan_fn, row)
        results.append(result)
        if on_row is not None:
            on_row(result)
    by: dict[str, CategoryReport] = {}
    for r in results:
        c = by.setdefault(r.category, CategoryReport(right=0, count=0))
        c.count += 1
        c.right += r.right
        c.confirm += r.confirm
    seconds = sorted(r.seconds for r in results)
    return RequestsReport(right=sum(r.right for r in results), count=len(results),
                          by_category=by, seconds_p50=_percentile(seconds, 50),
                          seconds_p95=_percentile(seconds, 95), rows=results)


def _percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    return values[int(max(0, min(len(values) - 1, -(-len(values) * q // 100) - 1)))]

"""TaskBench (multimedia / huggingface domains) as a planner benchmark.

Each TaskBench tool becomes a card-only :class:`~mmagent.Tool` (typed ports, never run);
each request is planned by the configured planner; the plan is converted to TaskBench's node
form and scored as TaskBench's ``evaluate.py`` scores these resource domains (see
``shared/taskbench/FORMAT.md``): pooled n-F1 / e-F1 / t-F1 / v-F1, links derived from
``"<node-k>"`` arguments.

>>> gold = [[{"task": "Image Colorizer", "arguments": ["example.jpg"]}]]
>>> pred = [[{"task": "Image_Colorizer", "arguments": ["photo.jpg"]}]]
>>> s = score(gold, pred, {"Image Colorizer": "image"})
>>> (s.n_f1, s.t_f1, s.v_f1)
(100.0, 100.0, 0.0)
"""

from __future__ import annotations

import hashlib
import json
import logging
import mimetypes
import random
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, create_model

from mmagent.artifacts._store import REF_TYPES, ArtifactRef, AudioRef, ImageRef, VideoRef
from mmagent.config._config import PlannerConfig
from mmagent.errors import InputError, InputNotFoundError, PlanningError
from mmagent.plan._ir import Plan, parse_ref
from mmagent.planner._backends import ChatBackend, Completion, Message
from mmagent.planner._demos import Demo, DemoBank
from mmagent.planner._planner import Planner
from mmagent.toolkit._base import Tool, port_type
from mmagent.toolkit._registry import ToolRegistry

__all__ = [
    "TaskBench",
    "TaskBenchTool",
    "TaskBenchSample",
    "TaskBenchReport",
    "SampleResult",
    "Scores",
    "load_taskbench",
    "card_registry",
    "tool_name",
    "request_inputs",
    "plan_to_taskbench",
    "content_type",
    "graph_items",
    "score",
    "summarize",
    "evaluate_taskbench",
    "taskbench_demos",
    "load_bank_rows",
    "holdout_split",
]

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------
# 1. loading
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskBenchTool:
    """One ``tool_desc.json`` node; types as written there (e.g. the capitalised ``Image``)."""

    id: str
    desc: str
    input_types: tuple[str, ...]
    output_types: tuple[str, ...]


@dataclass(frozen=True)
class TaskBenchSample:
    id: str
    type: str
    request: str
    gold: list[dict[str, Any]]
    """Gold nodes, ``[{"task": <tool id>, "arguments": [...]}]``."""
    steps: tuple[str, ...] = ()
    """The row's ``task_steps`` without their ``Step k:`` prefix."""


@dataclass
class TaskBench:
    """One domain's tools and samples (``data.json`` order)."""

    root: Path
    tools: list[TaskBenchTool]
    samples: list[TaskBenchSample]

    def output_types(self) -> dict[str, str]:
        """Tool id -> the type its output argument has when scored (``"none"`` if no output)."""
        return {t.id: t.output_types[0] if t.output_types else "none" for t in self.tools}


def load_taskbench(root: str | Path) -> TaskBench:
    """Read ``tool_desc.json``, ``data.json`` and ``user_requests.json`` from ``root``.

    Gold nodes come from ``task_nodes`` (a list) or ``tool_nodes`` (a JSON string).
    """
    root = Path(root).expanduser()
    desc = _read_json(root / "tool_desc.json")
    try:
        tools = [TaskBenchTool(id=n["id"], desc=n.get("desc", ""),
                               input_types=tuple(n.get("input-type", [])),
                               output_types=tuple(n.get("output-type", [])))
                 for n in desc["nodes"]]
    except (KeyError, TypeError) as e:
        raise InputError(f"{root / 'tool_desc.json'}: got a node without {e}; expected "
                         '{"nodes": [{"id", "desc", "input-type", "output-type"}]}',
                         path=str(root / "tool_desc.json")) from e
    requests = {str(r["id"]): r["user_request"] for r in _read_jsonl(root / "user_requests.json")}
    samples = []
    for row in _read_jsonl(root / "data.json"):
        sid = str(row["id"])
        if sid not in requests:
            raise InputError(f"{root / 'data.json'}: sample {sid} has no request in "
                             "user_requests.json; expected one request per sample",
                             path=str(root / "data.json"))
        samples.append(_sample(row, requests[sid], root / "data.json"))
    return TaskBench(root=root, tools=tools, samples=samples)


def _sample(row: dict[str, Any], request: str, where: Path) -> TaskBenchSample:
    steps = tuple(re.sub(r"^\s*Step \d+\s*:\s*", "", str(s)) for s in row.get("task_steps") or [])
    return TaskBenchSample(id=str(row["id"]), type=row.get("type", "unknown"), request=request,
                           gold=_gold_nodes(row, where), steps=steps)


def load_bank_rows(path: str | Path) -> list[TaskBenchSample]:
    """Gold TaskBench rows to plan from (a train bank): ``path`` is a JSONL file of rows in the
    ``data.json`` schema; each row's request is its ``user_request`` field, else the line of
    the same id in ``train_requests.jsonl`` / ``user_requests.json`` beside it."""
    path = Path(path).expanduser()
    rows = _read_jsonl(path)
    requests: dict[str, str] = {}
    for name in ("train_requests.jsonl", "user_requests.json"):
        if (path.parent / name).is_file() and path.name != name:
            requests = {str(r["id"]): r["user_request"]
                        for r in _read_jsonl(path.parent / name)}
            break
    samples = []
    for row in rows:
        sid = str(row.get("id"))
        request = row.get("user_request") or requests.get(sid)
        if not request:
            raise InputError(f"{path.name}: row {sid} has no user_request and no line in "
                             "train_requests.jsonl beside it; expected the request of every "
                             "row", path=str(path))
        samples.append(_sample(row, request, path))
    return samples


def _gold_nodes(row: dict[str, Any], where: Path) -> list[dict[str, Any]]:
    nodes = row.get("task_nodes", row.get("tool_nodes"))
    if isinstance(nodes, str):
        nodes = json.loads(nodes)
    if not isinstance(nodes, list):
        raise InputError(f"{where.name}: sample {row.get('id')} has no task_nodes or "
                         "tool_nodes list; expected the gold nodes", path=str(where))
    return [{"task": n.get("task", n.get("tool")),
             "arguments": n.get("arguments", n.get("parameters", []))} for n in nodes]


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise InputNotFoundError(f"got {str(path)!r}; expected an existing TaskBench file",
                                 path=str(path)) from None
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not valid JSON ({e.msg}, line {e.lineno})",
                         path=str(path)) from e


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        raise InputNotFoundError(f"got {str(path)!r}; expected an existing TaskBench file",
                                 path=str(path)) from None
    rows = []
    for i, line in enumerate(lines, 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise InputError(f"{path}:{i}: not valid JSON ({e.msg}); expected one JSON "
                                 "object per line", path=str(path)) from e
    return rows


# ---------------------------------------------------------------------------------------------
# 2. card-only tools
# ---------------------------------------------------------------------------------------------

_PORTS: dict[str, type] = {"text": str, "url": str, "image": ImageRef, "audio": AudioRef,
                           "video": VideoRef}


class CardOnlyTool(Tool):
    """A TaskBench tool: a card the planner can schedule, with nothing behind it."""

    taskbench_id: ClassVar[str]

    def load(self) -> None:
        raise NotImplementedError(f"tool {self.name!r} (TaskBench {self.taskbench_id!r}) is "
                                  "card-only: it is planned, never run")

    def run(self, inputs, ctx):
        self.load()


def tool_name(taskbench_id: str) -> str:
    """``"Image Search (by Image)"`` -> ``"image_search_by_image"``."""
    name = re.sub(r"[^a-z0-9]+", "_", taskbench_id.lower()).strip("_")
    return name if re.match(r"^[a-z]", name) else f"tool_{name}"


def _port(kind: str, where: str) -> type:
    try:
        return _PORTS[kind.lower()]
    except KeyError:
        raise InputError(f"{where}: got type {kind!r}; expected one of {sorted(_PORTS)}") \
            from None


def _card_tool(tool: TaskBenchTool) -> type[CardOnlyTool]:
    name = tool_name(tool.id)
    where = f"TaskBench tool {tool.id!r}"
    config = ConfigDict(extra="forbid")
    inputs = {f"arg{i}": (_port(k, where), Field(description=f"{k.lower()} (positional "
                                                  f"argument {i})"))
              for i, k in enumerate(tool.input_types)}
    outputs: dict[str, Any] = {}
    for k in tool.output_types:
        fname = k.lower() if k.lower() not in outputs else f"{k.lower()}{len(outputs)}"
        outputs[fname] = (_port(k, where), Field(description=f"the {k.lower()} produced"))
    stem = "".join(p.capitalize() for p in name.split("_"))
    return type(stem, (CardOnlyTool,), {
        "name": name,
        "description": tool.desc.strip() or tool.id,
        "taskbench_id": tool.id,
        "Input": create_model(f"{stem}Input", __config__=config, **inputs),
        "Output": create_model(f"{stem}Output", __config__=config, **outputs),
    })


def card_registry(tools: Iterable[TaskBenchTool]) -> tuple[ToolRegistry, dict[str, str]]:
    """A fresh registry of card-only tools, and tool name -> TaskBench id."""
    registry, ids = ToolRegistry(), {}
    for tool in tools:
        cls = _card_tool(tool)
        if cls.name in ids:
            raise InputError(f"TaskBench tools {ids[cls.name]!r} and {tool.id!r} both map to "
                             f"tool name {cls.name!r}; expected distinct names")
        registry.register(cls)
        ids[cls.name] = tool.id
    return registry, ids


# ---------------------------------------------------------------------------------------------
# 3. request inputs
# ---------------------------------------------------------------------------------------------

_MEDIA_EXT = {"jpg": "image", "jpeg": "image", "png": "image", "gif": "image", "bmp": "image",
              "tif": "image", "tiff": "image", "webp": "image", "wav": "audio", "mp3": "audio",
              "flac": "audio", "ogg": "audio", "m4a": "audio", "mp4": "video", "avi": "video",
              "mov": "video", "mkv": "video", "webm": "video"}
_FILE_RE = re.compile(r"[\w\-./]*\w\.(" + "|".join(_MEDIA_EXT) + r")\b", re.IGNORECASE)


def request_inputs(request: str) -> tuple[dict[str, ArtifactRef], dict[str, str]]:
    """The media files a request names, as inputs ``image0``, ``audio0``, ... (refs with no
    bytes behind them), and input name -> file name as written in the request."""
    inputs: dict[str, ArtifactRef] = {}
    files: dict[str, str] = {}
    counts: dict[str, int] = {}
    for m in _FILE_RE.finditer(request):
        file = m.group(0)
        if file in files.values() or "/" in file:  # a URL or a path in one: not a file given
            continue
        kind = _MEDIA_EXT[m.group(1).lower()]
        name = f"{kind}{counts.get(kind, 0)}"
        counts[kind] = counts.get(kind, 0) + 1
        mime = mimetypes.guess_type(file)[0] or f"{kind}/{m.group(1).lower()}"
        inputs[name] = REF_TYPES[kind](id=hashlib.sha256(file.encode()).hexdigest(), mime=mime)
        files[name] = file
    return inputs, files


# ---------------------------------------------------------------------------------------------
# 4. plan -> TaskBench nodes
# ---------------------------------------------------------------------------------------------


def plan_to_taskbench(plan: Plan, registry: ToolRegistry, taskbench_ids: Mapping[str, str],
                      files: Mapping[str, str]) -> list[dict[str, Any]]:
    """``[{"task": <TaskBench id>, "arguments": [...]}]`` in plan order: ``$input.X`` becomes
    the file name, ``$tK.field`` becomes ``"<node-j>"`` (j = 0-based position of tK), literals
    become strings. Arguments follow the tool's ``arg0, arg1, ...`` order."""
    position = {t.id: j for j, t in enumerate(plan.tasks)}

    def convert(value: Any) -> str:
        ref = parse_ref(value)
        if ref is not None:
            if ref.is_input:
                return files.get(ref.field, ref.field)
            return f"<node-{position[ref.source]}>" if ref.source in position else str(ref)
        if isinstance(value, list):
            return " ".join(convert(v) for v in value)
        return value if isinstance(value, str) else json.dumps(value)

    nodes = []
    for task in plan.tasks:
        order = list(registry.tool_class(task.tool).Input.model_fields) \
            if task.tool in registry else []
        names = [n for n in order if n in task.args] + [n for n in task.args if n not in order]
        nodes.append({"task": taskbench_ids.get(task.tool, task.tool),
                      "arguments": [convert(task.args[n]) for n in names]})
    return nodes


def taskbench_demos(samples: Iterable[TaskBenchSample], registry: ToolRegistry) -> DemoBank:
    """Gold rows of a train bank as demonstrations (id = row id, steps = ``task_steps``), in
    our plan form.

    ``"<node-k>"`` becomes a reference to task ``t<k+1>``'s first output (to ``t<k>`` when a
    1-based row points at itself or later); a file the request names becomes its input; gold
    arguments beyond a tool's ports are left out. Rows that do not convert into a valid plan
    (a tool outside the domain, an argument missing) are left out. Never build a bank from the
    rows being evaluated (:func:`evaluate_taskbench` refuses one that overlaps them).
    """
    demos = []
    for sample in samples:
        inputs, files = request_inputs(sample.request)
        by_file = {f: n for n, f in files.items()}
        tasks = []
        for i, node in enumerate(sample.gold):
            name = tool_name(str(node["task"]))
            if name not in registry:
                break
            fields = list(registry.tool_class(name).Input.model_fields)
            args = [_demo_arg(a, i, sample.gold, registry, by_file) for a in node["arguments"]]
            if len(args) < len(fields) or None in args:
                break
            # extra gold arguments (e.g. a style beside an image) have no port: left out
            tasks.append({"id": f"t{i + 1}", "tool": name,
                          "args": dict(zip(fields, args[:len(fields)], strict=True))})
        else:
            kinds = {n: r.kind for n, r in inputs.items()}
            plan = Plan(deliver=_sink_kinds(tasks, registry), tasks=tasks)
            demo = Demo(request=sample.request, plan=plan, inputs=kinds, id=sample.id,
                        steps=sample.steps)
            demos.append(demo)
    return DemoBank(demos)


def _demo_arg(arg: Any, i: int, gold: list[dict[str, Any]], registry: ToolRegistry,
              by_file: Mapping[str, str]) -> str | None:
    text = _arg_text(arg)
    m = _NODE_RE.fullmatch(text.strip())
    if m:
        k = int(m.group(1))
        k = k - 1 if k >= i else k  # a 1-based row
        if not 0 <= k < i:
            return None
        source = tool_name(str(gold[k]["task"]))
        if source not in registry:
            return None
        out = next(iter(registry.tool_class(source).Output.model_fields), None)
        return f"$t{k + 1}.{out}" if out else None
    name = by_file.get(text.strip().strip("'"))
    return f"$input.{name}" if name else text


def _sink_kinds(tasks: list[dict[str, Any]], registry: ToolRegistry) -> list[str]:
    used = {parse_ref(v).source for t in tasks for v in t["args"].values() if parse_ref(v)}
    kinds = []
    for t in tasks:
        if t["id"] not in used:
            for f in registry.tool_class(t["tool"]).Output.model_fields.values():
                kind = port_type(f.annotation)
                kinds.append(kind if kind in ("image", "audio", "video") else "text")
    return list(dict.fromkeys(kinds)) or ["text"]


# ---------------------------------------------------------------------------------------------
# 5. scoring (TaskBench evaluate.py, resource domains)
# ---------------------------------------------------------------------------------------------

_CONTENT_EXTS = (
    ("image", ("jpg", "png", "jpeg", "gif", "bmp", "tiff", "svg", "ico")),
    ("audio", ("mp3", "wav", "wma", "ogg", "aac", "flac", "aiff", "au")),
    ("video", ("mp4", "avi", "mov", "flv", "wmv", "mkv", "webm", "m4v", "mpg", "mpeg")),
)
_NODE_RE = re.compile(r"<node-(\d+)>")


def content_type(value: str) -> str:
    """TaskBench's guess of an argument's type: image / audio / video by a ``.ext`` substring
    (in that order), else text."""
    v = value.strip("'")
    for kind, exts in _CONTENT_EXTS:
        if any("." + e in v for e in exts):
            return kind
    return "text"


@dataclass(frozen=True)
class GraphItems:
    """What one sample contributes to each metric."""

    nodes: frozenset[str]
    links: frozenset[tuple[str, str]]
    task_args: frozenset[str]
    task_arg_values: frozenset[str]


def graph_items(nodes: Sequence[Mapping[str, Any]],
                output_types: Mapping[str, str]) -> GraphItems:
    """Items of one TaskBench graph. ``output_types`` maps tool ids to their output type."""
    names = [str(n.get("task", "")).replace("_", " ") for n in nodes]
    links: set[tuple[str, str]] = set()
    t_items: set[str] = set()
    v_items: set[str] = set()
    for i, (node, name) in enumerate(zip(nodes, names, strict=True)):
        for arg in node.get("arguments") or []:
            arg = _arg_text(arg)
            if "<node-" in arg:
                m = _NODE_RE.search(arg)
                k = int(m.group(1)) if m else None
                # k == i: a 1-based gold row's reference to the previous node reads as a self
                # reference; evaluate.py skips it. Out of range or unparsable: skipped too.
                if k is None or k == i or k >= len(names):
                    continue
                source = names[k]
                links.add((source, name))
                argname, value = output_types.get(source, "other"), source
            else:
                argname, value = content_type(arg), arg
            t_items.add(f"{name}-{argname}")
            v_items.add(f"{name}-{argname}-{value}")
    return GraphItems(frozenset(names), frozenset(links), frozenset(t_items), frozenset(v_items))


def _arg_text(arg: Any) -> str:
    if isinstance(arg, dict):  # other TaskBench domains: {"name": ..., "value": ...}
        arg = next(iter(arg.values()), "")
    if isinstance(arg, list):
        arg = " ".join(map(str, arg))
    return arg if isinstance(arg, str) else json.dumps(arg)


@dataclass(frozen=True)
class Scores:
    """Pooled F1 in percent (0..100)."""

    n_f1: float
    e_f1: float
    t_f1: float
    v_f1: float


def _f1(pairs: Iterable[tuple[frozenset, frozenset]]) -> float:
    """Union the items of each (gold, predicted) sample, pool every (in gold, in prediction)
    pair, and take the binary F1 (0 when nothing is positive, as sklearn reports)."""
    tp = fp = fn = 0
    for gold, pred in pairs:
        tp += len(gold & pred)
        fp += len(pred - gold)
        fn += len(gold - pred)
    return 100.0 * 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def score(gold: Sequence[Sequence[Mapping[str, Any]]], pred: Sequence[Sequence[Mapping[str, Any]]],
          output_types: Mapping[str, str]) -> Scores:
    """Score predicted graphs against gold graphs, sample by sample (same order).

    ``output_types`` (tool id -> output type) is also the vocabulary: node names outside it are
    ignored by n-F1 on both sides.
    """
    if len(gold) != len(pred):
        raise ValueError(f"got {len(gold)} gold and {len(pred)} predicted graphs; expected "
                         "one prediction per gold sample")
    g = [graph_items(x, output_types) for x in gold]
    p = [graph_items(x, output_types) for x in pred]
    vocab = frozenset(output_types)
    return Scores(
        n_f1=_f1((a.nodes & vocab, b.nodes & vocab) for a, b in zip(g, p, strict=True)),
        e_f1=_f1((a.links, b.links) for a, b in zip(g, p, strict=True)),
        t_f1=_f1((a.task_args, b.task_args) for a, b in zip(g, p, strict=True)),
        v_f1=_f1((a.task_arg_values, b.task_arg_values) for a, b in zip(g, p, strict=True)),
    )


# ---------------------------------------------------------------------------------------------
# 6. the harness
# ---------------------------------------------------------------------------------------------


@dataclass
class SampleResult:
    """One request: the prediction (empty when no valid plan) and what planning cost."""

    id: str
    type: str
    prediction: list[dict[str, Any]]
    valid: bool
    llm_calls: int
    tokens: int
    seconds: float
    error: str | None = None
    plan: Plan | None = field(default=None, repr=False)
    grounded: bool = False


class TypeReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n_f1: float
    e_f1: float
    t_f1: float
    v_f1: float
    valid_rate: float
    count: int


class TaskBenchReport(BaseModel):
    """Scores (0..100, like the TaskBench leaderboard) and planning cost per request."""

    model_config = ConfigDict(extra="forbid")

    n_f1: float
    e_f1: float
    t_f1: float
    v_f1: float
    valid_rate: float = Field(description="share of requests whose plan validated, 0..1")
    llm_calls_per_request: float
    tokens_per_request: float = Field(description="prompt + completion tokens")
    grounded_rate: float = Field(0.0, description="share of plans made by grounding, without "
                                 "an LLM call, 0..1")
    seconds_p50: float = Field(0.0, description="planning seconds per request, median")
    seconds_p95: float = Field(0.0, description="planning seconds per request, 95th percentile")
    demos: int = Field(0, description="demonstrations in the bank the planner drew on")
    count: int
    by_type: dict[str, TypeReport]
    samples: list[Any] = Field(default_factory=list, exclude=True)


def summarize(results: Sequence[SampleResult], gold: Sequence[Sequence[Mapping[str, Any]]],
              output_types: Mapping[str, str]) -> TaskBenchReport:
    """The report over ``results`` (one per gold graph, same order)."""
    n = len(results)
    s = score(gold, [r.prediction for r in results], output_types)
    seconds = sorted(r.seconds for r in results)
    by_type = {}
    for kind in sorted({r.type for r in results}, key=_type_order):
        idx = [i for i, r in enumerate(results) if r.type == kind]
        ts = score([gold[i] for i in idx], [results[i].prediction for i in idx], output_types)
        by_type[kind] = TypeReport(n_f1=ts.n_f1, e_f1=ts.e_f1, t_f1=ts.t_f1, v_f1=ts.v_f1,
                                   valid_rate=sum(results[i].valid for i in idx) / len(idx),
                                   count=len(idx))
    return TaskBenchReport(
        n_f1=s.n_f1, e_f1=s.e_f1, t_f1=s.t_f1, v_f1=s.v_f1,
        valid_rate=sum(r.valid for r in results) / n if n else 0.0,
        llm_calls_per_request=sum(r.llm_calls for r in results) / n if n else 0.0,
        tokens_per_request=sum(r.tokens for r in results) / n if n else 0.0,
        grounded_rate=sum(r.grounded for r in results) / n if n else 0.0,
        seconds_p50=_percentile(seconds, 50), seconds_p95=_percentile(seconds, 95),
        count=n, by_type=by_type, samples=list(results))


def _percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of sorted ``values`` (0 when empty)."""
    if not values:
        return 0.0
    return values[max(0, min(len(values) - 1, -(-len(values) * q // 100) - 1))]


def _type_order(kind: str) -> tuple[int, str]:
    order = ("single", "chain", "dag")
    return (order.index(kind) if kind in order else len(order), kind)


class _Counting:
    """Counts calls and tokens at the backend, so failed plans are charged too."""

    def __init__(self, backend: ChatBackend) -> None:
        self.backend = backend
        self.calls = 0
        self.tokens = 0

    def complete(self, messages: list[Message], *, json_schema: dict[str, Any] | None = None,
                 max_tokens: int = 512) -> Completion:
        c = self.backend.complete(messages, json_schema=json_schema, max_tokens=max_tokens)
        self.calls += 1
        self.tokens += c.prompt_tokens + c.completion_tokens
        return c


def evaluate_taskbench(bench: TaskBench, backend: ChatBackend,
                       planner_config: PlannerConfig | None = None, *, limit: int | None = None,
                       bank: Sequence[TaskBenchSample] = (),
                       samples: Sequence[TaskBenchSample] | None = None,
                       on_sample: Callable[[SampleResult], None] | None = None
                       ) -> TaskBenchReport:
    """Plan the first ``limit`` of ``samples`` (default: the domain's ``data.json`` rows) and
    score them.

    ``bank`` (gold rows from another part of the data set, e.g. ``train.jsonl``) supplies the
    demonstrations and step phrases; with none, the planner has only the tool cards. A bank
    that shares a row id or a request with the evaluated rows is refused: a planner must never
    see a row it is scored on. A request whose planning fails (:class:`PlanningError`) is an
    invalid plan and an empty prediction. Planner settings come from ``planner_config``
    (default: ``PlannerConfig()``).
    """
    if limit is not None and limit < 1:
        raise InputError(f"got limit {limit}; expected a positive number of samples")
    pc = planner_config or PlannerConfig()
    samples = list(bench.samples if samples is None else samples)
    samples = samples[:limit] if limit else samples
    ids = {s.id for s in samples}
    texts = {s.request.strip() for s in samples}
    leaked = [b.id for b in bank if b.id in ids or b.request.strip() in texts]
    if leaked:
        raise InputError(f"got a demonstration bank holding {len(leaked)} of the evaluated rows "
                         f"(e.g. {leaked[0][:40]!r}); expected a bank disjoint from them",
                         rows=leaked[:5])
    registry, tool_ids = card_registry(bench.tools)
    counting = _Counting(backend)
    demos = taskbench_demos(bank, registry)
    planner = Planner.from_config(counting, registry, pc, demos=demos)
    if planner.grounder is not None:
        planner.grounder.prepare(registry)  # a server does this once; not a request's time
    results = []
    for sample in samples:
        inputs, files = request_inputs(sample.request)
        calls, tokens, start = counting.calls, counting.tokens, time.perf_counter()
        plan, error, grounded = None, None, False
        try:
            planned = planner.plan(sample.request, inputs)
            plan, grounded = planned.plan, planned.grounded
        except PlanningError as e:
            error = e.message
            logger.info("sample %s: no valid plan: %s", sample.id, e.message)
        result = SampleResult(
            id=sample.id, type=sample.type, valid=plan is not None, error=error, plan=plan,
            prediction=plan_to_taskbench(plan, registry, tool_ids, files) if plan else [],
            llm_calls=counting.calls - calls, tokens=counting.tokens - tokens,
            seconds=time.perf_counter() - start, grounded=grounded)
        results.append(result)
        if on_sample is not None:
            on_sample(result)
    report = summarize(results, [s.gold for s in samples], bench.output_types())
    report.demos = len(demos.demos)
    return report


def holdout_split(rows: Sequence[TaskBenchSample], n: int, seed: int = 0
                  ) -> tuple[list[TaskBenchSample], list[TaskBenchSample]]:
    """``n`` rows held out of a bank for evaluation (seeded shuffle), and the rest as the bank.

    For a larger honest sample than the dev rows: the held-out rows are never demonstrations.
    """
    if not 0 < n < len(rows):
        raise InputError(f"got --holdout {n} for a bank of {len(rows)} rows; expected between 1 "
                         f"and {len(rows) - 1}")
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    held = {*order[:n]}
    return ([rows[i] for i in sorted(held)],
            [rows[i] for i in range(len(rows)) if i not in held])

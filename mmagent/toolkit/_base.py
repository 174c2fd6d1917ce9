"""The tool contract: what every model tool declares and how it is loaded and run.

A tool is a small declarative class: ``name``, ``description``, pydantic ``Input`` and
``Output`` models (``extra="forbid"``, as :class:`Ports` sets it; every field described), a
default checkpoint (a Hugging Face id), declared resources, a lazy :meth:`Tool.load` and a
batched :meth:`Tool.run`. The declaration is checked when the class is defined.

>>> from pydantic import Field
>>> class Shout(Tool):
...     name = "shout"
...     description = "Upper-cases text."
...     class Input(Ports):
...         text: str = Field(description="what to shout")
...     class Output(Ports):
...         text: str = Field(description="the shout")
...     def run(self, inputs, ctx):
...         return [self.Output(text=i.text.upper()) for i in inputs]
>>> Shout()(text="hi").text
'HI'
>>> Shout.card()["inputs"]["text"]["type"]
'text'
"""

from __future__ import annotations

import gc
import inspect
import os
import re
import shutil
import tempfile
import threading
import types
import typing
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mmagent.artifacts._store import ArtifactStore, AudioRef, ImageRef, VideoRef
from mmagent.errors import ConfigError, ToolExecutionError, ToolLoadError

__all__ = ["Tool", "ToolContext", "Ports", "Resources", "port_type", "default_cache_dir", "TINY",
           "CATEGORIES"]

TINY = "tiny"
"""Checkpoint name meaning: a tiny random-weight model built in code (tests, offline profile)."""

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
CATEGORIES = ("model", "utility")
"""``Tool.category``: a model tool loads weights; a utility (media plumbing) does not."""


def default_cache_dir() -> Path:
    return Path(os.environ.get("MMAGENT_CACHE", "~/.cache/mmagent")).expanduser()


class Ports(BaseModel):
    """Base of a tool's ``Input`` and ``Output`` models: an unknown key is an error, never
    silently dropped (the planner must not believe an argument it invented was used)."""

    model_config = ConfigDict(extra="forbid")


class Resources(BaseModel):
    """What one instance of a tool needs; the serving layer turns this into Ray resources."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    num_gpus: float = Field(0.0, ge=0, description="GPU fraction per replica")
    num_cpus: float = Field(1.0, ge=0, description="CPU cores per replica")
    gpu_memory_gb: float = Field(0.0, ge=0, description="approximate GPU memory of the default "
                                 "checkpoint in fp16")


AskClient = Callable[[str, dict[str, Any]], str]
"""(function name, arguments) -> the client's output of that call
(:meth:`ToolContext.ask_client`)."""


class ToolContext:
    """What a tool's ``run`` gets besides its inputs: the artifact store, an event sink, and
    (in a run of the executor) the way to the client's own functions."""

    def __init__(self, store: ArtifactStore, emit: Callable[[Any], None] | None = None,
                 task_id: str | None = None, ask_client: AskClient | None = None) -> None:
        self.store = store
        self.task_id = task_id
        self._emit = emit
        self._ask_client = ask_client

    def ask_client(self, name: str, arguments: dict[str, Any]) -> str:
        """The client's output of its function ``name`` called with ``arguments``: the answer
        the run's journal holds, else the call is recorded and the run pauses for it
        (``awaiting_client``; this does not return then)."""
        if self._ask_client is None:
            raise ToolExecutionError(f"got a call of the client's function {name!r} outside a "
                                     "run of the executor; expected it in a run, which pauses "
                                     "for the client's answer")
        return self._ask_client(name, arguments)

    def progress(self, step: int, total: int, message: str = "") -> None:
        """Report progress of a long loop (diffusion steps, generated tokens)."""
        if self._emit is not None:
            from mmagent.events import TaskProgress

            self._emit(TaskProgress(task_id=self.task_id or "", step=step, total=total,
                                    message=message))

    def emit(self, event: Any) -> None:
        """Send an event of this task to the run's stream (e.g. ``TaskRetrying`` from a tool
        that resends a remote call)."""
        if self._emit is not None:
            self._emit(event)


class Tool:
    """Base class of every tool. Subclasses set the class attributes and implement ``run``."""

    name: ClassVar[str]
    description: ClassVar[str]
    Input: ClassVar[type[BaseModel]]
    Output: ClassVar[type[BaseModel]]
    default_checkpoint: ClassVar[str | None] = None
    resources: ClassVar[Resources] = Resources()
    version: ClassVar[str] = "1"
    category: ClassVar[str] = "model"
    """"model" (loads weights) or "utility" (media plumbing, e.g. extracting video frames)."""
    option_names: ClassVar[tuple[str, ...] | None] = None
    """The tool-specific settings ``options`` may carry; None accepts any."""
    _residency: Any = None  # set by the registry that hands the tool out (memory budget)
    path_roots: tuple[Path, ...] | None = None
    """Where server-path arguments may point (set by the registry); None: anywhere (a local
    caller), empty: nowhere (a remote caller; see :mod:`mmagent.toolkit._paths`)."""
    deterministic: ClassVar[bool] = True
    """Same inputs give the same outputs, so results may be cached. Tools that sample without a
    seed set False."""
    worker: ClassVar[bool] = False
    """The executor runs this tool on a long-lived worker thread of its own that batches
    concurrent calls (a model computed in this process; see :mod:`mmagent.execution`). False:
    each call runs on its task's thread, concurrently (remote calls, I/O, utilities)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:  # an abstract intermediate class
            return
        where = f"tool class {cls.__qualname__}"
        if not _NAME_RE.match(cls.name):
            raise TypeError(f"{where}: got name {cls.name!r}; expected snake_case letters/digits")
        if not getattr(cls, "description", "").strip():
            raise TypeError(f"{where}: expected a non-empty description")
        if cls.category not in CATEGORIES:
            raise TypeError(f"{where}: got category {cls.category!r}; expected one of "
                            f"{list(CATEGORIES)}")
        for attr in ("Input", "Output"):
            model = getattr(cls, attr, None)
            if not (isinstance(model, type) and issubclass(model, BaseModel)):
                raise TypeError(f"{where}: expected {attr} to be a pydantic BaseModel subclass")
            if model.model_config.get("extra") != "forbid":
                raise TypeError(f"{where}: {attr} must set model_config extra='forbid'")
            for fname, field in model.model_fields.items():
                if not field.description:
                    raise TypeError(f"{where}: {attr}.{fname} has no description")

    def __init__(self, checkpoint: str | None = None, device: str = "auto", dtype: str = "auto",
                 cache_dir: str | os.PathLike[str] | None = None, **options: Any) -> None:
        self.checkpoint = checkpoint or self.default_checkpoint
        self.device_pref = device
        self.dtype_pref = dtype
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
        self.options = options
        self._loaded = False
        self._lock = threading.Lock()
        allowed = self.allowed_options()
        for key in options:
            if allowed is not None and key not in allowed:
                raise ConfigError(f"got option {key!r} for tool {self.name!r}; expected one of "
                                  f"{list(allowed)}", key=key)
        self.configure()

    @classmethod
    def allowed_options(cls) -> tuple[str, ...] | None:
        """Names accepted in ``options`` (``option_names`` unless a subclass computes them)."""
        return cls.option_names

    # -- to implement ---------------------------------------------------------------------------

    def configure(self) -> None:
        """Check ``options`` and derive settings from them, when constructed (raise
        :class:`ConfigError` naming the option), so a bad setting fails before any load."""

    def load(self) -> None:
        """Load model weights. Called once, lazily, before the first ``run``."""

    def run(self, inputs: list[Any], ctx: ToolContext) -> list[BaseModel]:
        """Run a batch of ``Input`` instances (a subclass annotates them as its own
        ``Input``); returns one ``Output`` per input, in order."""
        raise NotImplementedError

    @classmethod
    def build_tiny(cls, path: Path) -> None:
        """Save a tiny random-weight checkpoint to ``path`` (loadable by ``load``)."""
        raise NotImplementedError(f"tool {cls.name!r} has no tiny configuration")

    @classmethod
    def has_tiny(cls) -> bool:
        """Whether the tool builds a tiny checkpoint (overrides :meth:`build_tiny`)."""
        return inspect.getattr_static(cls, "build_tiny") is not vars(Tool)["build_tiny"]

    @classmethod
    def offline_settings(cls) -> dict[str, Any]:
        """The settings the ``offline`` profile gives this tool (``tools.<name>`` in
        ``mmagent.yaml``): its tiny model when it has a builder, else none. Override when the
        tool runs offline some other way (e.g. a speech synthesiser that needs no weights)."""
        return {"checkpoint": TINY} if cls.has_tiny() else {}

    # -- shared mechanics ---------------------------------------------------------------------

    def ensure_loaded(self) -> None:
        """Load the weights unless they are loaded. Under a registry with a memory budget, the
        registry first unloads least-recently-used tools to make room (see ``registry.using``)."""
        if self._residency is not None:
            self._residency.ensure_loaded(self)
        else:
            self._load_once()

    def _load_once(self) -> bool:
        """Run ``load`` unless loaded; True if it ran. Remembers what ``load`` set, so that the
        default :meth:`unload` can drop it."""
        if self._loaded:
            return False
        with self._lock:
            if self._loaded:
                return False
            before = dict(self.__dict__)
            try:
                with _LOAD_LOCK:
                    self.load()
            except ToolLoadError:
                raise
            except (OSError, ValueError) as e:
                raise ToolLoadError(
                    f"tool {self.name!r} could not load checkpoint {self.checkpoint!r}: "
                    f"{str(e).splitlines()[0] if str(e) else type(e).__name__}",
                    tool=self.name, checkpoint=self.checkpoint) from e
            # what load set, and what each attribute held before (restored by unload)
            self._load_attrs = {k: before.get(k, _UNSET) for k, v in self.__dict__.items()
                                if k not in before or before[k] is not v}
            self._loaded = True
            return True

    def unload(self) -> None:
        """Drop the model: forget every attribute ``load`` set, collect garbage, and return
        cached CUDA memory. The next ``ensure_loaded`` loads again. Override to release
        anything else (and call ``super().unload()``)."""
        with self._lock:
            if not self._loaded:
                return
            for attr, old in getattr(self, "_load_attrs", {}).items():
                if old is _UNSET:
                    self.__dict__.pop(attr, None)
                else:
                    self.__dict__[attr] = old
            self._load_attrs = {}
            self._loaded = False
        gc.collect()
        _empty_cuda_cache()

    def memory_bytes(self) -> int | None:
        """Bytes of the parameters and buffers of the torch modules ``load`` set (a diffusers
        pipeline's components count); None when it holds no torch module. Override when a
        tool holds weights some other way."""
        return _module_bytes(self.loaded_modules())

    def loaded_modules(self) -> list[Any]:
        """The torch modules ``load`` set, each once: searched into lists, dicts, a diffusers
        pipeline's ``components`` and a wrapper's ``model``; none before loading or while this
        process has not imported torch."""
        torch = loaded_torch()
        if not self._loaded or torch is None:
            return []
        modules: list[Any] = []
        stack = [self.__dict__.get(a) for a in getattr(self, "_load_attrs", ())]
        seen: set[int] = set()
        while stack:
            v = stack.pop()
            if v is None or id(v) in seen:
                continue
            seen.add(id(v))
            if isinstance(v, torch.nn.Module):
                modules.append(v)
            elif isinstance(v, (list, tuple)):
                stack.extend(v)
            elif isinstance(v, dict):
                stack.extend(v.values())
            elif isinstance(getattr(v, "components", None), dict):  # a diffusers pipeline
                stack.extend(v.components.values())
            elif isinstance(getattr(v, "model", None), torch.nn.Module):  # a wrapper
                stack.append(v.model)
        return modules

    @classmethod
    def example_inputs(cls, store: ArtifactStore) -> list[dict[str, Any]]:
        """A few valid argument dicts (benchmarks, smoke tests). The default fills the
        required ports with small media and words; override for tools that need more."""
        from mmagent.toolkit._samples import examples_from_ports

        return examples_from_ports(cls, store)

    def check_input(self, inp: Any) -> None:
        """Bounds a field cannot declare (pixels of an input image, seconds of audio), checked
        by ``parse_input`` before any model runs; raise through :mod:`mmagent.toolkit`."""

    def checkpoint_path(self) -> str:
        """The checkpoint to pass to ``from_pretrained``: an HF id, a local path, or the tiny
        model built (once, cached on disk) when the checkpoint is ``"tiny"``."""
        if self.checkpoint != TINY:
            ckpt = str(self.checkpoint)
            if ckpt.startswith(("/", "./", "../", "~")) and not Path(ckpt).expanduser().exists():
                raise ToolLoadError(f"tool {self.name!r}: got checkpoint {ckpt!r}, which is no "
                                    "existing directory; expected a local checkpoint or an HF id",
                                    tool=self.name, checkpoint=ckpt)
            return ckpt
        target = self.cache_dir / "tiny" / f"{self.name}-v{self.version}"
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{self.name}-"))
            try:
                with _TINY_BUILD:
                    type(self).build_tiny(tmp)
                os.replace(tmp, target)
            except OSError:
                if not target.exists():  # lost a race with another process: theirs is fine
                    raise
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        return str(target)

    def device(self) -> str:
        from mmagent.toolkit._device import resolve_device

        return resolve_device(self.device_pref)

    def torch_dtype(self):
        from mmagent.toolkit._device import resolve_dtype

        return resolve_dtype(self.dtype_pref, self.device())

    def parse_input(self, args: dict[str, Any]) -> BaseModel:
        """Validate ``args`` into ``Input``; a violation raises :class:`ToolInputError` naming
        the argument, the value given and the limit."""
        from mmagent.toolkit._bounds import input_error
        from mmagent.toolkit._paths import check_server_paths

        check_server_paths(self.name, self.Input, args, self.path_roots)
        try:
            inp = self.Input.model_validate(args)
        except ValidationError as e:
            raise input_error(self, e.errors()[0]) from e
        self.check_input(inp)
        return inp

    def __call__(self, ctx: ToolContext | None = None, **args: Any) -> BaseModel:
        """Run one input; convenient in notebooks and tests."""
        inp = self.parse_input(args)
        if ctx is None:
            ctx = ToolContext(ArtifactStore(self.cache_dir / "artifacts"))
        residency = self._residency
        if residency is None:
            self.ensure_loaded()
            return self.run([inp], ctx)[0]
        residency.pin(self)  # not unloaded while it runs
        try:
            residency.ensure_loaded(self)
            return self.run([inp], ctx)[0]
        finally:
            residency.unpin(self)

    @classmethod
    def card(cls) -> dict[str, Any]:
        """Name, description and typed inputs/outputs: what the planner sees of the tool."""
        return {
            "name": cls.name,
            "description": cls.description,
            "inputs": _ports(cls.Input),
            "outputs": _ports(cls.Output),
        }


_UNSET = object()
# Loads take turns, process-wide: diffusers builds models under accelerate's init_empty_weights,
# which patches nn.Module.register_parameter for every thread, so a model built or loaded in
# another thread meanwhile gets meta tensors ("Cannot copy out of meta tensor"). The executor
# loads tools from concurrent worker threads.
_LOAD_LOCK = threading.RLock()


# Tiny builders seed torch's global generator: two building at once in one process would
# draw from each other's sequence and save other weights than a lone build does.
_TINY_BUILD = threading.Lock()


def loaded_torch() -> Any:
    """``torch`` if this process has finished importing it, else None; never imports it (a
    process whose tools do not use torch does not pay for it). While another thread is still
    importing torch, the half-built module would lack ``cuda`` and friends: None then too."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None or getattr(getattr(torch, "__spec__", None), "_initializing", False):
        return None
    return torch


def _empty_cuda_cache() -> None:
    torch = loaded_torch()  # never import torch just to unload
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def _module_bytes(modules: list[Any]) -> int | None:
    """Parameter and buffer bytes of ``modules``, each tensor counted once."""
    if not modules:
        return None
    total, tensors = 0, set[Hashable]()
    for m in modules:
        for t in [*m.parameters(), *m.buffers()]:
            key: Hashable
            if t.is_sparse:  # e.g. whisper's alignment_heads: no strided storage to point at
                key, size = id(t), t._values().numel() * t.element_size()
            else:
                key = (t.device.type, t.data_ptr()) if t.numel() else id(t)
                size = t.numel() * t.element_size()
            if key not in tensors:
                tensors.add(key)
                total += size
    return total


def _ports(model: type[BaseModel]) -> dict[str, dict[str, Any]]:
    out = {}
    for fname, field in model.model_fields.items():
        port: dict[str, Any] = {"type": port_type(field.annotation),
                                "description": field.description,
                                "required": field.is_required()}
        if not field.is_required() and field.default is not None:
            port["default"] = field.default
        out[fname] = port
    return out


_SCALARS: dict[Any, str] = {str: "text", int: "integer", float: "number", bool: "boolean",
                            ImageRef: "image", AudioRef: "audio", VideoRef: "video"}


def port_type(annotation: Any) -> str:
    """The planner-facing type of a field: image, audio, video, text, number, ..., list[T]."""
    if annotation in _SCALARS:
        return _SCALARS[annotation]
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return port_type(args[0])
    if origin is list and len(args) == 1:
        return f"list[{port_type(args[0])}]"
    if origin is typing.Annotated:
        return port_type(args[0])
    if origin is Literal:
        return port_type(type(args[0]))
    return "json"

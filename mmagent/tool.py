"""The tool contract: what every model tool declares and how it is loaded and run.

A tool is a small declarative class: ``name``, ``description``, pydantic ``Input`` and
``Output`` models (``extra="forbid"``, every field described), a default checkpoint (a Hugging
Face id), declared resources, a lazy :meth:`Tool.load` and a batched :meth:`Tool.run`. The
declaration is checked when the class is defined.

>>> from pydantic import BaseModel, ConfigDict, Field
>>> class Shout(Tool):
...     name = "shout"
...     description = "Upper-cases text."
...     class Input(BaseModel):
...         model_config = ConfigDict(extra="forbid")
...         text: str = Field(description="what to shout")
...     class Output(BaseModel):
...         model_config = ConfigDict(extra="forbid")
...         text: str = Field(description="the shout")
...     def run(self, inputs, ctx):
...         return [self.Output(text=i.text.upper()) for i in inputs]
>>> Shout()(text="hi").text
'HI'
>>> Shout.card()["inputs"]["text"]["type"]
'text'
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .artifacts import ArtifactStore, AudioRef, ImageRef, VideoRef
from .errors import ToolInputError, ToolLoadError

__all__ = ["Tool", "ToolContext", "Resources", "port_type", "default_cache_dir", "TINY"]

TINY = "tiny"
"""Checkpoint name meaning: a tiny random-weight model built in code (tests, offline profile)."""

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


def default_cache_dir() -> Path:
    return Path(os.environ.get("MMAGENT_CACHE", "~/.cache/mmagent")).expanduser()


class Resources(BaseModel):
    """What one instance of a tool needs; the serving layer turns this into Ray resources."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    num_gpus: float = Field(0.0, ge=0, description="GPU fraction per replica")
    num_cpus: float = Field(1.0, ge=0, description="CPU cores per replica")
    gpu_memory_gb: float = Field(0.0, ge=0, description="approximate GPU memory of the default "
                                 "checkpoint in fp16")


class ToolContext:
    """What a tool's ``run`` gets besides its inputs: the artifact store and an event sink."""

    def __init__(self, store: ArtifactStore, emit: Callable[[Any], None] | None = None,
                 task_id: str | None = None) -> None:
        self.store = store
        self.task_id = task_id
        self._emit = emit

    def progress(self, step: int, total: int, message: str = "") -> None:
        """Report progress of a long loop (diffusion steps, generated tokens)."""
        if self._emit is not None:
            from .events import TaskProgress

            self._emit(TaskProgress(task_id=self.task_id or "", step=step, total=total,
                                    message=message))


class Tool:
    """Base class of every tool. Subclasses set the class attributes and implement ``run``."""

    name: ClassVar[str]
    description: ClassVar[str]
    Input: ClassVar[type[BaseModel]]
    Output: ClassVar[type[BaseModel]]
    default_checkpoint: ClassVar[str | None] = None
    resources: ClassVar[Resources] = Resources()
    version: ClassVar[str] = "1"
    deterministic: ClassVar[bool] = True
    """Same inputs give the same outputs, so results may be cached. Tools that sample without a
    seed set False."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:  # an abstract intermediate class
            return
        where = f"tool class {cls.__qualname__}"
        if not _NAME_RE.match(cls.name):
            raise TypeError(f"{where}: got name {cls.name!r}; expected snake_case letters/digits")
        if not getattr(cls, "description", "").strip():
            raise TypeError(f"{where}: expected a non-empty description")
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

    # -- to implement ---------------------------------------------------------------------------

    def load(self) -> None:
        """Load model weights. Called once, lazily, before the first ``run``."""

    def run(self, inputs: list[BaseModel], ctx: ToolContext) -> list[BaseModel]:
        """Run a batch; returns one ``Output`` per input, in order."""
        raise NotImplementedError

    @classmethod
    def build_tiny(cls, path: Path) -> None:
        """Save a tiny random-weight checkpoint to ``path`` (loadable by ``load``)."""
        raise NotImplementedError(f"tool {cls.name!r} has no tiny configuration")

    # -- shared mechanics ---------------------------------------------------------------------

    def ensure_loaded(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if self._loaded:
                return
            try:
                self.load()
            except ToolLoadError:
                raise
            except (OSError, ValueError) as e:
                raise ToolLoadError(
                    f"tool {self.name!r} could not load checkpoint {self.checkpoint!r}: "
                    f"{str(e).splitlines()[0] if str(e) else type(e).__name__}",
                    tool=self.name, checkpoint=self.checkpoint) from e
            self._loaded = True

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
                type(self).build_tiny(tmp)
                os.replace(tmp, target)
            except OSError:
                if not target.exists():  # lost a race with another process: theirs is fine
                    raise
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        return str(target)

    def device(self) -> str:
        from .runtime import resolve_device

        return resolve_device(self.device_pref)

    def torch_dtype(self):
        from .runtime import resolve_dtype

        return resolve_dtype(self.dtype_pref, self.device())

    def parse_input(self, args: dict[str, Any]) -> BaseModel:
        try:
            return self.Input.model_validate(args)
        except ValidationError as e:
            err = e.errors()[0]
            loc = ".".join(str(p) for p in err["loc"]) or "<input>"
            raise ToolInputError(f"tool {self.name!r}, argument {loc!r}: {err['msg']}",
                                 tool=self.name, arg=loc) from e

    def __call__(self, ctx: ToolContext | None = None, **args: Any) -> BaseModel:
        """Run one input; convenient in notebooks and tests."""
        inp = self.parse_input(args)
        self.ensure_loaded()
        if ctx is None:
            ctx = ToolContext(ArtifactStore(self.cache_dir / "artifacts"))
        return self.run([inp], ctx)[0]

    @classmethod
    def card(cls) -> dict[str, Any]:
        """Name, description and typed inputs/outputs: what the planner sees of the tool."""
        return {
            "name": cls.name,
            "description": cls.description,
            "inputs": _ports(cls.Input),
            "outputs": _ports(cls.Output),
        }


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

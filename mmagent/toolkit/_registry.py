"""The tool registry: names to tool classes, instantiated lazily with their settings.

Built-in tools are the modules of the ``mmagent.tools`` package (one module per tool, named
after it): :func:`builtin_tools` imports each public module and takes the Tool subclasses it
defines (``@tool`` functions included), so a new tool is its file and nothing else.
Third-party packages add tools through the ``mmagent.tools`` entry-point group, declared in
their ``pyproject.toml``::

    [project.entry-points."mmagent.tools"]
    my_tool = "my_package.my_module:MyTool"

Nothing is imported until :meth:`ToolRegistry.discover` (or :func:`offline_settings`) runs, so
``import mmagent`` stays light.
"""

from __future__ import annotations

import functools
import importlib
import logging
import pkgutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import entry_points
from typing import Any

from mmagent.errors import ConfigError, UnknownToolError
from mmagent.toolkit._base import Tool
from mmagent.toolkit._residency import Residency

__all__ = ["ToolRegistry", "ENTRY_POINT_GROUP", "BUILTIN_PACKAGE", "builtin_tools",
           "offline_settings"]

ENTRY_POINT_GROUP = "mmagent.tools"
BUILTIN_PACKAGE = "mmagent.tools"
logger = logging.getLogger(__name__)


@functools.cache
def builtin_tools() -> tuple[type[Tool], ...]:
    """The tools that ship: every Tool subclass defined in a public module of ``mmagent.tools``
    (``_``-prefixed modules hold what tools share), sorted by name."""
    package = importlib.import_module(BUILTIN_PACKAGE)
    found: dict[str, type[Tool]] = {}
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{BUILTIN_PACKAGE}.{info.name}")
        for value in vars(module).values():
            if (isinstance(value, type) and issubclass(value, Tool)
                    and value.__module__ == module.__name__ and "name" in value.__dict__):
                found[value.name] = value
    return tuple(found[n] for n in sorted(found))


def offline_settings() -> dict[str, dict[str, Any]]:
    """Tool name -> settings of the ``offline`` profile, as each built-in tool declares them
    (:meth:`Tool.offline_settings`: its tiny model, when it has a builder)."""
    return {cls.name: settings for cls in builtin_tools()
            if (settings := cls.offline_settings())}


class ToolRegistry:
    """Maps tool names to classes, and hands out one lazily created instance per name.

    >>> from mmagent.tools.image_caption import ImageCaption
    >>> reg = ToolRegistry()
    >>> reg.register(ImageCaption, checkpoint="tiny")
    >>> reg.names()
    ['image_caption']
    """

    def __init__(self, memory_budget_gb: float | None = None) -> None:
        self._classes: dict[str, type[Tool]] = {}
        self._settings: dict[str, dict[str, Any]] = {}
        self._instances: dict[str, Tool] = {}
        self._lock = threading.Lock()
        self.residency = Residency(memory_budget_gb)
        """Which tools hold their weights; unloads the least recently used over the budget."""

    @classmethod
    def discover(cls, settings: dict[str, dict[str, Any]] | None = None, *,
                 memory_budget_gb: float | None = None, **common: Any) -> ToolRegistry:
        """A registry of the built-in tools and every tool in the ``mmagent.tools``
        entry-point group (which may replace a built-in one of the same name).

        ``settings`` maps tool names to constructor keywords (checkpoint, device, ...);
        ``common`` keywords (e.g. ``cache_dir``) go to every tool. ``memory_budget_gb`` bounds
        the loaded models (least recently used unloaded first; None: no bound).
        """
        reg = cls(memory_budget_gb=memory_budget_gb)
        for tool_cls in builtin_tools():
            reg.register(tool_cls, **common)
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            try:
                tool_cls = ep.load()
            except Exception as e:  # a broken plug-in must not take the others down
                logger.warning("skipping tool entry point %s (%s): %s", ep.name, ep.value, e)
                continue
            if not (isinstance(tool_cls, type) and issubclass(tool_cls, Tool)):
                logger.warning("skipping entry point %s: %s is not a Tool subclass", ep.name,
                               ep.value)
                continue
            reg.register(tool_cls, **common)
        for name, kw in (settings or {}).items():
            if name not in reg._classes:
                raise ConfigError(f"tools.{name}: got settings for an unknown tool; expected one "
                                  f"of {reg.names()}", key=f"tools.{name}")
            reg._settings[name] = {**common, **kw}
        return reg

    def register(self, tool_cls: type[Tool], **settings: Any) -> None:
        """Add a tool class; ``settings`` are passed to its constructor on first use."""
        self._classes[tool_cls.name] = tool_cls
        self._settings[tool_cls.name] = settings
        self._instances.pop(tool_cls.name, None)
        self.residency.forget(tool_cls.name)

    def add_instance(self, tool: Tool) -> None:
        """Register an already constructed tool (tests, notebooks)."""
        self._classes[tool.name] = type(tool)
        tool._residency = self.residency
        self._instances[tool.name] = tool

    def names(self) -> list[str]:
        return sorted(self._classes)

    def __contains__(self, name: object) -> bool:
        return name in self._classes

    def tool_class(self, name: str) -> type[Tool]:
        try:
            return self._classes[name]
        except KeyError:
            raise UnknownToolError(f"got tool {name!r}; expected one of {self.names()}") from None

    def get(self, name: str) -> Tool:
        """The instance for ``name`` (constructed on first call; weights load on first run)."""
        cls = self.tool_class(name)
        with self._lock:
            if name not in self._instances:
                tool = cls(**self._settings.get(name, {}))
                tool._residency = self.residency
                self._instances[name] = tool
            return self._instances[name]

    @contextmanager
    def using(self, name: str, emit: Callable[[Any], None] | None = None) -> Iterator[Tool]:
        """The loaded tool for ``name``, pinned for the ``with`` block: under a memory budget,
        other tools may be unloaded to make room for it, but it is never unloaded while in
        use. ``emit`` receives a ``ToolUnloaded`` event for every tool unloaded for it::

            with registry.using("image_caption") as tool:
                out = tool.run([tool.parse_input(args)], ctx)
        """
        tool = self.get(name)
        self.residency.pin(tool)
        try:
            self.residency.ensure_loaded(tool, emit)
            yield tool
        finally:
            self.residency.unpin(tool, emit)

    def settings(self, name: str) -> dict[str, Any]:
        """The constructor keywords configured for ``name`` (checkpoint, device, dtype, ...)."""
        self.tool_class(name)
        if name in self._instances:
            t = self._instances[name]
            return {"checkpoint": t.checkpoint, "device": t.device_pref, "dtype": t.dtype_pref,
                    **t.options}
        return dict(self._settings.get(name, {}))

    def cards(self, names: list[str] | None = None) -> list[dict[str, Any]]:
        return [self.tool_class(n).card() for n in (names or self.names())]

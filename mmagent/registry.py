"""The tool registry: names to tool classes, instantiated lazily with their settings.

Built-in tools and third-party ones are found the same way: through the ``mmagent.tools``
entry-point group. A package adds a tool by declaring, in its ``pyproject.toml``::

    [project.entry-points."mmagent.tools"]
    my_tool = "my_package.my_module:MyTool"
"""

from __future__ import annotations

import logging
import threading
from importlib.metadata import entry_points
from typing import Any

from .errors import ConfigError, UnknownToolError
from .tool import Tool

__all__ = ["ToolRegistry", "ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "mmagent.tools"
logger = logging.getLogger(__name__)


class ToolRegistry:
    """Maps tool names to classes, and hands out one lazily created instance per name.

    >>> from mmagent.tools.image_caption import ImageCaption
    >>> reg = ToolRegistry()
    >>> reg.register(ImageCaption, checkpoint="tiny")
    >>> reg.names()
    ['image_caption']
    """

    def __init__(self) -> None:
        self._classes: dict[str, type[Tool]] = {}
        self._settings: dict[str, dict[str, Any]] = {}
        self._instances: dict[str, Tool] = {}
        self._lock = threading.Lock()

    @classmethod
    def discover(cls, settings: dict[str, dict[str, Any]] | None = None,
                 **common: Any) -> ToolRegistry:
        """A registry of every tool in the ``mmagent.tools`` entry-point group.

        ``settings`` maps tool names to constructor keywords (checkpoint, device, ...);
        ``common`` keywords (e.g. ``cache_dir``) go to every tool.
        """
        reg = cls()
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

    def add_instance(self, tool: Tool) -> None:
        """Register an already constructed tool (tests, notebooks)."""
        self._classes[tool.name] = type(tool)
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
                self._instances[name] = cls(**self._settings.get(name, {}))
            return self._instances[name]

    def cards(self, names: list[str] | None = None) -> list[dict[str, Any]]:
        return [self.tool_class(n).card() for n in (names or self.names())]

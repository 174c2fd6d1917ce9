"""Which tools hold their weights, under an optional memory budget: LRU unload.

An embedded process with every tool registered must not hold every model at once. The
registry owns one :class:`Residency`; before a tool loads, it unloads the least recently used
loaded tools until the newcomer fits the budget (``runtime.memory_budget_gb`` in
``mmagent.yaml``; None = no budget). A tool's size is measured after it loads (the bytes of the
torch modules it holds, ``Tool.memory_bytes``), and until then estimated from
``resources.gpu_memory_gb``. On CUDA the size is the device memory the load allocated
(``torch.cuda.memory_allocated`` before and after; loads take turns), so it counts what the
weights really take there (dtype, buffers, workspaces kept). A tool in use is pinned
(``registry.using(name)``) and is never unloaded under a running task; if pinned tools alone
exceed the budget, the newcomer loads anyway and a warning says so (the budget is a target, not
a hard cap). A tool whose measured size alone exceeds the budget can never fit: it is unloaded
and refused with :class:`~mmagent.errors.ToolMemoryError` (``tool.over_budget``).

>>> from mmagent.toolkit._registry import ToolRegistry
>>> reg = ToolRegistry(memory_budget_gb=4.0)
>>> reg.residency.budget_bytes == 4 * GiB
True
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mmagent.toolkit._base import Tool, loaded_torch

__all__ = ["Residency", "GiB"]

logger = logging.getLogger(__name__)
GiB = 2**30
Emit = Callable[[Any], None]


@dataclass
class _Entry:
    tool: Tool
    pins: int = 0
    size: int | None = None  # measured bytes, once loaded
    last_used: int = 0
    loading: bool = False


class Residency:
    """LRU residency of tools under ``budget_gb`` (None: no budget, nothing is unloaded)."""

    def __init__(self, budget_gb: float | None = None) -> None:
        if budget_gb is not None and budget_gb <= 0:
            raise ValueError(f"got budget_gb={budget_gb}; expected a positive number or None")
        self.budget_bytes: int | None = None if budget_gb is None else int(budget_gb * GiB)
        self.unloads = 0
        """How many times a tool was unloaded to make room."""
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self._clock = itertools.count(1)
        self._listeners: list[Emit] = []

    # -- public ---------------------------------------------------------------------------------

    def add_listener(self, fn: Emit) -> None:
        """Call ``fn(ToolUnloaded(...))`` whenever a tool is unloaded to make room."""
        self._listeners.append(fn)

    def pin(self, tool: Tool) -> None:
        with self._lock:
            self._entry(tool).pins += 1

    def unpin(self, tool: Tool, emit: Emit | None = None) -> None:
        with self._lock:
            entry = self._entry(tool)
            entry.pins = max(0, entry.pins - 1)
            entry.last_used = next(self._clock)
            # a load that went over budget while others were pinned: catch up now
            self._evict(0, exclude=tool.name, for_tool=tool.name, emit=emit)

    def ensure_loaded(self, tool: Tool, emit: Emit | None = None) -> None:
        """Load ``tool``, first unloading least recently used idle tools to make room."""
        with self._lock:
            entry = self._entry(tool)
            entry.last_used = next(self._clock)
            if tool._loaded:
                return
            self._refuse_if_too_big(entry)
            if not entry.loading:  # another thread may be loading it: no second eviction
                self._evict(self._estimate(entry), exclude=tool.name, for_tool=tool.name,
                            emit=emit)
                entry.loading = True
        try:
            before = _device_allocated(tool)
            ran = tool._load_once()
            size = _measured(tool, before) if ran else None
        finally:
            with self._lock:
                entry.loading = False
        with self._lock:
            if ran:
                entry.size = size
                logger.info("tool %s loaded (%s)", tool.name, _gb(entry.size))
                if self.budget_bytes is not None and size is not None and \
                        size > self.budget_bytes:
                    tool.unload()
                    tool._loaded = False
                    self._refuse_if_too_big(entry)
                self._evict(0, exclude=tool.name, for_tool=tool.name, emit=emit)

    def resident_bytes(self) -> int:
        """Bytes held by loaded tools (measured, else estimated)."""
        with self._lock:
            return self._used()

    def snapshot(self) -> list[dict[str, Any]]:
        """One row per known tool: name, loaded, pins, bytes (measured or estimated)."""
        with self._lock:
            return [{"name": n, "loaded": e.tool._loaded, "pins": e.pins,
                     "bytes": self._estimate(e), "measured": e.size is not None}
                    for n, e in sorted(self._entries.items())]

    def forget(self, name: str) -> None:
        with self._lock:
            self._entries.pop(name, None)

    # -- internals ------------------------------------------------------------------------------

    def _entry(self, tool: Tool) -> _Entry:
        entry = self._entries.get(tool.name)
        if entry is None or entry.tool is not tool:
            entry = self._entries[tool.name] = _Entry(tool)
            if tool._loaded:
                entry.size = _measured(tool)
        return entry

    def _refuse_if_too_big(self, entry: _Entry) -> None:
        """A tool measured bigger than the whole budget can never fit: refuse it."""
        if self.budget_bytes is None or entry.size is None or entry.size <= self.budget_bytes:
            return
        from mmagent.errors import ToolMemoryError

        raise ToolMemoryError(
            f"got tool {entry.tool.name!r} holding {_gb(entry.size)} (measured after loading) "
            f"for runtime.memory_budget_gb={self.budget_bytes / GiB:g}; expected a tool that "
            "fits the budget on its own (raise the budget, or configure a smaller checkpoint "
            "or dtype for it)", tool=entry.tool.name, size_bytes=entry.size,
            budget_bytes=self.budget_bytes)

    def _estimate(self, entry: _Entry) -> int:
        if entry.size is not None:
            return entry.size
        return int(entry.tool.resources.gpu_memory_gb * GiB)

    def _used(self) -> int:
        return sum(self._estimate(e) for e in self._entries.values()
                   if e.tool._loaded or e.loading)

    def _evict(self, need: int, *, exclude: str, for_tool: str, emit: Emit | None) -> None:
        """Unload idle tools, least recently used first, until ``need`` more bytes fit."""
        if self.budget_bytes is None:
            return
        idle = sorted((e for n, e in self._entries.items()
                       if n != exclude and e.pins == 0 and not e.loading and e.tool._loaded),
                      key=lambda e: e.last_used)
        while self._used() + need > self.budget_bytes and idle:
            victim = idle.pop(0)
            freed = self._estimate(victim)
            # under the lock: nobody can pin the victim between this check and the unload
            victim.tool.unload()
            victim.tool._loaded = False  # an override that forgot super().unload()
            self.unloads += 1
            logger.info("tool %s unloaded (%s) to make room for %s under the %s memory budget",
                        victim.tool.name, _gb(freed), for_tool, _gb(self.budget_bytes))
            self._notify(victim.tool.name, freed, for_tool, emit)
        if need and self._used() + need > self.budget_bytes:
            busy = [n for n, e in self._entries.items() if e.tool._loaded and n != exclude]
            if busy:
                logger.warning("tool %s (~%s) loads over the %s memory budget: the tools still "
                               "loaded are in use (%s)", for_tool, _gb(need),
                               _gb(self.budget_bytes), ", ".join(busy))
            else:
                logger.warning("tool %s (~%s) loads over the %s memory budget on its own",
                               for_tool, _gb(need), _gb(self.budget_bytes))

    def _notify(self, name: str, freed: int, for_tool: str, emit: Emit | None) -> None:
        from mmagent.events import ToolUnloaded

        event = ToolUnloaded(tool=name, freed_bytes=freed, for_tool=for_tool,
                             budget_bytes=self.budget_bytes or 0)
        for fn in [*self._listeners, *([emit] if emit else [])]:
            try:
                fn(event)
            except Exception:  # a listener must not break loading
                logger.exception("ToolUnloaded listener failed")


def _measured(tool: Tool, device_before: int | None = None) -> int | None:
    """Device memory the load allocated (CUDA), else the bytes of the tool's modules."""
    if device_before is not None:
        after = _device_allocated(tool)
        if after is not None and after > device_before:
            return after - device_before
    try:
        return tool.memory_bytes()
    except Exception:  # an odd model object: fall back to the declared estimate
        logger.debug("could not measure tool %s", tool.name, exc_info=True)
        return None


def _device_allocated(tool: Tool) -> int | None:
    """Bytes the CUDA allocator holds on the tool's device; None off CUDA."""
    torch = loaded_torch()  # a process that never imported torch has no CUDA tools
    if torch is None or not torch.cuda.is_available():
        return None
    try:
        device = tool.device()
    except Exception:  # a tool with an unusable device setting fails in its own load
        return None
    if not device.startswith("cuda"):
        return None
    return torch.cuda.memory_allocated(device)


def _gb(n: int | None) -> str:
    return "size unknown" if n is None else f"{n / GiB:.3g} GB"

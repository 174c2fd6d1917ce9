"""What is registered: one JSON-able entry per tool, for ``mmagent tools --json`` and the docs.

>>> from mmagent.tool._registry import ToolRegistry
>>> from mmagent.tools.image_caption import ImageCaption
>>> reg = ToolRegistry()
>>> reg.register(ImageCaption, checkpoint="tiny")
>>> entry = tool_entries(reg)[0]
>>> (entry["kind"], entry["checkpoint"], entry["default_checkpoint"])
('model', 'tiny', 'Salesforce/blip-image-captioning-base')
"""

from __future__ import annotations

from typing import Any

from mmagent.tool._registry import ToolRegistry

__all__ = ["tool_entries"]


def tool_entries(registry: ToolRegistry) -> list[dict[str, Any]]:
    """Each tool's card (name, description, typed inputs and outputs) plus ``kind`` ("model"
    or "utility"), ``default_checkpoint``, the configured ``checkpoint``, ``device``, ``dtype``
    and ``resources`` (GPU fraction, CPUs, approximate GPU memory of the default checkpoint)."""
    entries = []
    for name in registry.names():
        cls = registry.tool_class(name)
        settings = registry.settings(name)
        entries.append({
            **cls.card(),
            "kind": cls.category,
            "default_checkpoint": cls.default_checkpoint,
            "checkpoint": settings.get("checkpoint") or cls.default_checkpoint,
            "device": settings.get("device", "auto"),
            "dtype": settings.get("dtype", "auto"),
            "resources": cls.resources.model_dump(),
        })
    return entries

"""What is registered: one JSON-able entry per tool (``mmagent tools --json``), and the Markdown
page ``docs/tools.md`` (written by ``python -m mmagent.toolkit.docs``).

>>> from mmagent.toolkit._registry import ToolRegistry
>>> from mmagent.tools.image_caption import ImageCaption
>>> reg = ToolRegistry()
>>> reg.register(ImageCaption, checkpoint="tiny")
>>> entry = tool_entries(reg)[0]
>>> (entry["kind"], entry["checkpoint"], entry["default_checkpoint"])
('model', 'tiny', 'Salesforce/blip-image-captioning-base')
>>> render_tools_md(reg).splitlines()[0]
'# Tools'
"""

from __future__ import annotations

from typing import Any

from mmagent.toolkit._registry import ToolRegistry

__all__ = ["tool_entries", "render_tools_md"]


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


_HEADER = """\
# Tools

<!-- Generated from the tool registry by `make docs` (python -m mmagent.toolkit.docs).
     Do not edit by hand: tests/toolkit/test_catalog.py fails when this file is out of date. -->

Every tool mmagent can schedule: the modules of `mmagent.tools` and the tools of the
`mmagent.tools` entry-point group. `mmagent tools --json` prints the same with the checkpoints
your configuration selects. A *model* tool loads weights (lazily, on first use; unloaded
least-recently-used first under `runtime.memory_budget_gb`); a *utility* joins media and loads
none. GPU memory is the approximate need of the default checkpoint in half precision. `?` marks
an optional input.
"""


def _cell(text: Any) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _ports(ports: dict[str, dict[str, Any]], with_optional_mark: bool) -> str:
    return ", ".join(f"{n}{'?' if with_optional_mark and not p['required'] else ''}: {p['type']}"
                     for n, p in ports.items())


_BOUNDS = (("minimum", ">= {}"), ("exclusiveMinimum", "> {}"), ("maximum", "<= {}"),
           ("exclusiveMaximum", "< {}"), ("minLength", ">= {} chars"),
           ("maxLength", "<= {} chars"), ("minItems", ">= {} items"), ("maxItems", "<= {} items"))


def _limits(prop: dict[str, Any]) -> str:
    """The declared bounds of one input property (its JSON schema, optional types unwrapped)."""
    for option in prop.get("anyOf", []):
        if option.get("type") != "null":
            prop = {**option, **prop}
    return ", ".join(fmt.format(prop[key]) for key, fmt in _BOUNDS if key in prop)


def _checkpoint(cls: Any, none: str) -> str:
    return f"`{cls.default_checkpoint}`" if cls.default_checkpoint else none


def _section(cls: Any) -> list[str]:
    """One tool's heading, description, resources and a row per port."""
    card = cls.card()
    res = cls.resources
    lines = ["", f"## {cls.name}", "", _cell(card["description"]), "",
             f"Kind: {cls.category}. Default checkpoint: {_checkpoint(cls, 'none')}. "
             f"Resources per replica: {res.num_gpus:g} GPU, {res.num_cpus:g} CPU, "
             f"~{res.gpu_memory_gb:g} GB GPU memory.", "",
             "| port | name | type | limits | description |", "|---|---|---|---|---|"]
    schema = cls.Input.model_json_schema().get("properties", {})
    for side in ("inputs", "outputs"):
        for name, p in card[side].items():
            note = ""
            if side == "inputs" and not p["required"]:
                note = f" (optional; default {p['default']!r})" if "default" in p else \
                    " (optional)"
            limits = _limits(schema.get(name, {})) if side == "inputs" else ""
            lines.append(f"| {side[:-1]} | `{name}` | {p['type']} | {limits or '-'} | "
                         f"{_cell(p['description'])}{_cell(note) and ' ' + _cell(note)} |")
    return lines


def render_tools_md(registry: ToolRegistry) -> str:
    """The Markdown page: one table row per tool, then a section per tool with its ports."""
    lines = [_HEADER, "| tool | kind | inputs | outputs | default checkpoint | GPU memory |",
             "|---|---|---|---|---|---|"]
    classes = [registry.tool_class(n) for n in registry.names()]
    for cls in classes:
        card = cls.card()
        gb = cls.resources.gpu_memory_gb
        lines.append(f"| [`{cls.name}`](#{cls.name}) | {cls.category} | "
                     f"{_cell(_ports(card['inputs'], True))} | "
                     f"{_cell(_ports(card['outputs'], False))} | "
                     f"{_checkpoint(cls, '-')} | {f'~{gb:g} GB' if gb else '-'} |")
    for cls in classes:
        lines += _section(cls)
    return "\n".join(lines) + "\n"
